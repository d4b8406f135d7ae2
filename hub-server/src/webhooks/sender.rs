//! The webhook thread: takes queued events (kept in the store first),
//! posts each user's (or topic's) events one at a time in order — many
//! users at once, up to `webhook_max_concurrency` — and retries a failed
//! post with backoff until it succeeds or `webhook_max_age_ms` passes.
//! A user whose post fails holds only that user's later events back.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::store::{Live, Store};
use super::{gone_at_restart, Queued, WebhookConfig, WebhookMetrics};

/// Most events taken from the channel (and kept in one commit) at once.
const BATCH: usize = 256;

/// Most answer bytes read (the answer is not used; reading it lets the
/// connection be used again).
const MAX_ANSWER_BYTES: usize = 4096;

/// One event waiting for its post.
struct Pending {
    seq: u64,
    body: Arc<[u8]>,
    /// The body's `id`, read once: each post's `Signal-Hub-Event-Id`.
    id: String,
    /// When it was queued (or loaded), for `webhook_max_age_ms`.
    since: Instant,
    attempts: u32,
}

/// The thread's state (see the module docs).
struct Sender {
    config: Arc<WebhookConfig>,
    store: Store,
    metrics: Arc<WebhookMetrics>,
    client: reqwest::Client,
    url: reqwest::Url,
    next_seq: u64,
    /// Each key's events, oldest first; a key is here while it has any.
    keys: HashMap<Arc<str>, VecDeque<Pending>>,
    /// Keys whose oldest event may be posted now.
    ready: VecDeque<Arc<str>>,
    /// Keys waiting out a retry's delay, soonest first.
    later: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    posting: JoinSet<(Arc<str>, bool)>,
    /// Delivered or given up, to forget in the store.
    done: Vec<u64>,
}

