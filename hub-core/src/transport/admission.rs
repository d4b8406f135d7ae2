//! Admission: whether a WebSocket upgrade may become a session. Both
//! transports (`transport::upgrade_service` and `ws_endpoint`) ask here, so
//! a connection is refused for the same reasons, in the same order, with the
//! same answer either way:
//!
//! 1. the hub is draining → HTTP 503 `shutting_down`;
//! 2. the request is not a valid WebSocket upgrade → `bad_handshake`
//!    (400, 405 or 426, with actix-http's headers);
//! 3. a browser's `Origin` is not in `allowed_origins` → HTTP 403
//!    `origin_not_allowed`;
//! 4. the client IP (behind `trusted_proxies`, the one they name) opens
//!    connections too fast (`connection_rate_per_ip`) or holds too many
//!    (`max_connections_per_ip`) → HTTP 429 `too_many_connections` with
//!    `Retry-After`;
//! 5. `max_connections` are open → HTTP 503 `connection_limit_reached`.
//!
//! A refusal never takes a connection slot; an admission holds one until
//! the connection's socket is gone.

use std::net::SocketAddr;

use actix_http::ws::HandshakeError;
use actix_http::{RequestHead, StatusCode};
use actix_web::http::header::{HeaderMap, HeaderValue, ORIGIN, RETRY_AFTER};
use actix_web::HttpResponse;
use serde::Serialize;

use crate::limits::per_ip::IpRefusal;
use crate::node::Node;
use crate::outbox::ConnectionGuard;
use crate::protocol::ErrorCode;

/// An admitted connection: its slot, the trace id its logs carry, and
/// the client's address (see `client_ip`).
#[derive(Debug)]
pub(crate) struct Admission {
    pub(crate) connection: ConnectionGuard,
    pub(crate) trace_id: String,
    pub(crate) client: Option<SocketAddr>,
    /// The request's headers named in `forward_headers`, for the
    /// authenticator (a connect proxy): empty unless configured.
    pub(crate) forwarded: Vec<(String, String)>,
}

/// Decides whether the upgrade request `head` from `peer` may become a
/// session. Without a peer address (not a TCP connection) the per-IP caps
/// do not apply; from a trusted proxy, they apply to the client it names.
///
/// # Errors
/// The HTTP answer for a refused upgrade (see the module docs); boxed, as a
/// response is large and refusals are rare.
pub(crate) fn admit(
    node: &Node,
    head: &RequestHead,
    peer: Option<SocketAddr>,
) -> Result<Admission, Box<HttpResponse>> {
    refuse_while_draining(node)?;
    actix_http::ws::verify_handshake(head).map_err(|e| Box::new(handshake_refusal(e)))?;
    admit_stream(node, head, peer)
}

/// 503 `shutting_down` once the hub drains: checked first, before the
/// request's shape, so a draining node sends everyone elsewhere.
fn refuse_while_draining(node: &Node) -> Result<(), Box<HttpResponse>> {
    if !node.is_draining() {
        return Ok(());
    }
    Err(Box::new(refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ShuttingDown,
        "the server is shutting down",
        ErrorCode::ShuttingDown.hint(),
    )))
}

/// The admission of any long-lived client connection (a WebSocket after
/// its handshake is checked, an event stream): draining, origin, per-IP
/// caps, `max_connections`.
pub(crate) fn admit_stream(
    node: &Node,
    head: &RequestHead,
    peer: Option<SocketAddr>,
) -> Result<Admission, Box<HttpResponse>> {
    refuse_while_draining(node)?;
    if !origin_allowed(&node.config.allowed_origins, &head.headers) {
        let code = ErrorCode::OriginNotAllowed;
        let message = "this origin may not open a WebSocket here";
        return Err(Box::new(refusal(
            StatusCode::FORBIDDEN,
            code,
            message,
            code.hint(),
        )));
    }
    let client = node.trusted_proxies.client_of(peer, &head.headers);
    let ip_slot = match client.map(|c| node.per_ip.admit(c.ip())) {
        None => None,
        Some(Ok(slot)) => Some(slot),
        Some(Err(refusal)) => return Err(Box::new(ip_refusal(refusal))),
    };
    let Some(connection) = ConnectionGuard::acquire(&node.metrics, node.config.max_connections)
    else {
        return Err(Box::new(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ConnectionLimitReached,
            "max_connections reached",
            ErrorCode::ConnectionLimitReached.hint(),
        )));
    };
    Ok(Admission {
        connection: connection.with_ip(ip_slot),
        trace_id: trace_id(&head.headers),
        client,
        forwarded: forwarded(&node.config.forward_headers, &head.headers),
    })
}

/// Whether the request's `Origin` may connect: no list, no `Origin` (not a
/// browser), or an origin on the list.
pub(crate) fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or_default();
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

/// The request's trace id: `x-trace-id` (at most 64 bytes), else the
/// trace id of a W3C `traceparent`, else a new one. Every log line of the
/// session (or request) it starts carries it.
pub fn trace_id(headers: &HeaderMap) -> String {
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

/// The answer to a broken WebSocket handshake: actix-http's status and
/// headers (405 with `Allow`, 426 with the supported version, else 400) with
/// the JSON body every refusal has.
fn handshake_refusal(error: HandshakeError) -> HttpResponse {
    let message = error.to_string();
    let plain: actix_http::Response<actix_web::body::BoxBody> = error.into();
    let mut answer = refusal(
        plain.status(),
        ErrorCode::BadHandshake,
        &message,
        ErrorCode::BadHandshake.hint(),
    );
    for (name, value) in plain.headers() {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
}

/// HTTP 429 for a client IP over its caps, with `Retry-After` in seconds.
fn ip_refusal(why: IpRefusal) -> HttpResponse {
    let (message, retry_after_s) = match why {
        IpRefusal::TooFast(wait) => (
            "this address opens connections faster than connection_rate_per_ip",
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        ),
        IpRefusal::TooMany => ("this address holds max_connections_per_ip connections", 1),
    };
    let code = ErrorCode::TooManyConnections;
    let mut answer = refusal(StatusCode::TOO_MANY_REQUESTS, code, message, code.hint());
    answer
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_s.max(1)));
    answer
}

/// The JSON body of every refused upgrade: the same fields as an error frame.
#[derive(Serialize)]
struct Refusal<'a> {
    code: ErrorCode,
    message: &'a str,
    hint: &'a str,
}

/// An HTTP answer to a refused upgrade.
pub(crate) fn refusal(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    hint: &str,
) -> HttpResponse {
    HttpResponse::build(status).json(Refusal {
        code,
        message,
        hint,
    })
}

/// The values of the headers named in `names` (lower case), in order; a
/// header sent twice is forwarded twice. Non-UTF-8 values are left out.
fn forwarded(names: &[String], headers: &actix_http::header::HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in names {
        for value in headers.get_all(name.as_str()) {
            if let Ok(value) = value.to_str() {
                out.push((name.clone(), value.to_owned()));
            }
        }
    }
    out
}
