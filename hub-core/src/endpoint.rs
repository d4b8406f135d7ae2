//! The actix-web handler that upgrades a request to a WebSocket session.
//! Mount it on any path of any actix-web app that has the [`Hub`] as app data:
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use hub_core::{ws_endpoint, Config, Hub};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let hub = Hub::start(Config::default()).expect("valid config");
//!     HttpServer::new(move || {
//!         App::new()
//!             .app_data(web::Data::new(hub.clone()))
//!             .route("/ws", web::get().to(ws_endpoint))
//!     })
//!     .tcp_nodelay(true) // small real-time frames must not wait for Nagle
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! }
//! ```

use actix_web::body::BodyStream;
use actix_web::http::{header::HeaderMap, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::hub::Hub;
use crate::protocol::ErrorCode;
use crate::session::{ConnectionGuard, Inbound, Session};

/// Upgrades to a WebSocket and starts a session. Answers HTTP 503 while the
/// hub drains or when `max_connections` are open.
///
/// A request that is not a valid WebSocket upgrade gets HTTP 400 (405, 426)
/// with a JSON body (`bad_handshake`).
///
/// # Errors
/// actix-ws could not take over the request's payload.
pub async fn ws_endpoint(
    req: HttpRequest,
    body: web::Payload,
    hub: web::Data<Hub>,
) -> Result<HttpResponse, actix_web::Error> {
    let inner = &hub.inner;
    if hub.is_draining() {
        return Ok(refuse(
            ErrorCode::ShuttingDown,
            "the server is shutting down",
        ));
    }
    // A request that is not a WebSocket upgrade is answered before it can
    // take a connection slot or count as a connection.
    if let Err(e) = actix_http::ws::verify_handshake(req.head()) {
        return Ok(handshake_refusal(e));
    }
    // A request that is not a WebSocket upgrade is answered before it can
    // take a connection slot or count as a connection.
    if let Err(e) = actix_http::ws::verify_handshake(req.head()) {
        return Ok(handshake_refusal(e));
    }
    let Some(connection) = ConnectionGuard::acquire(&inner.metrics, inner.config.max_connections)
    else {
        return Ok(refuse(
            ErrorCode::ConnectionLimitReached,
            "max_connections reached",
        ));
    };
    // actix-ws does the handshake and reads (frame decoding, the size check
    // from the frame header, continuation aggregation). Writing goes through
    // the session's own body instead of actix-ws's second channel: one queue
    // between a topic and the socket.
    let (response, _unused_writer, stream) = actix_ws::handle(&req, body)?;
    let (response, actix_ws_body) = response.into_parts();
    let max = inner.config.max_message_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max)
        .map(Inbound::from);
    let outbound = Session::launch(
        inner.clone(),
        Some(actix_ws_body),
        stream,
        trace_id(req.headers()),
        req.peer_addr(),
        connection,
    );
    Ok(response
        .set_body(BodyStream::new(outbound))
        .map_into_boxed_body())
}

/// The caller's trace id (`x-trace-id`, or the trace-id of a W3C
/// `traceparent`), else a new one.
pub(crate) fn trace_id(headers: &HeaderMap) -> String {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(id) = header("x-trace-id").filter(|v| !v.is_empty() && v.len() <= 64) {
        return id.to_owned();
    }
    if let Some(id) = header("traceparent")
        .and_then(|v| v.split('-').nth(1))
        .filter(|v| v.len() == 32)
    {
        return id.to_owned();
    }
    uuid::Uuid::new_v4().simple().to_string()
}

fn refuse(code: ErrorCode, message: &str) -> HttpResponse {
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        code.as_str(),
        message,
        code.hint(),
    )
}

/// The answer to a broken WebSocket handshake: actix-http's status and
/// headers (405 with `Allow`, 426 with the supported version, else 400) with
/// the JSON body every refusal has.
pub(crate) fn handshake_refusal(error: actix_http::ws::HandshakeError) -> HttpResponse {
    let message = error.to_string();
    let plain: actix_http::Response<actix_web::body::BoxBody> = error.into();
    let mut answer = HttpResponse::build(plain.status());
    for (name, value) in plain.headers() {
        answer.insert_header((name.clone(), value.clone()));
    }
    answer.json(serde_json::json!({
        "code": "bad_handshake",
        "message": message,
        "hint": "open a WebSocket: GET with Connection: Upgrade, Upgrade: websocket, \
                 Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key",
    }))
}

/// An HTTP answer to a refused upgrade, with the same fields as an error frame.
pub(crate) fn refusal(status: StatusCode, code: &str, message: &str, hint: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "code": code,
        "message": message,
        "hint": hint,
    }))
}
