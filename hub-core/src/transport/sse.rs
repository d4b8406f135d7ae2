//! The Server-Sent Events transport, for receive-heavy clients behind
//! networks that break WebSocket: the session's frames come as an
//! `EventSource` stream (`GET`, [`sse_endpoint`]), the client's frames go
//! as `POST`s to the stream's command URL ([`sse_command_endpoint`]). Both
//! ends feed the same session actor as a WebSocket does, so auth, rate
//! limits, error and close codes, heartbeats and queues are the same.
//!
//! ```text
//! GET /sse?address=alice&token=...&subscribe=news&subscribe=feed:x[&ack=1]
//!   (Last-Event-ID: positions, on a reconnect)
//!   → 200 text/event-stream
//!     retry: 1000
//!     event: hub:session   data: {"session": KEY, "commands": "/sse/KEY"}
//!     data: {"type":"hub:connected",...}
//!     id: feed%3Ax=EPOCH%3A7      data: {"type":"hub:message","topic":"feed:x","offset":7,...}
//!     : keepalive                  (every heartbeat_interval_ms of silence)
//!     event: hub:close             data: {"code":4000,"reason":"server_shutdown"}
//!   → 4xx/5xx {"code","message","hint"} when the connect is refused
//! POST /sse/KEY   one client frame per line   → 202 {"accepted": n}
//! ```
//!
//! The connect is made by the server from the query (and `Authorization:
//! Bearer` for clients that can set headers); the subscriptions named in
//! the query are made after it, each from the position `Last-Event-ID`
//! gives for it (see `outbox::events`), so an `EventSource` that reconnects
//! by itself recovers what it missed in namespaces with history. The client
//! must still show it is alive within `heartbeat_timeout_ms`: a `hub:ping`
//! (or any frame) POSTed counts.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::hub::Hub;
use crate::node::EventStreams;
use crate::outbox::events::{parse_event_id, EventFraming};
use crate::outbox::OutboundBody;
use crate::protocol::ErrorCode;
use crate::session::{Inbound, ReadSwitch, Session};
use crate::transport::admission::{admit_stream, origin_allowed, refusal};

/// What the stream's URL asks for.
#[derive(Debug, Default)]
struct Query {
    address: Option<String>,
    token: Option<String>,
    subscribe: Vec<String>,
    ack: bool,
}

impl Query {
    fn parse(query: &str) -> Self {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let mut out = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "address" => out.address = Some(value),
                "token" => out.token = Some(value),
                "subscribe" => out.subscribe.push(value),
                "ack" => out.ack = matches!(value.as_str(), "1" | "true"),
                _ => {}
            }
        }
        out
    }
}

