//! [`RedbInboxStore`]: stored direct messages in one redb file (pure Rust,
//! ACID, copy-on-write B-trees; a crash mid-commit leaves the last
//! committed state).
//!
//! Tables: `meta` (the format tag, so a redb file of another program is
//! refused rather than written into), `inbox_segments` ((address, first
//! seq) → the messages one commit stored for that address, see
//! `segments`), `address_state` (address → its [`InboxState`]) and
//! `dedupe` ((sender, msg_id) → fingerprint and time), `history` ((topic,
//! offset) → published-at time and frame) and `topics` (topic → its
//! [`TopicPosition`]). Tables added by a later version are created at open.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytestring::ByteString;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::segments::{self, SEGMENTS};
use super::store::{
    apply_append, apply_trim, Batch, Committed, Fired, HistoryChange, InboxState, InboxStore,
    Loaded, ReceiptTo, Remembered, StoreError, StoredMessage, StoredPublication, StoredTopic,
    TopicPosition,
};

const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
const STATE: TableDefinition<'_, &str, (u64, u64, u64, u64, u64, u64)> =
    TableDefinition::new("address_state");
/// (recipient, seq) → (sender, the send's id as JSON or "", msg_id or ""):
/// who wants a receipt for that message.
const RECEIPTS: TableDefinition<'_, (&str, u64), (&str, &str, &str)> =
    TableDefinition::new("receipts");
/// (sender, msg_id) → (fingerprint high, fingerprint low, first seen).
const DEDUPE: TableDefinition<'_, (&str, &str), (u64, u64, u64)> = TableDefinition::new("dedupe");
/// (sender, msg_id) → the first answer of a publish or broadcast, as JSON.
const OUTCOMES: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("dedupe_outcomes");

/// (topic, offset) → published-at time (8 bytes, little endian) and frame.
const HISTORY: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("history");
/// topic → (epoch, last offset, covered from, touched at).
const TOPICS: TableDefinition<'_, &str, (&str, u64, u64, u64)> = TableDefinition::new("topics");

/// What this file format is; checked at open.
const FORMAT: &str = "signal-hub/inbox/1";

mod rows;
use rows::*;

/// Stored direct messages in a redb file. See the module docs.
pub struct RedbInboxStore {
    db: Database,
    /// Whether the last run closed the store (read at open, before this
    /// run marks it open).
    was_clean: bool,
}

impl std::fmt::Debug for RedbInboxStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbInboxStore").finish_non_exhaustive()
    }
}

/// Why the file could not be opened: in use by another process (another
/// server on the same `data_dir`), or not a store at all.
fn unusable(shown: &str, e: &redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError(format!(
            "{shown} is in use by another process (is another hub-server running with this \
             data_dir?); stop it, or give this server its own data_dir"
        )),
        e => StoreError(format!(
            "{shown} cannot be opened as a Signal Hub store ({e}); \
             it was left untouched: move it away or point data_dir elsewhere"
        )),
    }
}

/// What a redb file says it is.
enum Tag {
    /// A Signal Hub store of this format.
    Ours,
    /// A Signal Hub store of another format.
    Other(String),
    /// Tables, but no tag: another program's.
    Foreign,
    /// Nothing yet: a new file.
    Empty,
}

fn tag(read: &redb::ReadTransaction, shown: &str) -> Result<Tag, StoreError> {
    let tagged = match read.open_table(META) {
        Ok(meta) => meta
            .get("format")
            .map_err(|e| fail(shown)(&e))?
            .map(|v| v.value().to_owned()),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(fail(shown)(&e)),
    };
    Ok(match tagged {
        Some(format) if format == FORMAT => Tag::Ours,
        Some(other) => Tag::Other(other),
        None if read.list_tables().map_err(|e| fail(shown)(&e))?.count() > 0 => Tag::Foreign,
        None => Tag::Empty,
    })
}

fn fail(context: &str) -> impl Fn(&dyn std::fmt::Display) -> StoreError + '_ {
    move |e| StoreError(format!("{context}: {e}"))
}

