//! [`ClientBuilder`]: where every timing and bound of the client is set.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::error::ClientError;

/// What the client does with a frame the server refused with `hub:rate_limited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitPolicy {
    /// Wait `retry_after_ms` and send the frame again (default). Retried
    /// frames may be overtaken by frames sent after them.
    #[default]
    Retry,
    /// Fail the call with [`ClientError::RateLimited`].
    Surface,
}

/// Supplies a fresh token before every (re)connect and when the server asks.
pub(crate) type TokenProvider =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// Supplies a topic's subscription token (or `None`: the topic needs none)
/// at every subscribe, resubscribe and when the server asks.
pub(crate) type SubscriptionTokenProvider =
    Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// Every knob of a client, with its default.
#[derive(Clone)]
pub(crate) struct ClientConfig {
    /// The hub's URLs, one per node: the first is tried first; a failed
    /// attempt moves on to the next. Never empty.
    pub(crate) urls: Vec<String>,
    pub(crate) address: String,
    /// Which of the user's connections this client is (`hub:connect`'s
    /// `device`); kept across reconnects. Default none: the address itself.
    pub(crate) device: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) token_provider: Option<TokenProvider>,
    pub(crate) subscription_token_provider: Option<SubscriptionTokenProvider>,
    /// Time for one connect attempt: TCP, WebSocket upgrade and `hub:connected`. Default 10 s.
    pub(crate) connect_timeout: Duration,
    /// First reconnect backoff ceiling. Default 100 ms.
    pub(crate) backoff_initial: Duration,
    /// Largest reconnect backoff. Default 10 s.
    pub(crate) backoff_max: Duration,
    /// Calls held while disconnected before new ones fail with `QueueFull`. Default 1024.
    pub(crate) offline_queue_capacity: usize,
    /// Messages buffered per subscription before the client stops reading the socket. Default 1024.
    pub(crate) subscription_buffer: usize,
    /// Events buffered before the client stops reading the socket. Default 1024.
    pub(crate) event_buffer: usize,
    /// Overrides the heartbeat interval the server announces.
    pub(crate) heartbeat_interval: Option<Duration>,
    /// Overrides the silence after which the connection is considered dead
    /// (default: the server's announced `heartbeat_timeout_ms`).
    pub(crate) dead_after: Option<Duration>,
    pub(crate) rate_limit_policy: RateLimitPolicy,
    /// How long a token lives; with a server that supports refresh, a fresh
    /// one is sent at 80 % of it.
    pub(crate) token_lifetime: Option<Duration>,
    /// A PEM file of CA certificates trusted for `wss://` besides the system's.
    pub(crate) ca_file: Option<PathBuf>,
    /// Stored messages are acknowledged by the application (`Client::ack`),
    /// not when taken from the event stream.
    pub(crate) manual_ack: bool,
    /// Built from the roots at connect, for a `wss://` URL.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("urls", &self.urls)
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("offline_queue_capacity", &self.offline_queue_capacity)
            .field("rate_limit_policy", &self.rate_limit_policy)
            .finish_non_exhaustive()
    }
}

/// Builds and connects a [`Client`]: `Client::builder(url).address("me").connect().await`.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    config: ClientConfig,
}

