//! The outbox file: one redb database (pure Rust, ACID; a crash leaves the
//! last committed state), table `entries` (id → the entry as JSON) and
//! `meta` (a format tag, so another program's file is refused). A new entry
//! is committed durably (fsync) before the call that made it returns; state
//! changes after that are committed without waiting for the disk — losing
//! one only means a call is sent again, and the hub answers a repeat of a
//! `msg_id` without a second effect.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::entry::{OutboxEntry, OutboxState};
use crate::error::ClientError;

const ENTRIES: TableDefinition<'_, u64, &str> = TableDefinition::new("entries");
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
const FORMAT: &str = "signal-hub/client-outbox/1";

fn fail(context: &str) -> impl Fn(&dyn std::fmt::Display) -> ClientError + '_ {
    move |e| ClientError::Outbox(format!("{context}: {e}"))
}

/// The outbox file. Calls block (an embedded database works in place);
/// the outbox runs them off the async threads.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the outbox at `path`. A file that is not an
    /// outbox is refused and left as it is.
    pub(crate) fn open(path: &Path) -> Result<Self, ClientError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(&shown)(&e))?;
        }
        let db = Database::create(path).map_err(|e| {
            ClientError::Outbox(format!(
                "{shown} cannot be opened as an outbox ({e}); it was left untouched"
            ))
        })?;
        let read = db.begin_read().map_err(|e| fail(&shown)(&e))?;
        let tagged = match read.open_table(META) {
            Ok(meta) => meta
                .get("format")
                .map_err(|e| fail(&shown)(&e))?
                .map(|v| v.value().to_owned()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(fail(&shown)(&e)),
        };
        let foreign =
            tagged.is_none() && read.list_tables().map_err(|e| fail(&shown)(&e))?.count() > 0;
        drop(read);
        match tagged.as_deref() {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(ClientError::Outbox(format!(
                    "{shown} is a `{other}` file, not an outbox; it was left untouched"
                )))
            }
            None if foreign => {
                return Err(ClientError::Outbox(format!(
                    "{shown} is a database of another program; it was left untouched"
                )))
            }
            None => {
                let write = db.begin_write().map_err(|e| fail(&shown)(&e))?;
                {
                    let mut meta = write.open_table(META).map_err(|e| fail(&shown)(&e))?;
                    meta.insert("format", FORMAT)
                        .map_err(|e| fail(&shown)(&e))?;
                    write.open_table(ENTRIES).map_err(|e| fail(&shown)(&e))?;
                }
                write.commit().map_err(|e| fail(&shown)(&e))?;
            }
        }
        Ok(Self { db })
    }

    /// Every entry, in id order.
    pub(crate) fn load(&self) -> Result<Vec<OutboxEntry>, ClientError> {
        let err = fail("outbox read");
        let read = self.db.begin_read().map_err(|e| err(&e))?;
        let table = read.open_table(ENTRIES).map_err(|e| err(&e))?;
        let mut entries = Vec::new();
        for row in table.iter().map_err(|e| err(&e))? {
            let (_, value) = row.map_err(|e| err(&e))?;
            let entry: OutboxEntry = serde_json::from_str(value.value()).map_err(|e| err(&e))?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Writes `entries` and deletes `gone` in one transaction; `durable`:
    /// on the disk before this returns.
    pub(crate) fn write(
        &self,
        entries: &[OutboxEntry],
        gone: &[u64],
        durable: bool,
    ) -> Result<(), ClientError> {
        let err = fail("outbox write");
        let mut write = self.db.begin_write().map_err(|e| err(&e))?;
        let durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        write.set_durability(durability).map_err(|e| err(&e))?;
        {
            let mut table = write.open_table(ENTRIES).map_err(|e| err(&e))?;
            for entry in entries {
                let json = serde_json::to_string(entry).map_err(|e| err(&e))?;
                table.insert(entry.id, json.as_str()).map_err(|e| err(&e))?;
            }
            for id in gone {
                table.remove(id).map_err(|e| err(&e))?;
            }
        }
        write.commit().map_err(|e| err(&e))
    }
}

/// Whether an entry in `state` counts against the outbox's capacity.
pub(crate) fn counts(state: OutboxState) -> bool {
    !matches!(state, OutboxState::Done | OutboxState::Aborted)
}
