//! Kite's embedded backends for the local single-process mode
//! (`kite server local`): the [`Queue`](kite_ports::Queue) and
//! [`DocumentStore`](kite_ports::DocumentStore) ports on one SQLite
//! database file, and the [`Storage`](kite_ports::Storage) port on a local
//! directory. They pass the same contract suites as the in-memory twins and
//! the AWS implementations.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use kite_embedded::{DiskStorage, Embedded};
//! use kite_ports::{Queue, QueueSpec, SystemClock};
//!
//! let embedded = Embedded::open("/var/lib/kite/kite.db", Arc::new(SystemClock))?;
//! let queue = embedded.queue();
//! queue.ensure_queue(&QueueSpec::fifo("executions.fifo")).await?;
//! let documents = embedded.documents();
//! let storage = DiskStorage::open("/var/lib/kite/storage").await?;
//! # let _ = (documents, storage);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`db`] | the shared SQLite file: WAL, `synchronous`, schema, blocking-pool access |
//! | [`queue`] | [`SqliteQueue`]: SQS semantics in SQL, long polls woken in-process |
//! | [`documents`] | [`SqliteDocuments`]: versioned items, conditions, index queries, TTL |
//! | [`storage`] | [`DiskStorage`]: objects as files, atomic temp-file-and-rename writes |
//!
//! Tests: `tests/sqlite_contract.rs` runs the contract suites of
//! `kite_ports::contract` on these implementations, plus crash-recovery tests
//! (a real `SIGKILL`ed child process, and drop-and-reopen).

pub mod db;
pub mod documents;
pub mod queue;
pub mod storage;

use std::path::Path;
use std::sync::Arc;

use kite_ports::Clock;

pub use db::{EmbeddedError, EmbeddedOptions, Synchronous};
pub use documents::SqliteDocuments;
pub use queue::SqliteQueue;
pub use storage::DiskStorage;

/// One open embedded database; hands out the queue and document store that
/// share it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Embedded {
    db: Arc<db::Db>,
    clock: Arc<dyn Clock>,
}

impl Embedded {
    /// Opens (creating or migrating) the database file at `path` with the
    /// default options (WAL, `synchronous=FULL`). Blocks briefly: call it at
    /// startup.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        Self::open_with(path, clock, &EmbeddedOptions::default())
    }

    /// Opens the database file at `path` with `options`.
    pub fn open_with(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        options: &EmbeddedOptions,
    ) -> Result<Self, EmbeddedError> {
        let db = db::Db::open(path.as_ref(), options)?;
        Ok(Self {
            db: Arc::new(db),
            clock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The queues stored in this database.
    pub fn queue(&self) -> SqliteQueue {
        SqliteQueue::new(Arc::clone(&self.db), Arc::clone(&self.clock))
    }

    /// The document store in this database.
    pub fn documents(&self) -> SqliteDocuments {
        SqliteDocuments::new(Arc::clone(&self.db), Arc::clone(&self.clock))
    }
}
