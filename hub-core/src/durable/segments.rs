//! An address's stored messages in redb, a segment per commit (at most
//! [`SEGMENT_MAX`] messages each): key
//! (address, first seq), value the messages that commit stored for that
//! address, each `seq` (u64) · stored-at ms (u64) · frame length (u32) ·
//! frame, little endian. One B-tree insert per address per group commit
//! instead of one per message (the insert and its page copies were the
//! store thread's largest cost). An acknowledgement deletes the segments it
//! covers and rewrites the one it cuts, under its new first `seq`.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::store::{StoreError, StoredMessage};
use bytestring::ByteString;

/// Messages one segment holds at most: an acknowledgement that cuts a
/// segment rewrites the rest of it, so a segment stays small.
const SEGMENT_MAX: usize = 128;

/// (address, first seq) → the segment's messages.
pub(super) const SEGMENTS: TableDefinition<'_, (&str, u64), &[u8]> =
    TableDefinition::new("inbox_segments");

/// The table of one message per row that stores before segments used:
/// (address, seq) → stored-at ms (8 bytes) · frame. Migrated at open.
const OLD_INBOX: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("inbox");

pub(super) type Segments<'t> = redb::Table<'t, (&'static str, u64), &'static [u8]>;

fn fail(context: &'static str) -> impl Fn(&dyn std::fmt::Display) -> StoreError {
    move |e| StoreError(format!("{context}: {e}"))
}

/// One stored message, borrowed from its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record<'a> {
    pub(super) seq: u64,
    pub(super) at_ms: u64,
    pub(super) frame: &'a [u8],
}

impl Record<'_> {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.at_ms.to_le_bytes());
        out.extend_from_slice(&(self.frame.len() as u32).to_le_bytes());
        out.extend_from_slice(self.frame);
    }

    fn to_message(self) -> Result<StoredMessage, StoreError> {
        let frame = std::str::from_utf8(self.frame).map_err(|e| fail("segment frame")(&e))?;
        Ok(StoredMessage {
            seq: self.seq,
            stored_at_ms: self.at_ms,
            frame: ByteString::from(frame.to_owned()),
            receipt: None,
        })
    }
}

/// The records of a segment, in order.
pub(super) fn records(value: &[u8]) -> Result<Vec<Record<'_>>, StoreError> {
    let mut out = Vec::new();
    let mut rest = value;
    let word = |b: &[u8]| -> u64 { u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) };
    while !rest.is_empty() {
        if rest.len() < 20 {
            return Err(StoreError("a damaged segment (short header)".into()));
        }
        let seq = word(&rest[..8]);
        let at_ms = word(&rest[8..16]);
        let len = u32::from_le_bytes(rest[16..20].try_into().unwrap_or([0; 4])) as usize;
        let Some(frame) = rest.get(20..20 + len) else {
            return Err(StoreError("a damaged segment (short frame)".into()));
        };
        out.push(Record { seq, at_ms, frame });
        rest = &rest[20 + len..];
    }
    Ok(out)
}

/// Stores `messages` (one address's, in `seq` order) as segments of at
/// most [`SEGMENT_MAX`]. `buf`: reused between calls.
pub(super) fn append(
    table: &mut Segments<'_>,
    address: &str,
    messages: &[&StoredMessage],
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    for segment in messages.chunks(SEGMENT_MAX) {
        let Some(first) = segment.first() else {
            continue;
        };
        buf.clear();
        for m in segment {
            let record = Record {
                seq: m.seq,
                at_ms: m.stored_at_ms,
                frame: m.frame.as_bytes(),
            };
            record.encode_into(buf);
        }
        table
            .insert((address, first.seq), buf.as_slice())
            .map_err(|e| fail("segment insert")(&e))?;
    }
    Ok(())
}

