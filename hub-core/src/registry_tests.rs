//! Tests of `registry`.

use super::*;
use crate::fixtures::handle;
use crate::seams::addresses::MemoryAddressDirectory;
use dashmap::DashMap;
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
    let endpoints: Endpoints = Arc::new(DashMap::new());
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
