//! Entry points for the criterion micro-benches in `benches/` (feature
//! `bench-support`). Not a stable API: it lets the benches drive the real
//! fan-out loop, registry and rate limiter without sockets or a runtime.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use governor::DefaultDirectRateLimiter;
use tokio::sync::mpsc;

use crate::fixtures::handle;
use crate::metrics::Metrics;
use crate::outbox::{OutFrame, SessionHandle, SessionId};
use crate::registry::Registry;
use crate::route::{Endpoint, Endpoints};
use crate::seams::addresses::MemoryAddressDirectory;
use crate::seams::NodeId;

/// `n` subscriber queues and the topic's fan-out loop over them.
#[derive(Debug)]
pub struct FanoutFixture {
    subscribers: HashMap<SessionId, SessionHandle>,
    queues: Vec<mpsc::Receiver<OutFrame>>,
    metrics: crate::metrics::Metrics,
}

impl FanoutFixture {
    /// `n` subscribers with queues of `queue_frames`.
    pub fn new(n: usize, queue_frames: usize) -> Self {
        let mut subscribers = HashMap::with_capacity(n);
        let mut queues = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let (h, rx) = handle(i, queue_frames);
            subscribers.insert(h.id, h);
            queues.push(rx);
        }
        Self {
            subscribers,
            queues,
            metrics: crate::metrics::Metrics::new(),
        }
    }

    /// Pushes one publication into every queue, as the topic actor does.
    pub fn publish(&mut self, frame: &ByteString) -> usize {
        let now = std::time::Instant::now();
        crate::topic::fan_out(&mut self.subscribers, frame, now, (&self.metrics, 0))
    }

    /// Empties every queue, as the response bodies do.
    pub fn drain(&mut self) {
        for q in &mut self.queues {
            while q.try_recv().is_ok() {}
        }
    }
}

/// A registry holding `n` addresses.
pub struct RegistryFixture {
    registry: Registry,
    endpoints: Endpoints,
    addresses: Vec<Arc<str>>,
    next_id: u64,
    /// Keeps the queues open so handles stay live.
    _queues: Vec<mpsc::Receiver<OutFrame>>,
}

impl std::fmt::Debug for RegistryFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryFixture")
            .field("addresses", &self.addresses.len())
            .finish()
    }
}

impl RegistryFixture {
    /// A registry with `n` registered sessions.
    pub fn new(n: usize) -> Self {
        let endpoints: Endpoints = Arc::default();
        let registry = Registry::new(
            NodeId(1),
            Box::new(MemoryAddressDirectory::new(usize::MAX)),
            endpoints.clone(),
            Duration::from_secs(60),
            Duration::from_secs(1),
            Arc::new(Metrics::default()),
        );
        let mut fixture = Self {
            registry,
            endpoints,
            addresses: Vec::with_capacity(n),
            next_id: 0,
            _queues: Vec::new(),
        };
        for i in 0..n {
            let address: Arc<str> = format!("user-{i}").into();
            fixture.register(address.clone());
            fixture.addresses.push(address);
        }
        fixture
    }

    fn register(&mut self, address: Arc<str>) -> Option<crate::seams::addresses::Epoch> {
        self.next_id += 1;
        let (h, rx) = handle(self.next_id, 4);
        let epoch = self
            .registry
            .register_now(address, Endpoint::Session(h))
            .ok();
        if self._queues.len() < 100_000 {
            self._queues.push(rx);
        }
        epoch
    }

    /// The hot-path lookup of a direct send: is address `i` live?
    pub fn lookup(&self, i: usize) -> bool {
        let address = &self.addresses[i % self.addresses.len()];
        self.endpoints.get(address).is_some()
    }

    /// Registers address `i` again from a new session: the old one is evicted.
    pub fn evict(&mut self, i: usize) {
        let address = self.addresses[i % self.addresses.len()].clone();
        self.register(address);
    }

    /// Registers a new address and unregisters it (a connect and a disconnect).
    pub fn register_unregister(&mut self) {
        let address: Arc<str> = "transient".into();
        if let Some(epoch) = self.register(address.clone()) {
            self.registry.unregister_now(&address, epoch);
        }
    }
}

/// The per-session rate limiter sessions use (`None` when disabled).
pub fn rate_limiter(per_sec: u32, burst: u32) -> Option<DefaultDirectRateLimiter> {
    crate::session::rate_limiter(per_sec, burst)
}

/// A topic's member list of `n` addresses, each with a small `info`, and
/// the work a presence request does on it: a page encoded as the
/// `hub:presence_ack` frame, a count, and a join and leave.
#[derive(Debug)]
pub struct PresenceFixture {
    members: crate::presence::members::Members,
    names: Vec<Arc<str>>,
    next_session: u64,
}

impl PresenceFixture {
    /// `n` members `m0000000`, `m0000001`, ...
    pub fn new(n: usize) -> Self {
        use crate::presence::Membership;
        let mut members = crate::presence::members::Members::new(Duration::from_secs(5));
        let info: Arc<serde_json::value::RawValue> =
            serde_json::value::RawValue::from_string(r#"{"name":"A Member","role":"user"}"#.into())
                .expect("valid JSON")
                .into();
        let names: Vec<Arc<str>> = (0..n).map(|i| format!("m{i:07}").into()).collect();
        for (i, name) in names.iter().enumerate() {
            let who = Membership {
                address: name.clone(),
                info: Some(info.clone()),
                listens: false,
            };
            members.join(SessionId(i as u64), who);
        }
        Self {
            members,
            next_session: n as u64,
            names,
        }
    }

    /// One `hub:presence_ack` of `limit` members after the `i`-th
    /// (wrapped), encoded; returns its length.
    pub fn page(&self, i: usize, limit: usize) -> usize {
        use crate::protocol::presence::PresenceAck;
        let after = &self.names[i % self.names.len()];
        let (members, next) = self.members.page(Some(after), limit);
        let ack = crate::protocol::ServerFrame::PresenceAck(PresenceAck {
            id: None,
            topic: "room:big".into(),
            members,
            next: next.as_deref().map(std::borrow::Cow::Borrowed),
        });
        ack.to_json().len()
    }

    /// The member count (`hub:presence_stats`).
    pub fn count(&self) -> usize {
        self.members.len()
    }

    /// A new address joins and leaves (an unsubscribe).
    pub fn join_leave(&mut self) {
        use crate::presence::Membership;
        self.next_session += 1;
        let session = SessionId(self.next_session);
        let who = Membership {
            address: "zz-transient".into(),
            info: None,
            listens: false,
        };
        self.members.join(session, who);
        self.members
            .leave(session, false, std::time::Instant::now());
    }
}

/// Runs the socket reader (WebSocket framing, masking, continuations, the
/// `max_message_bytes` check from the header, UTF-8) over `input` as the
/// bytes a client sent, until it ends or needs more; returns how many
/// messages and events it read. For the fuzzer (`fuzz/`): reading a slice
/// never waits, so a no-op waker is enough.
pub fn read_client_bytes(input: &[u8], max_message_bytes: usize) -> usize {
    use futures_util::Stream;
    use std::task::{Context, Poll};
    let mut reader = crate::transport::SocketReader::new(
        input,
        actix_web::web::BytesMut::new(),
        max_message_bytes,
    );
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut read = 0;
    while let Poll::Ready(Some(_)) = std::pin::Pin::new(&mut reader).poll_next(&mut cx) {
        read += 1;
        if read > input.len() + 2 {
            panic!("the reader yields more items than there are bytes");
        }
    }
    read
}
