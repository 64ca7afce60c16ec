//! The embedded database: one SQLite file, in WAL mode, shared by the queue
//! and the document store.
//!
//! # Concurrency
//!
//! One connection behind a `std::sync::Mutex`, used only inside
//! `spawn_blocking`, so async tasks never block a runtime worker on SQLite
//! and every operation is one serialized transaction (SQLite has a single
//! writer anyway; a pool would only add `SQLITE_BUSY` handling). Writes use
//! `BEGIN IMMEDIATE` so a read-then-write transaction can never be upgraded
//! into a conflict.
//!
//! # Durability
//!
//! `journal_mode=WAL` with `synchronous=FULL` by default: every commit
//! fsyncs the WAL before `send`, `put` or `delete` returns, so what Kite
//! acknowledged survives a process kill *and* an OS crash or power loss,
//! matching what SQS and DynamoDB promise. `synchronous=NORMAL`
//! ([`Synchronous::Normal`]) is also corruption-safe in WAL mode and survives
//! a process kill, but a power loss may roll back the last commits; choose it
//! only where that is acceptable (scratch runs, benchmarks).
//!
//! # Schema
//!
//! Versioned with `PRAGMA user_version`; [`SCHEMA_VERSION`] is created on a
//! new file, an older one is migrated, a newer one is refused. Times are
//! integer milliseconds since the Unix epoch, read from the injected clock.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Notify;

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = 1;

/// SQLite `synchronous` setting (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL on every commit: acknowledged writes survive power loss.
    #[default]
    Full,
    /// fsync only at checkpoints: survives process kills, not power loss.
    Normal,
}

/// How to open the embedded database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long to wait for a lock held by another process.
    pub busy_timeout: Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Failures opening the embedded database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// SQLite could not open, configure or migrate the file.
    #[error("cannot {step} embedded database {path:?}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer Kite.
    #[error(
        "embedded database {path:?} has schema version {found}, newer than the {supported} \
         this Kite understands; upgrade Kite"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// SQLite refused WAL mode (e.g. on a network file system).
    #[error("embedded database {path:?} could not switch to WAL mode (got `{mode}`)")]
    NoWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
}

/// A failure of one database call.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The shared connection plus the in-process wake-up of long polls.
#[derive(Debug)]
pub(crate) struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Fired after every queue change that could make a message receivable.
    pub(crate) queue_changed: Notify,
}

impl Db {
    pub(crate) fn open(path: &Path, options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let fail = |step: &'static str| {
            move |source| EmbeddedError::Sqlite {
                path: path.to_owned(),
                step,
                source,
            }
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail("open"))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(fail("configure"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(fail("configure"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(EmbeddedError::NoWal {
                path: path.to_owned(),
                mode,
            });
        }
        let synchronous = match options.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(fail("configure"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail("configure"))?;
        let mut db = Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            queue_changed: Notify::new(),
        };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> Result<(), EmbeddedError> {
        let path = self.path.clone();
        let fail = |source| EmbeddedError::Sqlite {
            path: path.clone(),
            step: "migrate",
            source,
        };
        let conn = self.conn.get_mut().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
            .map_err(fail)?;
        let found: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(fail)?;
        if found > SCHEMA_VERSION {
            return Err(EmbeddedError::SchemaTooNew {
                path: path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < 1 {
            tx.execute_batch(SCHEMA_V1).map_err(fail)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(fail)?;
        tx.commit().map_err(fail)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection in the blocking pool.
    pub(crate) async fn call<T, F>(self: &Arc<Self>, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let db = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            // A panic inside `f` unwinds through its open transaction, which
            // rolls back on drop: the connection is consistent again.
            let mut conn = db.conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await?;
        Ok(result?)
    }
}

/// Milliseconds since the epoch, as stored.
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// The instant of stored milliseconds.
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A duration in stored milliseconds (saturating).
pub(crate) fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

const SCHEMA_V1: &str = r"
CREATE TABLE queues (
    name                  TEXT PRIMARY KEY,
    fifo                  INTEGER NOT NULL,
    visibility_timeout_ms INTEGER NOT NULL,
    max_receive_count     INTEGER,
    dead_letter           TEXT
) STRICT;

-- One row per message not yet deleted; rows are deleted, never flagged.
-- `seq` is the send order (a dead-letter move takes a new, larger one).
CREATE TABLE messages (
    seq           INTEGER PRIMARY KEY,
    queue         TEXT NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    group_id      TEXT,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
) STRICT;
CREATE INDEX messages_by_queue ON messages (queue, seq);
CREATE INDEX messages_by_visibility ON messages (queue, visible_at);

-- FIFO deduplication ids, pruned as their 5-minute window ends.
CREATE TABLE dedup (
    queue      TEXT NOT NULL,
    dedup_id   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX dedup_by_expiry ON dedup (queue, expires_at);

CREATE TABLE documents (
    tbl        TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (tbl, key)
) STRICT;
CREATE INDEX documents_by_expiry ON documents (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE document_index (
    tbl  TEXT NOT NULL,
    idx  TEXT NOT NULL,
    part TEXT NOT NULL,
    sort TEXT NOT NULL,
    key  TEXT NOT NULL,
    PRIMARY KEY (tbl, idx, part, sort, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX document_index_by_item ON document_index (tbl, key);
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_in_wal_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kite.db");
        let db = Db::open(&path, &EmbeddedOptions::default()).expect("open");
        {
            let conn = db.conn.lock().expect("lock");
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .expect("pragma");
            assert_eq!(mode, "wal");
            let sync: i64 = conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .expect("pragma");
            assert_eq!(sync, 2, "FULL");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .expect("bump");
        }
        drop(db);
        match Db::open(&path, &EmbeddedOptions::default()) {
            Err(EmbeddedError::SchemaTooNew { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn reopening_keeps_the_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kite.db");
        drop(Db::open(&path, &EmbeddedOptions::default()).expect("create"));
        let options = EmbeddedOptions {
            synchronous: Synchronous::Normal,
            ..EmbeddedOptions::default()
        };
        let db = Db::open(&path, &options).expect("reopen");
        assert_eq!(db.path(), path);
    }
}
