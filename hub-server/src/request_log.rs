//! Every HTTP request but the WebSocket upgrades (which the session's span
//! covers) runs in a `request` span carrying its trace id (`x-trace-id`,
//! or a W3C `traceparent`'s, else a new one), method and path, so whatever
//! its handler logs says which request it was, and the client's IP (behind
//! `trusted_proxies`, the one they name); the answer echoes the id in
//! `x-trace-id`. A request answered with an error is logged at `info`
//! (5xx at `warn`); others at `debug`: an API publish is one message, and
//! messages are not logged one by one at `info`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn trace_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let trace_id = hub_core::trace_id(req.headers());
    let span = tracing::info_span!(
        "request",
        trace_id = %trace_id,
        method = %req.method(),
        path = %req.path(),
        client = tracing::field::Empty,
    );
    let hub = req.app_data::<actix_web::web::Data<hub_core::Hub>>();
    if let Some(client) = hub.and_then(|hub| hub.client_addr(req.peer_addr(), req.head())) {
        span.record("client", tracing::field::display(client.ip()));
    }
    let started = Instant::now();
    let mut answer = next.call(req).instrument(span.clone()).await?;
    let status = answer.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| match status {
        500.. => tracing::warn!(status, ms, "request failed"),
        400.. => tracing::info!(status, ms, "request refused"),
        _ => tracing::debug!(status, ms, "request served"),
    });
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        answer
            .headers_mut()
            .insert(HeaderName::from_static("x-trace-id"), value);
    }
    Ok(answer)
}