/// `GET`: opens an event stream and a session behind it (see the module
/// docs). Mount it beside [`sse_command_endpoint`] at `<path>/{key}`.
pub async fn sse_endpoint(req: HttpRequest, hub: web::Data<Hub>) -> HttpResponse {
    let node = &hub.node;
    let admission = match admit_stream(node, req.head(), req.peer_addr()) {
        Ok(admission) => admission,
        Err(refused) => return cors(&req, &hub, *refused),
    };
    let query = Query::parse(req.query_string());
    let Some(address) = query.address.clone() else {
        let code = ErrorCode::MissingField;
        let answer = refusal(
            StatusCode::BAD_REQUEST,
            code,
            "`address` is missing from the query",
            "open /sse?address=YOUR_ADDRESS",
        );
        return cors(&req, &hub, answer);
    };
    let token = query.token.clone().or_else(|| bearer(&req));
    let positions = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(parse_event_id)
        .unwrap_or_default();

    let (tx, rx) = mpsc::channel(node.config.sse_inbound_frames);
    let switch = ReadSwitch::default();
    let inbound = switched(rx, switch.clone());
    let body = Session::launch(
        node.clone(),
        inbound,
        switch,
        admission.trace_id,
        admission.client,
        admission.connection,
        admission.forwarded,
    )
    .framed_as_events(EventFraming::resuming(&positions));
    let mut connect = json!({"type": "hub:connect", "id": "sse", "address": address});
    if let Some(token) = token {
        connect["token"] = json!(token);
    }
    if query.ack {
        connect["features"] = json!(["ack"]);
    }
    let _ = tx.try_send(ByteString::from(connect.to_string()));

    let mut body = body;
    let wait = node.config.connect_timeout();
    let first = match tokio::time::timeout(wait, body.next()).await {
        Ok(Some(Ok(chunk))) => chunk,
        _ => {
            let code = ErrorCode::Internal;
            let answer = refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                "the session did not answer the connect",
                code.hint(),
            );
            return cors(&req, &hub, answer);
        }
    };
    if let Some(refused) = connect_refusal(&first) {
        return cors(&req, &hub, refused);
    }

    let key = uuid::Uuid::new_v4().simple().to_string();
    node.sse.insert(key.clone(), tx.clone());
    for topic in &query.subscribe {
        let mut subscribe =
            json!({"type": "hub:subscribe", "id": format!("sse:{topic}"), "topic": topic});
        if let Some((_, epoch, offset)) = positions.iter().find(|(t, _, _)| t == topic) {
            subscribe["since"] = json!({"epoch": epoch, "offset": offset});
        }
        let _ = tx.try_send(ByteString::from(subscribe.to_string()));
    }
    let commands = format!("{}/{key}", req.path().trim_end_matches('/'));
    let preamble = format!(
        "retry: 1000\nevent: hub:session\ndata: {}\n\n",
        json!({"session": key, "commands": commands})
    );
    let stream = EventStream {
        head: Some(Bytes::from(preamble)),
        first: Some(first),
        body,
        tick: tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_millis(node.config.heartbeat_interval_ms),
            Duration::from_millis(node.config.heartbeat_interval_ms),
        ),
        key: Some((key, node.sse.clone())),
    };
    let answer = HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Proxies that buffer responses (nginx) must pass events at once.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream);
    cors(&req, &hub, answer)
}

/// `POST <path>/{key}`: the client's frames, one JSON object per line, to
/// the session of the stream `key` names. 202 `{"accepted": n}`: taken in
/// order (answers come on the stream); 404 when no stream has that key
/// (it ended); 413 for a body over `sse_post_max_bytes` or a frame over
/// `max_message_bytes`; 429 when the session has `sse_inbound_frames`
/// frames waiting.
pub async fn sse_command_endpoint(
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
    hub: web::Data<Hub>,
) -> HttpResponse {
    let node = &hub.node;
    let body = match read_body(payload, node.config.sse_post_max_bytes).await {
        Ok(body) => body,
        Err(answer) => return cors(&req, &hub, *answer),
    };
    let Some(tx) = node.sse.get(key.as_str()).map(|e| e.value().clone()) else {
        let code = ErrorCode::NotFound;
        let answer = refusal(
            StatusCode::NOT_FOUND,
            code,
            "no event stream has this session key (it ended)",
            "open the event stream again and use the commands URL it sends",
        );
        return cors(&req, &hub, answer);
    };
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect();
    let max = node.config.max_message_bytes;
    if lines.iter().any(|l| l.len() > max) {
        let code = ErrorCode::MessageTooLarge;
        let message = format!("a frame is over max_message_bytes ({max} bytes)");
        return cors(
            &req,
            &hub,
            refusal(StatusCode::PAYLOAD_TOO_LARGE, code, &message, code.hint()),
        );
    }
    let mut frames = Vec::with_capacity(lines.len());
    for line in lines {
        match ByteString::try_from(body.slice_ref(line)) {
            Ok(text) => frames.push(text),
            Err(_) => {
                let code = ErrorCode::BadJson;
                return cors(
                    &req,
                    &hub,
                    refusal(
                        StatusCode::BAD_REQUEST,
                        code,
                        "a frame is not UTF-8",
                        code.hint(),
                    ),
                );
            }
        }
    }
    if tx.capacity() < frames.len() {
        let code = ErrorCode::RateLimited;
        let mut answer = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            "the session has too many frames waiting",
            "retry after Retry-After seconds",
        );
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
        return cors(&req, &hub, answer);
    }
    let accepted = frames.len();
    for frame in frames {
        if tx.try_send(frame).is_err() {
            node.sse.remove(key.as_str());
            let code = ErrorCode::NotFound;
            return cors(
                &req,
                &hub,
                refusal(
                    StatusCode::NOT_FOUND,
                    code,
                    "the event stream ended",
                    "open the event stream again",
                ),
            );
        }
    }
    cors(
        &req,
        &hub,
        HttpResponse::Accepted().json(json!({"accepted": accepted})),
    )
}

