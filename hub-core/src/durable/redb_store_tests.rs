//! Tests of `redb_store`.

use super::*;
use crate::durable::store::MemoryInboxStore;

fn message(seq: u64, at_ms: u64) -> StoredMessage {
    StoredMessage {
        seq,
        stored_at_ms: at_ms,
        frame: ByteString::from(format!("{{\"n\":{seq}}}")),
        receipt: None,
    }
}

fn states(c: &Committed) -> Vec<(Arc<str>, InboxState)> {
    let mut s = c.states.clone();
    s.sort_by(|a, b| a.0.cmp(&b.0));
    s
}

/// The redb store (segments) and the in-memory store answer alike to the
/// same batches: appends across addresses, cumulative acks that cut
/// segments, expiry, forgetting, and reads from any position.
#[test]
fn segments_behave_like_one_row_per_message() {
    let dir = std::env::temp_dir().join(format!(
        "hub-segments-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut redb = RedbInboxStore::open(&dir.join("inbox.redb")).unwrap();
    let mut memory = MemoryInboxStore::new();
    let addresses: Vec<Arc<str>> = vec!["a".into(), "b".into(), "c".into()];
    let mut next = [1u64; 3];
    let mut rng = 7u64;
    let mut roll = |n: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    for round in 0..200u64 {
        let mut batch = Batch::default();
        for _ in 0..roll(6) {
            let i = roll(3) as usize;
            batch
                .appends
                .push((addresses[i].clone(), message(next[i], round)));
            next[i] += 1;
        }
        if roll(3) == 0 {
            let i = roll(3) as usize;
            batch.acks.push((addresses[i].clone(), roll(next[i] + 1)));
        }
        if roll(10) == 0 {
            let i = roll(3) as usize;
            batch
                .expire
                .push((addresses[i].clone(), round.saturating_sub(roll(20))));
        }
        if roll(40) == 0 {
            let i = roll(3) as usize;
            batch.forget.push(addresses[i].clone());
        }
        let r = redb.commit(&batch, false).unwrap();
        let m = memory.commit(&batch, false).unwrap();
        assert_eq!(states(&r), states(&m), "round {round}");
        assert_eq!(r.expired, m.expired, "round {round}");
        for address in &addresses {
            let after = roll(next[0].max(next[1]).max(next[2]) + 1);
            let max = 1 + roll(50) as usize;
            assert_eq!(
                redb.read(address, after, max).unwrap(),
                memory.read(address, after, max).unwrap(),
                "round {round}, {address} after {after}"
            );
        }
    }
    drop(redb);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store written before segments (one row per message) is read the
/// same after the move at open.
#[test]
fn messages_of_an_earlier_layout_are_moved_into_segments() {
    let dir = std::env::temp_dir().join(format!("hub-migrate-{}", std::process::id()));
    let path = dir.join("inbox.redb");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    {
        let old: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("inbox");
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        {
            let mut meta = write.open_table(META).unwrap();
            meta.insert("format", FORMAT).unwrap();
            let mut inbox = write.open_table(old).unwrap();
            for seq in 1..=3u64 {
                let mut value = (100 + seq).to_le_bytes().to_vec();
                value.extend_from_slice(format!("{{\"n\":{seq}}}").as_bytes());
                inbox.insert(("bob", seq), value.as_slice()).unwrap();
            }
        }
        write.commit().unwrap();
    }
    let mut store = RedbInboxStore::open(&path).unwrap();
    let read = store.read("bob", 1, 10).unwrap();
    assert_eq!(read, vec![message(2, 102), message(3, 103)]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
