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

use actix_web::body::{BodyStream, BoxBody};
use actix_web::web::BytesMut;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::TryStreamExt;
use tokio_util::io::StreamReader;

use crate::hub::Hub;
use crate::session::Session;
use crate::transport::admission::admit;
use crate::transport::SocketReader;

/// Upgrades to a WebSocket and starts a session. Answers HTTP 503 while the
/// hub drains or when `max_connections` are open.
///
/// A request that is not a valid WebSocket upgrade gets HTTP 400 (405, 426)
/// with a JSON body (`bad_handshake`).
///
/// # Errors
/// None today; the `Result` is what actix-web handlers return.
pub async fn ws_endpoint(
    req: HttpRequest,
    body: web::Payload,
    hub: web::Data<Hub>,
) -> Result<HttpResponse, actix_web::Error> {
    let node = &hub.node;
    let admission = match admit(node, req.head(), req.peer_addr()) {
        Ok(admission) => admission,
        Err(refusal) => return Ok(*refusal),
    };
    // The request body is the client's side of the WebSocket: the hub's own
    // socket reader parses it (frame header checks before the payload is
    // buffered, continuations joined under max_message_bytes), as on the
    // hub's own transport. The response body is the session's outbound queue.
    let stream = StreamReader::new(body.map_err(std::io::Error::other));
    let reader = SocketReader::new(stream, BytesMut::new(), node.config.max_message_bytes);
    let switch = reader.switch();
    let outbound = Session::launch(
        node.clone(),
        reader,
        switch,
        admission.trace_id,
        admission.client,
        admission.connection,
        admission.forwarded,
    );
    let response = actix_http::ws::handshake_response(req.head())
        .message_body(BoxBody::new(BodyStream::new(outbound)))?;
    Ok(HttpResponse::from(response))
}