/// The first key from which messages after `after` can be found.
fn start_of<T: ReadableTable<(&'static str, u64), &'static [u8]>>(
    table: &T,
    address: &str,
    after: u64,
) -> Result<u64, StoreError> {
    let err = fail("segment range");
    let holding = table
        .range((address, 0)..=(address, after.saturating_add(1)))
        .map_err(|e| err(&e))?
        .next_back()
        .transpose()
        .map_err(|e| err(&e))?;
    Ok(holding.map_or(0, |(key, _)| key.value().1))
}

/// Up to `max` messages of `address` after `seq` `after`, in order.
pub(super) fn read<T: ReadableTable<(&'static str, u64), &'static [u8]>>(
    table: &T,
    address: &str,
    after: u64,
    max: usize,
) -> Result<Vec<StoredMessage>, StoreError> {
    let err = fail("segment read");
    let start = start_of(table, address, after)?;
    let mut out = Vec::new();
    for entry in table
        .range((address, start)..=(address, u64::MAX))
        .map_err(|e| err(&e))?
    {
        let (_, value) = entry.map_err(|e| err(&e))?;
        for record in records(value.value())? {
            if record.seq > after {
                out.push(record.to_message()?);
                if out.len() == max {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// The `seq` of the last message of `address` stored before `before_ms`
/// (messages are stored in time order), if any.
pub(super) fn last_before(
    table: &Segments<'_>,
    address: &str,
    before_ms: u64,
) -> Result<Option<u64>, StoreError> {
    let err = fail("segment expiry");
    let mut last = None;
    for entry in table
        .range((address, 0)..=(address, u64::MAX))
        .map_err(|e| err(&e))?
    {
        let (_, value) = entry.map_err(|e| err(&e))?;
        for record in records(value.value())? {
            if record.at_ms >= before_ms {
                return Ok(last);
            }
            last = Some(record.seq);
        }
    }
    Ok(last)
}

/// Deletes `address`'s messages up to `upto`; returns (count, frame bytes)
/// deleted and the stored time of the first message left.
pub(super) fn trim(
    table: &mut Segments<'_>,
    address: &str,
    upto: u64,
    buf: &mut Vec<u8>,
) -> Result<((u64, u64), Option<u64>), StoreError> {
    let err = fail("segment trim");
    let mut covered: Vec<(u64, Vec<u8>)> = Vec::new();
    for entry in table
        .range((address, 0)..=(address, upto))
        .map_err(|e| err(&e))?
    {
        let (key, value) = entry.map_err(|e| err(&e))?;
        covered.push((key.value().1, value.value().to_vec()));
    }
    let mut deleted = (0, 0);
    let mut next_at = None;
    for (first, value) in &covered {
        table.remove((address, *first)).map_err(|e| err(&e))?;
        let records = records(value)?;
        let (gone, kept): (Vec<&Record<'_>>, Vec<&Record<'_>>) =
            records.iter().partition(|r| r.seq <= upto);
        deleted.0 += gone.len() as u64;
        deleted.1 += gone.iter().map(|r| r.frame.len() as u64).sum::<u64>();
        if let Some(head) = kept.first() {
            // The segment this acknowledgement cuts: the rest, re-keyed.
            buf.clear();
            for record in &kept {
                record.encode_into(buf);
            }
            table
                .insert((address, head.seq), buf.as_slice())
                .map_err(|e| err(&e))?;
            next_at = Some(head.at_ms);
        }
    }
    if next_at.is_none() {
        let after = table
            .range((address, upto.saturating_add(1))..=(address, u64::MAX))
            .map_err(|e| err(&e))?
            .next()
            .transpose()
            .map_err(|e| err(&e))?;
        if let Some((_, value)) = after {
            next_at = records(value.value())?.first().map(|r| r.at_ms);
        }
    }
    Ok((deleted, next_at))
}

/// Moves messages of the one-row-per-message table into segments (one
/// message each), then deletes it. Run at open, in its own transaction.
pub(super) fn migrate(write: &WriteTransaction) -> Result<u64, StoreError> {
    let err = fail("inbox migration");
    let old = write.open_table(OLD_INBOX).map_err(|e| err(&e))?;
    let mut segments = write.open_table(SEGMENTS).map_err(|e| err(&e))?;
    let mut moved = Vec::new();
    for entry in old.iter().map_err(|e| err(&e))? {
        let (key, value) = entry.map_err(|e| err(&e))?;
        let (address, seq) = key.value();
        let value = value.value();
        let at_ms = value
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes);
        let mut buf = Vec::new();
        let frame = value.get(8..).unwrap_or_default();
        Record { seq, at_ms, frame }.encode_into(&mut buf);
        moved.push((address.to_owned(), seq, buf));
    }
    for (address, seq, buf) in &moved {
        segments
            .insert((address.as_str(), *seq), buf.as_slice())
            .map_err(|e| err(&e))?;
    }
    drop(old);
    write.delete_table(OLD_INBOX).map_err(|e| err(&e))?;
    Ok(moved.len() as u64)
}