impl RedbInboxStore {
    /// Opens the store at `path`, creating it (and its directory) if it
    /// does not exist. A file that is not a redb database, or a redb
    /// database of another program, is refused and left as it is.
    ///
    /// # Errors
    /// The file cannot be created, is locked by another process, is
    /// damaged, or is not a Signal Hub store.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(&shown)(&e))?;
        }
        let db = Database::create(path).map_err(|e| unusable(&shown, &e))?;
        let mut store = Self {
            db,
            was_clean: true,
        };
        store.check_format(&shown)?;
        store.ensure_tables().map_err(|e| fail(&shown)(&e.0))?;
        store.was_clean = store.meta("clean")?.as_deref() != Some("false");
        store.set_meta("clean", "false")?;
        Ok(store)
    }

    /// Whether a server could open the store at `path` now, without
    /// changing it: a missing file is fine (it will be created); one in use
    /// by another process, damaged, or of another program is not. For
    /// `check-config`.
    ///
    /// # Errors
    /// Why it could not be opened, as [`Self::open`] would say.
    pub fn check(path: &Path) -> Result<(), StoreError> {
        if !path.exists() {
            return Ok(());
        }
        let shown = path.display().to_string();
        let db = redb::ReadOnlyDatabase::open(path).map_err(|e| unusable(&shown, &e))?;
        let read = db.begin_read().map_err(|e| fail(&shown)(&e))?;
        match tag(&read, &shown)? {
            Tag::Ours | Tag::Empty => Ok(()),
            Tag::Other(other) => Err(StoreError(format!(
                "{shown} is a store of format `{other}`, not `{FORMAT}`"
            ))),
            Tag::Foreign => Err(StoreError(format!(
                "{shown} is a redb database of another program"
            ))),
        }
    }

    /// Tags a new store; refuses a store of another program.
    fn check_format(&self, shown: &str) -> Result<(), StoreError> {
        let read = self.db.begin_read().map_err(|e| fail(shown)(&e))?;
        match tag(&read, shown)? {
            Tag::Ours => Ok(()),
            Tag::Other(other) => Err(StoreError(format!(
                "{shown} is a store of format `{other}`, not `{FORMAT}`; it was left untouched"
            ))),
            Tag::Foreign => Err(StoreError(format!(
                "{shown} is a redb database of another program; it was left untouched"
            ))),
            Tag::Empty => {
                drop(read);
                let write = self.db.begin_write().map_err(|e| fail(shown)(&e))?;
                {
                    let mut meta = write.open_table(META).map_err(|e| fail(shown)(&e))?;
                    meta.insert("format", FORMAT).map_err(|e| fail(shown)(&e))?;
                    write.open_table(SEGMENTS).map_err(|e| fail(shown)(&e))?;
                    write.open_table(STATE).map_err(|e| fail(shown)(&e))?;
                    write.open_table(DEDUPE).map_err(|e| fail(shown)(&e))?;
                    write.open_table(RECEIPTS).map_err(|e| fail(shown)(&e))?;
                }
                write.commit().map_err(|e| fail(shown)(&e))
            }
        }
    }
}

impl RedbInboxStore {
    /// Creates the tables a store of an earlier version lacks, and moves
    /// its messages into segments.
    fn ensure_tables(&self) -> Result<(), StoreError> {
        let err = fail("tables");
        let read = self.db.begin_read().map_err(|e| err(&e))?;
        let old_inbox = read
            .list_tables()
            .map_err(|e| err(&e))?
            .any(|t| t.name() == "inbox");
        drop(read);
        let mut write = self.db.begin_write().map_err(|e| err(&e))?;
        write
            .set_durability(Durability::Immediate)
            .map_err(|e| err(&e))?;
        write.open_table(HISTORY).map_err(|e| err(&e))?;
        write.open_table(TOPICS).map_err(|e| err(&e))?;
        write.open_table(OUTCOMES).map_err(|e| err(&e))?;
        write.open_table(SEGMENTS).map_err(|e| err(&e))?;
        if old_inbox {
            let moved = segments::migrate(&write)?;
            tracing::info!(messages = moved, "stored messages moved into segments");
        }
        write.commit().map_err(|e| err(&e))
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let err = fail("meta");
        let read = self.db.begin_read().map_err(|e| err(&e))?;
        let meta = read.open_table(META).map_err(|e| err(&e))?;
        let value = meta.get(key).map_err(|e| err(&e))?;
        Ok(value.map(|v| v.value().to_owned()))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let err = fail("meta");
        let mut write = self.db.begin_write().map_err(|e| err(&e))?;
        write
            .set_durability(Durability::Immediate)
            .map_err(|e| err(&e))?;
        {
            let mut meta = write.open_table(META).map_err(|e| err(&e))?;
            meta.insert(key, value).map_err(|e| err(&e))?;
        }
        write.commit().map_err(|e| err(&e))
    }
}

