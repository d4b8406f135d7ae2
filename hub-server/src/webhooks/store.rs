//! Where queued events wait: in memory, or (with `durability = "disk"`) in
//! a redb file beside the inboxes (`webhooks.redb` in `data_dir`), so that
//! a restart — or a crash — posts what was not delivered yet. Each event
//! is kept under its number until its post succeeds or it is given up.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// Event number → its body (the JSON posted).
const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");

/// The users online and the sessions connected, as the queued events
/// tell (`u:<user>` → empty, `s:<client>` → its address): those left at a
/// start were when the node stopped, and are told gone then.
const LIVE: TableDefinition<'_, &str, &str> = TableDefinition::new("live");

/// What an event says of who is live (see `LIVE`).
#[derive(Debug, Clone)]
pub(super) enum Live {
    /// `user_online` (`u:<user>`, empty) or `connected` (`s:<client>`,
    /// its address).
    Came(String, String),
    /// `user_offline` or `disconnected`.
    Went(String),
    /// Nothing.
    Same,
}

/// See the module docs.
pub(super) enum Store {
    /// Nothing outlives the process.
    Memory,
    /// Kept in a redb file.
    Disk(Database),
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Store {
    /// The store in `path`, created if absent.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub(super) fn open(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let named = |e: &dyn std::fmt::Display| format!("{shown}: {e}");
        let db = Database::create(path).map_err(|e| named(&e))?;
        let txn = db.begin_write().map_err(|e| named(&e))?;
        txn.open_table(EVENTS).map_err(|e| named(&e))?;
        txn.open_table(LIVE).map_err(|e| named(&e))?;
        txn.commit().map_err(|e| named(&e))?;
        Ok(Self::Disk(db))
    }

    /// Every kept event, in number order.
    ///
    /// # Errors
    /// The file cannot be read.
    pub(super) fn load(&self) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let Self::Disk(db) = self else {
            return Ok(Vec::new());
        };
        let txn = db.begin_read().map_err(text)?;
        let table = txn.open_table(EVENTS).map_err(text)?;
        let rows = table.iter().map_err(text)?;
        rows.map(|row| {
            let (seq, body) = row.map_err(text)?;
            Ok((seq.value(), body.value().to_vec()))
        })
        .collect()
    }

    /// The users online and sessions connected when the node stopped
    /// (see `LIVE`).
    ///
    /// # Errors
    /// The file cannot be read.
    pub(super) fn live(&self) -> Result<Vec<(String, String)>, String> {
        let Self::Disk(db) = self else {
            return Ok(Vec::new());
        };
        let txn = db.begin_read().map_err(text)?;
        let table = txn.open_table(LIVE).map_err(text)?;
        let rows = table.iter().map_err(text)?;
        rows.map(|row| {
            let (key, value) = row.map_err(text)?;
            Ok((key.value().to_owned(), value.value().to_owned()))
        })
        .collect()
    }

    /// Keeps `events`, and who is live after them (one commit).
    ///
    /// # Errors
    /// The write failed.
    pub(super) fn append(&self, events: &[(u64, &[u8], &Live)]) -> Result<(), String> {
        let Self::Disk(db) = self else {
            return Ok(());
        };
        let txn = db.begin_write().map_err(text)?;
        {
            let mut table = txn.open_table(EVENTS).map_err(text)?;
            let mut live = txn.open_table(LIVE).map_err(text)?;
            for (seq, body, change) in events {
                table.insert(seq, body).map_err(text)?;
                match change {
                    Live::Came(key, value) => live.insert(key.as_str(), value.as_str()).map(drop),
                    Live::Went(key) => live.remove(key.as_str()).map(drop),
                    Live::Same => Ok(()),
                }
                .map_err(text)?;
            }
        }
        txn.commit().map_err(text)
    }

    /// Forgets `done` (one commit).
    ///
    /// # Errors
    /// The write failed.
    pub(super) fn remove(&self, done: &[u64]) -> Result<(), String> {
        let Self::Disk(db) = self else {
            return Ok(());
        };
        let txn = db.begin_write().map_err(text)?;
        {
            let mut table = txn.open_table(EVENTS).map_err(text)?;
            for seq in done {
                table.remove(seq).map_err(text)?;
            }
        }
        txn.commit().map_err(text)
    }
}