/// A POST's body, at most `max` bytes: else 413 `message_too_large` (as
/// JSON, like every refusal of this transport) as soon as the body goes
/// over, without reading the rest.
async fn read_body(payload: web::Payload, max: usize) -> Result<Bytes, Box<HttpResponse>> {
    match payload.to_bytes_limited(max).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => {
            let code = ErrorCode::BadJson;
            let message = format!("the body could not be read: {e}");
            Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                code,
                &message,
                code.hint(),
            )))
        }
        Err(_) => {
            let code = ErrorCode::MessageTooLarge;
            let message = format!("the body is over sse_post_max_bytes ({max} bytes)");
            let hint = "POST fewer frames at a time";
            Err(Box::new(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                code,
                &message,
                hint,
            )))
        }
    }
}

/// The refusal for a connect the session answered with `hub:error`.
fn connect_refusal(first: &Bytes) -> Option<HttpResponse> {
    let text = std::str::from_utf8(first).ok()?;
    let data = text.lines().find_map(|l| l.strip_prefix("data: "))?;
    let frame: serde_json::Value = serde_json::from_str(data).ok()?;
    if frame["type"] == "hub:connected" {
        return None;
    }
    let code = frame["code"]
        .as_str()
        .and_then(ErrorCode::from_wire)
        .unwrap_or(ErrorCode::Internal);
    let status = match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::AddressReserved => StatusCode::CONFLICT,
        ErrorCode::RegistryFull
        | ErrorCode::ShuttingDown
        | ErrorCode::Unavailable
        | ErrorCode::Internal => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = frame["message"].as_str().unwrap_or_default();
    Some(refusal(status, code, message, code.hint()))
}

/// `Authorization: Bearer <token>`.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// Lets a page from an allowed origin (any, when `allowed_origins` is
/// empty) read the answer: `EventSource` and `fetch` across origins.
fn cors(req: &HttpRequest, hub: &Hub, mut answer: HttpResponse) -> HttpResponse {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return answer;
    };
    if origin_allowed(&hub.node.config.allowed_origins, req.headers()) {
        let headers = answer.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    answer
}

/// The POSTed frames as the session's inbound stream, honouring the read
/// switch as the socket reader does: paused, the frames wait (and the
/// POSTs find the channel full); discarding, they are dropped.
fn switched(
    mut rx: mpsc::Receiver<ByteString>,
    switch: ReadSwitch,
) -> impl Stream<Item = Inbound> + 'static {
    futures_util::stream::poll_fn(move |cx| loop {
        if switch.is_paused(cx) {
            return Poll::Pending;
        }
        match rx.poll_recv(cx) {
            Poll::Ready(Some(_)) if switch.is_discarding() => continue,
            other => return other.map(|frame| frame.map(Inbound::Text)),
        }
    })
}

/// The response body: the preamble, the connect's answer, then the
/// session's events, with a comment whenever `heartbeat_interval_ms` passes
/// without one (proxies drop silent streams). Ends with the session; its
/// key is forgotten then.
struct EventStream {
    head: Option<Bytes>,
    first: Option<Bytes>,
    body: OutboundBody,
    tick: tokio::time::Interval,
    key: Option<(String, EventStreams)>,
}

impl Stream for EventStream {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        match this.body.poll_next_unpin(cx) {
            Poll::Ready(Some(chunk)) => {
                this.tick.reset();
                Poll::Ready(Some(chunk))
            }
            Poll::Ready(None) => {
                this.forget();
                Poll::Ready(None)
            }
            Poll::Pending => match this.tick.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(Bytes::from_static(b": keepalive\n\n")))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl EventStream {
    fn forget(&mut self) {
        if let Some((key, streams)) = self.key.take() {
            streams.remove(&key);
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.forget();
    }
}
