//! Tests of `addresses`.

use super::*;

const NODE: NodeId = NodeId(7);
const HOUR: Duration = Duration::from_secs(3600);

fn lease(address: &str, session_id: u64, epoch: Epoch) -> Lease {
    Lease {
        address: address.into(),
        holder: session(session_id),
        epoch,
    }
}

fn session(id: u64) -> Holder {
    Holder::Session {
        node: NODE,
        session: SessionId(id),
    }
}

fn now<T>(answer: Answer<T>) -> T {
    answer
        .into_now()
        .expect("the memory directory answers at once")
}

fn claim(d: &mut MemoryAddressDirectory, address: &str, holder: Holder) -> Result<Grant, HubError> {
    now(d.claim(&address.into(), holder, HOUR))
}

#[test]
fn the_last_claim_wins_and_names_whom_it_evicted() {
    let mut d = MemoryAddressDirectory::new(10);
    let first = claim(&mut d, "a", session(1)).unwrap();
    assert_eq!(first.evicted, None);
    let second = claim(&mut d, "a", session(2)).unwrap();
    assert!(second.epoch > first.epoch, "epochs grow");
    let evicted = second.evicted.expect("the first holder is evicted");
    assert_eq!((evicted.holder, evicted.epoch), (session(1), first.epoch));
    assert_eq!(now(d.locate("a")).unwrap().holder, session(2));
    assert_eq!(
        d.deadlines.len(),
        1,
        "the evicted lease's deadline is gone too"
    );
}

#[test]
fn claiming_again_is_idempotent() {
    let mut d = MemoryAddressDirectory::new(10);
    let first = claim(&mut d, "a", session(1)).unwrap();
    let again = claim(&mut d, "a", session(1)).unwrap();
    assert_eq!((again.epoch, again.evicted), (first.epoch, None));
}

#[test]
fn a_stale_epoch_can_neither_release_nor_renew() {
    let mut d = MemoryAddressDirectory::new(10);
    let old = claim(&mut d, "a", session(1)).unwrap().epoch;
    let new = claim(&mut d, "a", session(2)).unwrap().epoch;
    assert!(
        !now(d.release(&"a".into(), old, Duration::ZERO)).ended,
        "the evicted holder cannot release"
    );
    let lost = now(d.renew(&[lease("a", 1, old), lease("a", 2, new)], HOUR));
    assert_eq!(
        lost,
        vec![Arc::<str>::from("a")],
        "only the stale renewal is refused"
    );
    assert!(now(d.release(&"a".into(), new, Duration::ZERO)).went_offline);
    assert_eq!(now(d.locate("a")), None);
    assert!(d.deadlines.is_empty());
}

#[test]
fn sessions_cannot_take_a_local_holders_address() {
    let mut d = MemoryAddressDirectory::new(10);
    claim(&mut d, "svc", Holder::Local { node: NODE }).unwrap();
    assert_eq!(
        claim(&mut d, "svc", session(1)),
        Err(HubError::AddressReserved("svc".into()))
    );
}

#[test]
fn the_cap_refuses_new_addresses_but_not_replacements() {
    let mut d = MemoryAddressDirectory::new(2);
    claim(&mut d, "a", session(1)).unwrap();
    claim(&mut d, "b", session(2)).unwrap();
    assert_eq!(
        claim(&mut d, "c", session(3)),
        Err(HubError::RegistryFull(2))
    );
    claim(&mut d, "b", session(4)).unwrap();
}

#[test]
fn expire_pops_only_leases_that_ran_out_and_never_local_ones() {
    let mut d = MemoryAddressDirectory::new(10);
    now(d.claim(&"short".into(), session(1), Duration::ZERO)).unwrap();
    now(d.claim(&"long".into(), session(2), HOUR)).unwrap();
    now(d.claim(&"svc".into(), Holder::Local { node: NODE }, Duration::ZERO)).unwrap();
    let expired = now(d.expire(Instant::now() + Duration::from_millis(1)));
    assert_eq!(expired.len(), 1);
    assert_eq!(&*expired[0].lease.address, "short");
    assert!(expired[0].live);
    assert!(now(d.locate("long")).is_some() && now(d.locate("svc")).is_some());
    assert_eq!(now(d.locate("short")), None);
}

#[test]
fn an_address_comes_online_once_and_goes_offline_once_after_its_grace() {
    let mut d = MemoryAddressDirectory::new(10);
    let grace = Duration::from_millis(50);
    let first = claim(&mut d, "a", session(1)).unwrap();
    assert!(first.came_online);
    let second = claim(&mut d, "a", session(2)).unwrap();
    assert!(!second.came_online, "an eviction keeps it online");
    let released = now(d.release(&"a".into(), second.epoch, grace));
    assert_eq!(
        (released.ended, released.went_offline),
        (true, false),
        "it lingers"
    );
    assert!(now(d.online("a")).unwrap(), "online while it lingers");
    assert_eq!(now(d.locate("a")), None, "but held by no one");
    assert_eq!(
        now(d.renew(&[lease("a", 2, second.epoch)], HOUR)).len(),
        1,
        "a dropped holder cannot renew"
    );
    let back = claim(&mut d, "a", session(3)).unwrap();
    assert_eq!(
        (back.came_online, back.evicted),
        (false, None),
        "a reconnect within the grace is unnoticed"
    );
    assert!(now(d.expire(Instant::now() + grace * 2)).is_empty());
    now(d.release(&"a".into(), back.epoch, grace));
    let ended = now(d.expire(Instant::now() + grace * 2));
    assert_eq!(ended.len(), 1);
    assert!(!ended[0].live, "a grace window ended, not a live lease");
    assert!(!now(d.online("a")).unwrap());
    assert!(now(d.expire(Instant::now() + grace * 4)).is_empty(), "once");
    assert!(claim(&mut d, "a", session(4)).unwrap().came_online);
}

#[test]
fn a_release_without_grace_goes_offline_at_once_and_a_stale_one_does_nothing() {
    let mut d = MemoryAddressDirectory::new(10);
    let held = claim(&mut d, "a", session(1)).unwrap().epoch;
    let grace = Duration::from_secs(5);
    assert_eq!(
        now(d.release(&"a".into(), held, Duration::ZERO)),
        Released {
            ended: true,
            went_offline: true,
            user_went_offline: false,
        }
    );
    assert_eq!(
        now(d.release(&"a".into(), held, grace)),
        Released::default(),
        "released twice: nothing"
    );
    let local = claim(&mut d, "svc", Holder::Local { node: NODE }).unwrap();
    assert!(local.came_online);
    assert!(
        now(d.release(&"svc".into(), local.epoch, grace)).went_offline,
        "a local holder never lingers"
    );
}