impl ClientBuilder {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        Self {
            config: ClientConfig {
                urls: vec![url.into()],
                address: String::new(),
                device: None,
                token: None,
                token_provider: None,
                subscription_token_provider: None,
                connect_timeout: Duration::from_secs(10),
                backoff_initial: Duration::from_millis(100),
                backoff_max: Duration::from_secs(10),
                offline_queue_capacity: 1024,
                subscription_buffer: 1024,
                event_buffer: 1024,
                heartbeat_interval: None,
                dead_after: None,
                rate_limit_policy: RateLimitPolicy::Retry,
                token_lifetime: None,
                ca_file: None,
                manual_ack: false,
                tls: None,
            },
        }
    }

    /// Another URL of the same hub: another node of it. A connection
    /// attempt that fails (the node is down, refuses upgrades, is shutting
    /// down) is followed by one to the next URL, round the list; a client
    /// whose connection is lost tries the URL it was on first. The first
    /// connect tries each URL once before it gives up.
    pub fn fallback_url(mut self, url: impl Into<String>) -> Self {
        self.config.urls.push(url.into());
        self
    }

    /// The address to register (required).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.config.address = address.into();
        self
    }

    /// Connects as one of the address's devices: the session registers
    /// `address/device`, beside the user's other connections (tabs,
    /// devices) instead of replacing them, and a send to the address
    /// reaches them all. The same device connecting again (this client,
    /// reconnecting) replaces its own older session. At most 64 bytes,
    /// no `/`.
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.config.device = Some(device.into());
        self
    }

    /// A fixed token sent with every `hub:connect`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// A callback asked for a fresh token before every (re)connect and
    /// whenever the server asks (`hub:refresh`); overrides [`Self::token`].
    pub fn token_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.config.token_provider = Some(Arc::new(move || Box::pin(provider())));
        self
    }

    /// A callback asked for a topic's subscription token (a JWT the
    /// application mints for that one topic: a private room) at every
    /// subscribe, every resubscribe after a reconnect, and whenever the
    /// server asks for a fresh one (`hub:sub_refresh`). `None` subscribes
    /// without a token (a topic the connection's grants open).
    pub fn subscription_token_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.config.subscription_token_provider =
            Some(Arc::new(move |topic| Box::pin(provider(topic))));
        self
    }

    /// How long each token from the provider lives. When the server announces
    /// the `token_refresh` feature, the client asks the provider for a fresh
    /// token at 80 % of this and sends it (`hub:refresh`) without reconnecting;
    /// otherwise fresh tokens go out with the next connect.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.token_lifetime = Some(lifetime);
        self
    }

    /// Time allowed for one connect attempt. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Reconnect backoff: first ceiling and cap (full jitter). Defaults 100 ms and 10 s.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.backoff_initial = initial;
        self.config.backoff_max = max.max(initial);
        self
    }

    /// How many calls may wait while disconnected. Default 1024.
    pub fn offline_queue_capacity(mut self, capacity: usize) -> Self {
        self.config.offline_queue_capacity = capacity;
        self
    }

    /// Messages buffered per subscription. Default 1024.
    pub fn subscription_buffer(mut self, capacity: usize) -> Self {
        self.config.subscription_buffer = capacity.max(1);
        self
    }

    /// Events buffered for [`Client::events`]. Default 1024.
    pub fn event_buffer(mut self, capacity: usize) -> Self {
        self.config.event_buffer = capacity.max(1);
        self
    }

    /// Ping at this interval instead of the server's announced one.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat_interval = Some(interval);
        self
    }

    /// Consider the connection dead after this much silence instead of the
    /// server's announced heartbeat timeout.
    pub fn dead_after(mut self, silence: Duration) -> Self {
        self.config.dead_after = Some(silence);
        self
    }

    /// What to do with rate-limited frames. Default [`RateLimitPolicy::Retry`].
    pub fn rate_limit_policy(mut self, policy: RateLimitPolicy) -> Self {
        self.config.rate_limit_policy = policy;
        self
    }

    /// Trusts the CA certificates in this PEM file for `wss://` URLs, besides
    /// the system's roots (a private CA, or a development certificate).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ca_file = Some(path.into());
        self
    }

    /// Acknowledge stored direct messages yourself, with
    /// [`Client::ack`](crate::Client::ack), once your handler is done with
    /// them (e.g. after writing them to your database); by default a
    /// message is acknowledged when it is taken from the event stream.
    /// Unacknowledged messages are delivered again after a reconnect.
    pub fn manual_ack(mut self) -> Self {
        self.config.manual_ack = true;
        self
    }

    /// Connects once (no retry: a first failure is returned), then keeps the
    /// connection alive in a background task, reconnecting as needed.
    ///
    /// # Errors
    /// The address is missing, the server is unreachable, or it refused the connect.
    pub async fn connect(self) -> Result<Client, ClientError> {
        if self.config.address.is_empty() {
            return Err(ClientError::Connect(
                "an address is required: .address(\"me\")".into(),
            ));
        }
        let mut config = self.config;
        if config.urls.iter().any(|url| url.starts_with("wss://")) {
            config.tls = Some(crate::tls::client_config(config.ca_file.as_deref())?);
        }
        Client::start(config).await
    }
}
