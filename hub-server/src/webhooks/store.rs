//! Where queued events wait: in memory, or (with `durability = "disk"`) in
//! a redb file beside the inboxes (`webhooks.redb` in `data_dir`), so that
//! a restart — or a crash — posts what was not delivered yet. Each event
//! is kept under its number until its post succeeds or it is given up.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// Event number → its body (the JSON posted).
const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");

/// The users online, as the queued events tell: those left at a start
/// were online when the node stopped, and are told offline then.
const ONLINE: TableDefinition<'_, &str, ()> = TableDefinition::new("online");

/// What an event says of its user's presence.
#[derive(Debug, Clone, Copy)]
pub(super) enum Online<'a> {
    /// `user_online`.
    Came(&'a str),
    /// `user_offline`.
    Went(&'a str),
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

impl Store {
    /// The store in `path`, created if absent.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub(super) fn open(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let db = Database::create(path).map_err(|e| format!("{shown}: {e}"))?;
        let txn = db.begin_write().map_err(|e| format!("{shown}: {e}"))?;
        txn.open_table(EVENTS)
            .map_err(|e| format!("{shown}: {e}"))?;
        txn.open_table(ONLINE)
            .map_err(|e| format!("{shown}: {e}"))?;
        txn.commit().map_err(|e| format!("{shown}: {e}"))?;
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
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(EVENTS).map_err(|e| e.to_string())?;
        let rows = table.iter().map_err(|e| e.to_string())?;
        rows.map(|row| {
            let (seq, body) = row.map_err(|e| e.to_string())?;
            Ok((seq.value(), body.value().to_vec()))
        })
        .collect()
    }

    /// The users online when the node stopped.
    ///
    /// # Errors
    /// The file cannot be read.
    pub(super) fn online(&self) -> Result<Vec<String>, String> {
        let Self::Disk(db) = self else {
            return Ok(Vec::new());
        };
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(ONLINE).map_err(|e| e.to_string())?;
        let rows = table.iter().map_err(|e| e.to_string())?;
        rows.map(|row| {
            row.map(|(user, _)| user.value().to_owned())
                .map_err(|e| e.to_string())
        })
        .collect()
    }

    /// Keeps `events`, and who is online after them (one commit).
    ///
    /// # Errors
    /// The write failed.
    pub(super) fn append(&self, events: &[(u64, &[u8], Online<'_>)]) -> Result<(), String> {
        let Self::Disk(db) = self else {
            return Ok(());
        };
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(EVENTS).map_err(|e| e.to_string())?;
            let mut online = txn.open_table(ONLINE).map_err(|e| e.to_string())?;
            for (seq, body, change) in events {
                table.insert(seq, body).map_err(|e| e.to_string())?;
                match change {
                    Online::Came(user) => online.insert(*user, ()).map(drop),
                    Online::Went(user) => online.remove(*user).map(drop),
                    Online::Same => Ok(()),
                }
                .map_err(|e| e.to_string())?;
            }
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// Forgets `done` (one commit).
    ///
    /// # Errors
    /// The write failed.
    pub(super) fn remove(&self, done: &[u64]) -> Result<(), String> {
        let Self::Disk(db) = self else {
            return Ok(());
        };
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(EVENTS).map_err(|e| e.to_string())?;
            for seq in done {
                table.remove(seq).map_err(|e| e.to_string())?;
            }
        }
        txn.commit().map_err(|e| e.to_string())
    }
}
