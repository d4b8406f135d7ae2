//! Tests of `registry`.

use super::*;
use crate::fixtures::handle;
use crate::seams::addresses::MemoryAddressDirectory;
use std::sync::atomic::Ordering::Relaxed;

#[test]
fn a_drain_takes_bigger_waves_when_its_pace_would_miss_the_deadline() {
    let ms = Duration::from_millis;
    assert_eq!(
        drain_wave(10_000, 1_000, ms(100), ms(8_000)),
        1_000,
        "10 waves fit"
    );
    assert_eq!(
        drain_wave(100_000, 1_000, ms(100), ms(8_000)),
        1_235,
        "81 waves"
    );
    assert_eq!(drain_wave(5, 0, ms(100), ms(8_000)), 5, "0 = all at once");
    assert_eq!(drain_wave(0, 10, ms(100), ms(8_000)), 1);
    assert_eq!(
        drain_wave(50, 10, ms(0), ms(8_000)),
        10,
        "no pause: any number of waves"
    );
    assert_eq!(drain_wave(50, 10, ms(100), ms(0)), 50, "no time: one wave");
}

fn registry(max: usize, ttl: Duration) -> (Registry, Endpoints, Arc<Metrics>) {
    let endpoints: Endpoints = Arc::default();
    let metrics = Arc::new(Metrics::default());
    let r = Registry::new(
        NodeId(1),
        Box::new(MemoryAddressDirectory::new(max)),
        endpoints.clone(),
        ttl,
        Duration::from_secs(1),
        metrics.clone(),
    );
    (r, endpoints, metrics)
}

fn register(r: &mut Registry, address: &str, id: u64) -> Result<Epoch, HubError> {
    let (h, _queue) = handle(id, 4);
    r.register_now(address.into(), Endpoint::Session(h))
}

fn holder(endpoints: &Endpoints, address: &str) -> Option<SessionId> {
    match endpoints.get(address).as_deref() {
        Some(Endpoint::Session(h)) => Some(h.id),
        _ => None,
    }
}

#[test]
fn a_newer_registration_replaces_the_older_session_here() {
    let (mut r, endpoints, metrics) = registry(10, Duration::from_secs(60));
    register(&mut r, "a", 1).unwrap();
    register(&mut r, "a", 2).unwrap();
    assert_eq!(holder(&endpoints, "a"), Some(SessionId(2)));
    assert_eq!(metrics.evictions_total.load(Relaxed), 1);
    assert_eq!(metrics.registered.load(Relaxed), 1);
}

#[test]
fn a_stale_release_leaves_the_new_holder_in_place() {
    let (mut r, endpoints, _) = registry(10, Duration::from_secs(60));
    let old = register(&mut r, "a", 1).unwrap();
    let new = register(&mut r, "a", 2).unwrap();
    r.unregister_now(&"a".into(), old);
    assert_eq!(
        holder(&endpoints, "a"),
        Some(SessionId(2)),
        "a stale release is ignored"
    );
    r.unregister_now(&"a".into(), new);
    assert_eq!(holder(&endpoints, "a"), None);
}

#[test]
fn expired_leases_leave_the_endpoint_map() {
    let (mut r, endpoints, metrics) = registry(10, Duration::ZERO);
    register(&mut r, "a", 1).unwrap();
    register(&mut r, "b", 2).unwrap();
    let expired = r
        .directory
        .expire(Instant::now() + Duration::from_millis(1))
        .into_now()
        .unwrap();
    r.expired(expired);
    assert_eq!(
        (holder(&endpoints, "a"), holder(&endpoints, "b")),
        (None, None)
    );
    assert_eq!(metrics.registrations_expired_total.load(Relaxed), 2);
    assert_eq!(metrics.registered.load(Relaxed), 0);
}

/// A directory that decides at once (in memory) but answers only when the
/// test opens each answer's gate: a networked directory whose replies the
/// test holds back.
#[derive(Debug)]
struct Gated {
    inner: MemoryAddressDirectory,
    gates: Arc<std::sync::Mutex<Vec<tokio::sync::oneshot::Sender<()>>>>,
}

impl Gated {
    fn later<T: Send + 'static>(&self, value: T) -> Answer<T> {
        let (open, gate) = tokio::sync::oneshot::channel();
        self.gates.lock().unwrap().push(open);
        Answer::Later(Box::pin(async move {
            let _ = gate.await;
            value
        }))
    }
}

impl AddressDirectory for Gated {
    fn claim(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
    ) -> Answer<Result<crate::seams::addresses::Grant, HubError>> {
        let granted = self.inner.claim(address, holder, ttl).into_now().unwrap();
        self.later(granted)
    }
    fn release(&mut self, address: &Arc<str>, epoch: Epoch, grace: Duration) -> Answer<Released> {
        let released = self
            .inner
            .release(address, epoch, grace)
            .into_now()
            .unwrap();
        self.later(released)
    }
    fn renew(&mut self, leases: &[Lease], ttl: Duration) -> Answer<Vec<Arc<str>>> {
        self.inner.renew(leases, ttl)
    }
    fn expire(&mut self, now: Instant) -> Answer<Vec<Expired>> {
        self.inner.expire(now)
    }
    fn locate(&self, address: &str) -> Answer<Option<Lease>> {
        self.inner.locate(address)
    }
    fn online(&self, address: &str) -> Answer<Result<bool, HubError>> {
        self.inner.online(address)
    }
    fn connections_of(
        &self,
        user: &str,
    ) -> Answer<Result<crate::seams::addresses::Connections, HubError>> {
        self.inner.connections_of(user)
    }
}

/// Claims and releases answered later do not hold up the registry, and
/// their answers are applied in the order asked even when they come back
/// the other way round: the endpoint map ends as if each had been waited
/// for.
#[actix_rt::test]
async fn answers_that_come_back_out_of_order_are_applied_in_order() {
    let gates = Arc::new(std::sync::Mutex::new(Vec::new()));
    let endpoints: Endpoints = Arc::default();
    let directory = Gated {
        inner: MemoryAddressDirectory::new(10),
        gates: gates.clone(),
    };
    let registry = Registry::new(
        NodeId(1),
        Box::new(directory),
        endpoints.clone(),
        Duration::from_secs(60),
        Duration::from_secs(60),
        Arc::new(Metrics::default()),
    )
    .start();
    let (first, _q1) = handle(1, 4);
    let (second, _q2) = handle(2, 4);
    let register = |h: SessionHandle| Register {
        address: "a".into(),
        endpoint: Endpoint::Session(h),
        client: None,
    };
    // Sent without waiting: the registry asks for all three at once.
    let one = registry.send(register(first));
    let two = registry.send(register(second));
    let three = registry.send(Unregister {
        address: "a".into(),
        epoch: Epoch(1),
        dropped: false,
    });
    let asked = async {
        while gates.lock().unwrap().len() < 3 {
            actix_rt::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), asked)
        .await
        .expect("all three asked before any answer came");
    assert_eq!(holder(&endpoints, "a"), None, "nothing applied yet");
    // The answers come back last first.
    let opened: Vec<_> = gates.lock().unwrap().drain(..).rev().collect();
    for gate in opened {
        let _ = gate.send(());
    }
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    three.await.unwrap();
    assert_eq!((one, two), (Ok(Epoch(1)), Ok(Epoch(2))));
    assert_eq!(
        holder(&endpoints, "a"),
        Some(SessionId(2)),
        "the second claim won, and the stale release changed nothing"
    );
}
