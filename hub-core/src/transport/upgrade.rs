//! The actix-http upgrade service: takes a WebSocket upgrade request and its
//! connection from the HTTP/1 dispatcher and runs the session on the bare socket.

use std::rc::Rc;

use actix_codec::Framed;
use actix_http::body::BodySize;
use actix_http::{h1, ws, ConnectionType, Request, Response, StatusCode};
use actix_service::{fn_service, ServiceFactory};
use actix_web::web::BytesMut;
use futures_util::SinkExt;

use super::{Socket, SocketReader, SocketWriter};
use crate::hub::Hub;
use crate::protocol::ErrorCode;
use crate::session::Session;
use crate::transport::admission::{admit, refusal};

/// The upgrade service for actix-http's `HttpService::build().upgrade(..)`
/// (or `H1Service::upgrade`): every request carrying `Connection: upgrade`
/// comes here with its connection instead of going to the app.
///
/// A WebSocket upgrade on `ws_path` becomes a session. Anything else is
/// answered and the connection closed: another path gets 404, a broken
/// handshake gets 400 (405 for another method, 426 for a wrong version), and the hub
/// answers 503 while it drains or when `max_connections` are open.
///
/// After the 101 the dispatcher and its 16 KiB of HTTP buffers are released:
/// the session's actor reads the socket and a small task of its own writes it,
/// neither keeping a buffer while idle. The connection then counts against
/// the hub's `max_connections`, no longer against the HTTP server's own
/// per-worker connection limit.
///
/// It serves any [`Socket`]: plain TCP, or with feature `tls` a rustls
/// `TlsStream<TcpStream>` (hub-server terminates TLS this way).
///
/// ```no_run
/// use actix_http::HttpService;
/// use actix_server::Server;
/// use actix_service::map_config;
/// use actix_web::{dev::AppConfig, web, App};
/// use hub_core::{transport, Config, Hub};
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let hub = Hub::start(Config::default()).expect("valid config");
///     Server::build()
///         .bind("hub", ("127.0.0.1", 8080), move || {
///             let app = App::new()
///                 .app_data(web::Data::new(hub.clone()))
///                 .route("/health", web::get().to(|| async { "ok" }));
///             HttpService::build()
///                 .upgrade(transport::upgrade_service(hub.clone(), "/ws"))
///                 .h1(map_config(app, |_| AppConfig::default()))
///                 .tcp()
///         })?
///         .run()
///         .await
/// }
/// ```
pub fn upgrade_service<S: Socket>(
    hub: Hub,
    ws_path: &str,
) -> impl ServiceFactory<
    (Request, Framed<S, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_http::Error,
    InitError = (),
> + Clone {
    let ws_path: Rc<str> = ws_path.into();
    fn_service(move |(req, framed): (Request, Framed<S, h1::Codec>)| {
        let hub = hub.clone();
        let ws_path = ws_path.clone();
        async move {
            // The connection is lost, or it broke off mid-handshake: nothing
            // to answer, and nobody else's business.
            if let Err(e) = upgrade(&hub, &ws_path, req, framed).await {
                tracing::debug!(error = %e, "WebSocket upgrade ended early");
            }
            Ok(())
        }
    })
}

async fn upgrade<S: Socket>(
    hub: &Hub,
    ws_path: &str,
    req: Request,
    mut framed: Framed<S, h1::Codec>,
) -> std::io::Result<()> {
    let node = &hub.node;
    if req.path() != ws_path {
        let response = refusal(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "there is no WebSocket endpoint at this path",
            &format!("connect to {ws_path}"),
        );
        return respond(&mut framed, response.into()).await;
    }
    let peer = framed.io_ref().peer_addr();
    let admission = match admit(node, req.head(), peer) {
        Ok(admission) => admission,
        Err(refused) => return respond(&mut framed, (*refused).into()).await,
    };
    let head = ws::handshake_response(req.head()).finish().drop_body();
    framed.send((head, BodySize::None).into()).await?;
    // The request's header values are slices of the dispatcher's 8 KiB read
    // buffer (and its header map is ~6 KiB): keeping it would keep both for
    // the connection's whole life.
    drop(req);

    let parts = framed.into_parts();
    // Frames the client sent right behind its request are already in the
    // dispatcher's buffer: keep them, but not the 8 KiB buffer around them.
    let leftover = if parts.read_buf.is_empty() {
        BytesMut::new()
    } else {
        BytesMut::from(&parts.read_buf[..])
    };
    drop(parts.read_buf);
    drop(parts.write_buf);
    // Real-time traffic is many small frames: without this, Nagle's algorithm
    // holds them back for up to a delayed-ACK period (~40 ms on Linux).
    parts.io.tcp().set_nodelay(true)?;
    let (read, write) = parts.io.split();
    let reader = SocketReader::new(read, leftover, node.config.max_message_bytes);
    let switch = reader.switch();
    let body = Session::launch(
        node.clone(),
        reader,
        switch,
        admission.trace_id,
        admission.client,
        admission.connection,
        admission.forwarded,
    );
    // The writer gets a small task of its own, and this future ends: the
    // HTTP/1 dispatcher's task (its state machine is ~3 KiB) is freed instead
    // of idling alongside the socket for the connection's whole life.
    actix_rt::spawn(async move {
        if let Err(e) = SocketWriter::new(body, write).await {
            tracing::debug!(error = %e, "socket write failed");
        }
    });
    Ok(())
}

/// Writes a whole response in one write (clients that read only what
/// arrived with the head still see the body), then lets the connection close.
async fn respond<S: Socket>(
    framed: &mut Framed<S, h1::Codec>,
    response: Response<actix_http::body::BoxBody>,
) -> std::io::Result<()> {
    let (mut head, body) = response.into_parts();
    // Nothing more is read from this connection: say so.
    head.head_mut().set_connection_type(ConnectionType::Close);
    let body = actix_http::body::to_bytes(body).await.unwrap_or_default();
    let size = BodySize::Sized(body.len() as u64);
    framed.feed((head, size).into()).await?;
    if !body.is_empty() {
        framed.feed(h1::Message::Chunk(Some(body))).await?;
    }
    framed.feed(h1::Message::Chunk(None)).await?;
    framed.flush().await
}
