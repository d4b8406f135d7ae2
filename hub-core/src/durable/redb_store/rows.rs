//! How the redb store's rows read and write: an inbox's state tuple, a
//! stored message's value, the receipts and dedupe rows a commit records.

use super::*;

pub(super) fn to_state(t: (u64, u64, u64, u64, u64, u64)) -> InboxState {
    InboxState {
        last_seen_ms: t.0,
        acked: t.1,
        last_seq: t.2,
        count: t.3,
        bytes: t.4,
        first_at_ms: t.5,
    }
}

pub(super) fn from_state(s: &InboxState) -> (u64, u64, u64, u64, u64, u64) {
    (
        s.last_seen_ms,
        s.acked,
        s.last_seq,
        s.count,
        s.bytes,
        s.first_at_ms,
    )
}

type States<'t> = redb::Table<'t, &'static str, (u64, u64, u64, u64, u64, u64)>;

/// An address's state: as changed earlier in this batch, else as stored.
pub(super) fn state_of(
    states: &HashMap<Arc<str>, InboxState>,
    table: &States<'_>,
    address: &Arc<str>,
) -> Result<InboxState, StoreError> {
    Ok(known_state(states, table, address)?.unwrap_or_default())
}

/// An address's state, `None` when the store does not know it (an ack or
/// an expiry for a forgotten address changes nothing).
pub(super) fn known_state(
    states: &HashMap<Arc<str>, InboxState>,
    table: &States<'_>,
    address: &Arc<str>,
) -> Result<Option<InboxState>, StoreError> {
    if let Some(state) = states.get(address) {
        return Ok(Some(*state));
    }
    Ok(table
        .get(&**address)
        .map_err(|e| fail("state")(&e))?
        .map(|v| to_state(v.value())))
}

pub(super) fn stored_at(value: &[u8]) -> u64 {
    value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The frame of a stored value (after its 8-byte time).
pub(super) fn frame_of(value: &[u8]) -> Result<ByteString, StoreError> {
    let frame =
        std::str::from_utf8(value.get(8..).unwrap_or_default()).map_err(|e| fail("frame")(&e))?;
    Ok(ByteString::from(frame.to_owned()))
}

type History<'t> = redb::Table<'t, (&'static str, u64), &'static [u8]>;
type Topics<'t> = redb::Table<'t, &'static str, (&'static str, u64, u64, u64)>;

/// Applies one topic history change: keeps its publication, drops what
/// fell out of history, stores the position. `value`: a reused buffer.
pub(super) fn record(
    history: &mut History<'_>,
    topics: &mut Topics<'_>,
    change: &HistoryChange,
    value: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let err = fail("history");
    let topic = &*change.topic;
    if let Some(p) = &change.publication {
        value.clear();
        value.extend_from_slice(&p.at_ms.to_le_bytes());
        value.extend_from_slice(p.frame.as_bytes());
        history
            .insert((topic, p.offset), value.as_slice())
            .map_err(|e| err(&e))?;
    }
    let position = &change.position;
    if position.covered_from > 0 {
        history
            .retain_in((topic, 0)..(topic, position.covered_from), |_, _| false)
            .map_err(|e| err(&e))?;
    }
    topics
        .insert(
            topic,
            (
                &*position.epoch,
                position.last_offset,
                position.covered_from,
                position.touched_ms,
            ),
        )
        .map_err(|e| err(&e))?;
    Ok(())
}

type Receipts<'t> =
    redb::Table<'t, (&'static str, u64), (&'static str, &'static str, &'static str)>;

/// The receipts of `address`'s messages up to `upto`, removed.
pub(super) fn take_receipts(
    receipts: &mut Receipts<'_>,
    address: &Arc<str>,
    upto: u64,
    delivered: bool,
    fired: &mut Vec<Fired>,
) -> Result<(), StoreError> {
    let err = fail("receipts");
    let mut found = Vec::new();
    for entry in receipts
        .range((&**address, 0)..=(&**address, upto))
        .map_err(|e| err(&e))?
    {
        let (key, value) = entry.map_err(|e| err(&e))?;
        let (sender, id, msg_id) = value.value();
        found.push((
            key.value().1,
            sender.to_owned(),
            id.to_owned(),
            msg_id.to_owned(),
        ));
    }
    for (seq, sender, id, msg_id) in found {
        receipts.remove((&**address, seq)).map_err(|e| err(&e))?;
        fired.push(Fired {
            to: address.clone(),
            receipt: ReceiptTo {
                sender: sender.into(),
                id: (!id.is_empty()).then_some(id),
                msg_id: (!msg_id.is_empty()).then(|| msg_id.into()),
            },
            delivered,
        });
    }
    Ok(())
}
