//! The API's readers of a request: [`Body`] (a JSON body) and [`Params`]
//! (a query string). Both name the field a refusal is about — `topic`,
//! `requests[2].to` — where actix's own `Json` and `Query` pass serde's
//! words on (`invalid type: integer 5, expected a string at line 1 column
//! 11`), and both tell a missing field (`missing_field`) from a wrong one
//! (`invalid_field`) the same way.

use std::fmt::Display;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use hub_core::protocol::ErrorCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Where a body's schema is written down.
const SCHEMA_HINT: &str = "see /api/openapi.json for this route's fields";

/// A JSON request body of type `T`, at most `api_max_body_bytes` long (the
/// `PayloadConfig` the API mounts).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Deref for Body<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorCode::MessageTooLarge,
                        "the request body is over api_max_body_bytes",
                    )
                    .hint("send a smaller body, or split a batch")
                } else {
                    ApiError::new(
                        ErrorCode::BadJson,
                        format!("the body could not be read: {e}"),
                    )
                    .hint("send one JSON object as the body")
                }
            })?;
            let not_json = |e: &serde_json::Error| {
                ApiError::new(ErrorCode::BadJson, format!("the body is not JSON: {e}"))
                    .hint("send one JSON object as the body")
            };
            let mut json = serde_json::Deserializer::from_slice(&bytes);
            let value = serde_path_to_error::deserialize(&mut json).map_err(|e| {
                if e.inner().is_data() {
                    refusal(e.path(), e.inner())
                } else {
                    not_json(e.inner())
                }
            })?;
            json.end().map_err(|e| not_json(&e))?;
            Ok(Body(value))
        })
    }
}

/// A request's query string read as `T`.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T> Deref for Params<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let query = serde_urlencoded::Deserializer::new(pairs);
        ready(
            serde_path_to_error::deserialize(query)
                .map(Params)
                .map_err(|e| refusal(e.path(), e.inner())),
        )
    }
}

/// `missing_field` or `invalid_field`, the message naming the field.
fn refusal(path: &serde_path_to_error::Path, error: &impl Display) -> ApiError {
    let text = error.to_string();
    // serde_json ends its messages with where it stopped; the field says more.
    let text = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let place = path.to_string();
    if let Some(field) = text.strip_prefix("missing field ") {
        let field = if place == "." {
            field.to_string()
        } else {
            format!("`{place}.{}", field.trim_start_matches('`'))
        };
        return ApiError::new(ErrorCode::MissingField, format!("missing field {field}"))
            .hint(SCHEMA_HINT);
    }
    let message = if place == "." {
        text.to_string()
    } else {
        format!("field `{place}`: {text}")
    };
    ApiError::new(ErrorCode::InvalidField, message).hint(SCHEMA_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        to: String,
        n: Option<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        topic: String,
        items: Vec<Item>,
    }

    fn read(text: &str) -> ApiError {
        let mut json = serde_json::Deserializer::from_str(text);
        let e = serde_path_to_error::deserialize::<_, Outer>(&mut json).unwrap_err();
        refusal(e.path(), e.inner())
    }

    #[test]
    fn a_refusal_names_the_field_and_its_kind() {
        let e = read(r#"{"topic": 5, "items": []}"#);
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert!(e.message.starts_with("field `topic`: invalid type"), "{e}");
        assert!(!e.message.contains("line 1"), "{e}");

        let e = read(r#"{"topic": "t", "items": [{"to": "a"}, {"to": 1}]}"#);
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert!(e.message.starts_with("field `items[1].to`"), "{e}");

        let e = read(r#"{"items": []}"#);
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::MissingField, "missing field `topic`")
        );

        let e = read(r#"{"topic": "t", "items": [{"n": 1}]}"#);
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::MissingField, "missing field `items[0].to`")
        );

        let e = read(r#"{"topic": "t", "items": [{"to": "a", "form": 1}]}"#);
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert!(e.message.contains("`form`"), "{e}");
    }
}