/// The running webhook thread.
#[derive(Debug)]
pub struct WebhookThread {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl WebhookThread {
    /// Stops it and waits for it: what was not delivered stays in the
    /// store (on disk, for the next start).
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Starts the webhook thread over `store` (its kept events first).
///
/// # Errors
/// The store cannot be read, or no HTTP client.
pub(super) fn spawn(
    config: Arc<WebhookConfig>,
    store: Store,
    queued: mpsc::Receiver<Queued>,
    metrics: Arc<WebhookMetrics>,
    one_node: bool,
) -> Result<WebhookThread, String> {
    let url = reqwest::Url::parse(&config.webhook_url).map_err(|e| e.to_string())?;
    let tls = crate::tls::outbound_client_config()?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(config.webhook_timeout_ms))
        .build()
        .map_err(|e| e.to_string())?;
    let mut sender = Sender {
        config,
        store,
        metrics,
        client,
        url,
        next_seq: 1,
        keys: HashMap::new(),
        ready: VecDeque::new(),
        later: BinaryHeap::new(),
        posting: JoinSet::new(),
        done: Vec::new(),
    };
    for (seq, body) in sender.store.load()? {
        let Some(key) = key_of(&body) else {
            sender.done.push(seq);
            continue;
        };
        sender.next_seq = seq + 1;
        sender.metrics.queued.inc();
        sender.add(key, seq, body.into());
    }
    // Who was live when the node stopped went with it.
    let mut gone = match one_node {
        true => gone_at_restart(sender.store.live()?),
        false => Vec::new(),
    };
    sender.metrics.queued.inc_by(gone.len() as i64);
    sender.take(&mut gone);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(sender.run(queued, stopped)),
                Err(e) => tracing::error!(error = %e, "the webhook thread has no runtime"),
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(WebhookThread { stop, thread })
}

/// What a kept body's order is kept within: its `user`, else its `topic`.
fn key_of(body: &[u8]) -> Option<Arc<str>> {
    #[derive(serde::Deserialize)]
    struct Keyed {
        user: Option<String>,
        topic: Option<String>,
    }
    let keyed: Keyed = serde_json::from_slice(body).ok()?;
    keyed.user.or(keyed.topic).map(Arc::from)
}

impl Sender {
    /// Runs until stopped, or the hub is gone (the channel closed).
    async fn run(
        mut self,
        mut queued: mpsc::Receiver<Queued>,
        mut stopped: tokio::sync::oneshot::Receiver<()>,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            self.forget_done();
            while self.posting.len() < self.config.webhook_max_concurrency {
                let Some(key) = self.ready.pop_front() else {
                    break;
                };
                self.post(key);
            }
            let wake = self.later.peek().map(|Reverse((at, _))| *at);
            tokio::select! {
                _ = &mut stopped => return self.forget_done(),
                n = queued.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return self.forget_done();
                    }
                    self.take(&mut batch);
                }
                Some(posted) = self.posting.join_next() => {
                    if let Ok((key, ok)) = posted {
                        self.posted(key, ok);
                    }
                }
                () = sleep_until(wake) => self.wake_due(),
            }
        }
    }

    /// Keeps a batch of new events, then queues each behind its key's.
    fn take(&mut self, batch: &mut Vec<Queued>) {
        let first = self.next_seq;
        self.next_seq += batch.len() as u64;
        let kept: Vec<(u64, &[u8], &Live)> = (first..)
            .zip(batch.iter())
            .map(|(seq, q)| (seq, q.body.as_slice(), &q.live))
            .collect();
        if let Err(e) = self.store.append(&kept) {
            tracing::error!(error = %e, "webhook events could not be kept on disk; they are kept in memory");
        }
        for (seq, queued) in (first..).zip(batch.drain(..)) {
            self.add(queued.key, seq, queued.body.into());
        }
    }

    fn add(&mut self, key: Arc<str>, seq: u64, body: Arc<[u8]>) {
        let id = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let pending = Pending {
            seq,
            body,
            id,
            since: Instant::now(),
            attempts: 0,
        };
        let events = self.keys.entry(key.clone()).or_default();
        events.push_back(pending);
        if events.len() == 1 {
            self.ready.push_back(key);
        }
    }

    /// Posts `key`'s oldest event.
    fn post(&mut self, key: Arc<str>) {
        let Some(pending) = self.keys.get(&key).and_then(VecDeque::front) else {
            return;
        };
        let request = self.signed(pending);
        let metrics = self.metrics.clone();
        self.posting.spawn(async move {
            let started = Instant::now();
            let ok = match request.send().await {
                Ok(mut answer) => {
                    let mut read = 0;
                    while let Ok(Some(chunk)) = answer.chunk().await {
                        read += chunk.len();
                        if read > MAX_ANSWER_BYTES {
                            break;
                        }
                    }
                    answer.status().is_success()
                }
                Err(_) => false,
            };
            metrics.post(started.elapsed(), ok);
            (key, ok)
        });
    }

    /// The post of `pending`, signed now.
    fn signed(&self, pending: &Pending) -> reqwest::RequestBuilder {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let body = &pending.body;
        self.client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Signal-Hub-Event-Id", pending.id.as_str())
            .header(
                "Signal-Hub-Signature",
                signature(&self.config.webhook_secret, &timestamp, body),
            )
            .header("Signal-Hub-Timestamp", timestamp)
            .body(body.to_vec())
    }

    /// `key`'s oldest event was posted (`ok`) or failed.
    fn posted(&mut self, key: Arc<str>, ok: bool) {
        let Some(events) = self.keys.get_mut(&key) else {
            return;
        };
        let Some(head) = events.front_mut() else {
            return;
        };
        let max_age = Duration::from_millis(self.config.webhook_max_age_ms);
        if !ok && head.since.elapsed() < max_age {
            head.attempts += 1;
            let delay = backoff(&self.config, head.attempts);
            self.later.push(Reverse((Instant::now() + delay, key)));
            return;
        }
        let outcome = if ok { "delivered" } else { "expired" };
        if !ok {
            tracing::warn!(key = %key, attempts = head.attempts + 1, "a webhook event was given up after webhook_max_age_ms");
        }
        self.metrics.event(outcome);
        self.metrics.queued.dec();
        self.done.push(head.seq);
        events.pop_front();
        if events.is_empty() {
            self.keys.remove(&key);
        } else {
            self.ready.push_back(key);
        }
    }

    /// Keys whose retry delay is over go back to the ready list.
    fn wake_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.later.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, key))) = self.later.pop() {
                self.ready.push_back(key);
            }
        }
    }

    fn forget_done(&mut self) {
        if self.done.is_empty() {
            return;
        }
        if let Err(e) = self.store.remove(&self.done) {
            tracing::error!(error = %e, "delivered webhook events could not be forgotten on disk; they may be posted again after a restart");
        }
        self.done.clear();
    }
}

/// `v1=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub(super) fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The delay before retry `attempts`: `webhook_retry_min_ms` doubled per
/// earlier retry, at most `webhook_retry_max_ms`, between half and all of
/// it (jitter, so that many users' retries spread out).
fn backoff(config: &WebhookConfig, attempts: u32) -> Duration {
    let doubled = config
        .webhook_retry_min_ms
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(32));
    let delay = doubled.min(config.webhook_retry_max_ms);
    let jitter = u64::from(uuid::Uuid::new_v4().as_fields().0) % (delay / 2 + 1);
    Duration::from_millis(delay - jitter)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