impl InboxStore for RedbInboxStore {
    fn load(&mut self) -> Result<Loaded, StoreError> {
        let err = fail("load");
        let read = self.db.begin_read().map_err(|e| err(&e))?;
        let table = read.open_table(STATE).map_err(|e| err(&e))?;
        let mut loaded = Loaded {
            clean: self.was_clean,
            inboxes: Vec::new(),
            remembered: Vec::new(),
            topics: Vec::new(),
        };
        for entry in table.iter().map_err(|e| err(&e))? {
            let (address, state) = entry.map_err(|e| err(&e))?;
            loaded
                .inboxes
                .push((Arc::from(address.value()), to_state(state.value())));
        }
        let dedupe = read.open_table(DEDUPE).map_err(|e| err(&e))?;
        let outcomes = read.open_table(OUTCOMES).map_err(|e| err(&e))?;
        for entry in dedupe.iter().map_err(|e| err(&e))? {
            let (key, value) = entry.map_err(|e| err(&e))?;
            let (sender, msg_id) = key.value();
            let (high, low, at_ms) = value.value();
            let outcome = outcomes
                .get((sender, msg_id))
                .map_err(|e| err(&e))?
                .and_then(|v| serde_json::from_str(v.value()).ok());
            loaded.remembered.push(Remembered {
                sender: sender.into(),
                msg_id: msg_id.into(),
                fingerprint: [high, low],
                at_ms,
                outcome,
            });
        }
        let topics = read.open_table(TOPICS).map_err(|e| err(&e))?;
        let history = read.open_table(HISTORY).map_err(|e| err(&e))?;
        for entry in topics.iter().map_err(|e| err(&e))? {
            let (topic, value) = entry.map_err(|e| err(&e))?;
            let topic = topic.value();
            let (epoch, last_offset, covered_from, touched_ms) = value.value();
            let mut publications = Vec::new();
            for entry in history
                .range((topic, covered_from)..=(topic, u64::MAX))
                .map_err(|e| err(&e))?
            {
                let (key, value) = entry.map_err(|e| err(&e))?;
                let value = value.value();
                publications.push(StoredPublication {
                    offset: key.value().1,
                    at_ms: stored_at(value),
                    frame: frame_of(value)?,
                });
            }
            loaded.topics.push(StoredTopic {
                topic: topic.into(),
                position: TopicPosition {
                    epoch: epoch.into(),
                    last_offset,
                    covered_from,
                    touched_ms,
                },
                publications,
            });
        }
        Ok(loaded)
    }

