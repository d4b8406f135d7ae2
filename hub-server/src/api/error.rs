//! [`ApiError`]: every refusal of the server API, as JSON
//! `{code, message, hint}` with the code from the one codes table
//! (docs/PROTOCOL.md) and the HTTP status that goes with it.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use hub_core::protocol::ErrorCode;
use hub_core::HubError;
use serde::Serialize;

use super::keys::Scope;

/// A refused API request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// The error code (docs/PROTOCOL.md, "Error codes").
    #[schema(value_type = String, example = "forbidden")]
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    #[schema(value_type = String)]
    pub hint: Cow<'static, str>,
    /// With `rate_limited`: when the next request will be accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    /// An error with `code`'s own hint.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: code.hint().into(),
            retry_after_ms: None,
        }
    }

    /// The same error with another hint.
    pub fn hint(mut self, hint: impl Into<Cow<'static, str>>) -> Self {
        self.hint = hint.into();
        self
    }

    /// 403: the key lacks `scope`.
    pub fn forbidden_scope(key: &str, scope: Scope) -> Self {
        Self::new(
            ErrorCode::Forbidden,
            format!("API key `{key}` lacks scope `{}`", scope.as_str()),
        )
        .hint(format!(
            "missing scope `{}`: add it to the key's scopes in api_keys",
            scope.as_str()
        ))
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_ms: u64) -> Self {
        Self {
            retry_after_ms: Some(retry_after_ms),
            ..Self::new(
                ErrorCode::RateLimited,
                "this API key is over api_rate_per_sec",
            )
        }
    }

    /// 400 naming a bad field.
    pub fn invalid_field(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, message)
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        Self::new(e.code(), e.to_string()).hint(e.hint())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The HTTP status of an API error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::MessageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited | ErrorCode::RevocationsFull => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::IdempotencyConflict | ErrorCode::ReloadRefused => StatusCode::CONFLICT,
        ErrorCode::NotFound | ErrorCode::RecipientNotFound => StatusCode::NOT_FOUND,
        ErrorCode::ShuttingDown | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(ms) = self.retry_after_ms {
            response.insert_header((header::RETRY_AFTER, ms.div_ceil(1000).max(1).to_string()));
        }
        if self.code == ErrorCode::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(self)
    }
}