    fn commit(&mut self, batch: &Batch, sync: bool) -> Result<Committed, StoreError> {
        let err = fail("commit");
        let mut write = self.db.begin_write().map_err(|e| err(&e))?;
        let durability = if sync {
            Durability::Immediate
        } else {
            Durability::None
        };
        write.set_durability(durability).map_err(|e| err(&e))?;
        let mut committed = Committed::default();
        {
            let mut inbox = write.open_table(SEGMENTS).map_err(|e| err(&e))?;
            let mut table = write.open_table(STATE).map_err(|e| err(&e))?;
            let mut receipts = write.open_table(RECEIPTS).map_err(|e| err(&e))?;
            let mut states: HashMap<Arc<str>, InboxState> = HashMap::new();
            for (address, at) in &batch.seen {
                let mut state = state_of(&states, &table, address)?;
                state.last_seen_ms = state.last_seen_ms.max(*at);
                states.insert(address.clone(), state);
            }
            // One buffer for every value of the batch.
            let mut value = Vec::new();
            // One segment per address: its messages of this batch, in order.
            let mut by_address: HashMap<&str, Vec<&StoredMessage>> = HashMap::new();
            for (address, message) in &batch.appends {
                by_address.entry(address).or_default().push(message);
            }
            for (address, messages) in &by_address {
                segments::append(&mut inbox, address, messages, &mut value)?;
            }
            for (address, message) in &batch.appends {
                let mut state = state_of(&states, &table, address)?;
                if let Some(r) = &message.receipt {
                    let id = r.id.as_deref().unwrap_or_default();
                    let msg_id = r.msg_id.as_deref().unwrap_or_default();
                    receipts
                        .insert((&**address, message.seq), (&*r.sender, id, msg_id))
                        .map_err(|e| err(&e))?;
                }
                apply_append(&mut state, message);
                states.insert(address.clone(), state);
            }
            for (address, upto) in &batch.acks {
                let Some(mut state) = known_state(&states, &table, address)? else {
                    continue;
                };
                let (deleted, next) = segments::trim(&mut inbox, address, *upto, &mut value)?;
                take_receipts(&mut receipts, address, *upto, true, &mut committed.receipts)?;
                apply_trim(&mut state, *upto, deleted, next);
                states.insert(address.clone(), state);
            }
            for (address, before_ms) in &batch.expire {
                let Some(mut state) = known_state(&states, &table, address)? else {
                    continue;
                };
                let upto = segments::last_before(&inbox, address, *before_ms)?;
                if let Some(upto) = upto {
                    let (deleted, next) = segments::trim(&mut inbox, address, upto, &mut value)?;
                    take_receipts(&mut receipts, address, upto, false, &mut committed.receipts)?;
                    committed.expired += deleted.0;
                    apply_trim(&mut state, upto, deleted, next);
                }
                states.insert(address.clone(), state);
            }
            for address in &batch.forget {
                segments::trim(&mut inbox, address, u64::MAX, &mut value)?;
                take_receipts(
                    &mut receipts,
                    address,
                    u64::MAX,
                    false,
                    &mut committed.receipts,
                )?;
                table.remove(&**address).map_err(|e| err(&e))?;
                states.remove(address);
            }
            for (address, state) in &states {
                table
                    .insert(&**address, from_state(state))
                    .map_err(|e| err(&e))?;
            }
            let mut dedupe = write.open_table(DEDUPE).map_err(|e| err(&e))?;
            let mut outcomes = write.open_table(OUTCOMES).map_err(|e| err(&e))?;
            for memo in &batch.remember {
                let [high, low] = memo.fingerprint;
                let key = (&*memo.sender, &*memo.msg_id);
                dedupe
                    .insert(key, (high, low, memo.at_ms))
                    .map_err(|e| err(&e))?;
                if let Some(outcome) = &memo.outcome {
                    let json = serde_json::to_string(outcome).map_err(|e| err(&e))?;
                    outcomes.insert(key, json.as_str()).map_err(|e| err(&e))?;
                }
            }
            for (sender, msg_id) in &batch.unremember {
                dedupe.remove((&**sender, &**msg_id)).map_err(|e| err(&e))?;
                outcomes
                    .remove((&**sender, &**msg_id))
                    .map_err(|e| err(&e))?;
            }
            let mut history = write.open_table(HISTORY).map_err(|e| err(&e))?;
            let mut topics = write.open_table(TOPICS).map_err(|e| err(&e))?;
            for change in &batch.history {
                record(&mut history, &mut topics, change, &mut value)?;
            }
            for topic in &batch.forget_topics {
                history
                    .retain_in((&**topic, 0)..=(&**topic, u64::MAX), |_, _| false)
                    .map_err(|e| err(&e))?;
                topics.remove(&**topic).map_err(|e| err(&e))?;
            }
            committed.states = states.into_iter().collect();
        }
        write.commit().map_err(|e| err(&e))?;
        Ok(committed)
    }

    fn read(
        &mut self,
        address: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let err = fail("read");
        let read = self.db.begin_read().map_err(|e| err(&e))?;
        let inbox = read.open_table(SEGMENTS).map_err(|e| err(&e))?;
        segments::read(&inbox, address, after, max)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.set_meta("clean", "true")
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        let err = fail("sync");
        let mut write = self.db.begin_write().map_err(|e| err(&e))?;
        write
            .set_durability(Durability::Immediate)
            .map_err(|e| err(&e))?;
        write.commit().map_err(|e| err(&e))
    }
}

#[cfg(test)]
#[path = "redb_store_tests.rs"]
mod tests;
