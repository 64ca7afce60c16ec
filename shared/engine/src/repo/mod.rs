//! Typed repositories over the [`DocumentStore`] port: flows with revisions, execution
//! records, logs, the KV store, far timers, trigger states and kill requests. Table and index names are the contract with the
//! DynamoDB table design (see ARCHITECTURE.md).

pub mod executions;
pub mod flows;
pub mod kills;
pub mod kv;
pub mod logs;
pub mod timers;
pub mod triggers;

use std::sync::Arc;

use kite_ports::DocumentStore;

pub use executions::ExecutionRepo;
pub use flows::{FlowRepo, StoredFlow};
pub use kills::KillRepo;
pub use kv::KvRepo;
pub use logs::LogRepo;
pub use timers::TimerRepo;
pub use triggers::TriggerRepo;

/// Errors of the repositories.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] kite_ports::DocumentError),
    /// A stored document did not decode.
    #[error("corrupt {what} `{key}`: {source}")]
    Corrupt {
        /// What it was.
        what: &'static str,
        /// Its key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// Not found.
    #[error("{what} `{key}` not found")]
    NotFound {
        /// What.
        what: &'static str,
        /// Key.
        key: String,
    },
    /// Invalid content.
    #[error("{0}")]
    Invalid(String),
}

/// Every repository over one document store.
#[derive(Clone, Debug)]
pub struct Repos {
    docs: Arc<dyn DocumentStore>,
    /// Flows.
    pub flows: FlowRepo,
    /// Executions.
    pub executions: ExecutionRepo,
    /// Logs.
    pub logs: LogRepo,
    /// Key-value store.
    pub kv: KvRepo,
    /// Timers beyond a queue's delay.
    pub timers: TimerRepo,
    /// Trigger states.
    pub triggers: TriggerRepo,
    /// Kill requests for running attempts.
    pub kills: KillRepo,
}

impl Repos {
    /// The underlying document store (for small service-level tables).
    pub fn documents(&self) -> &Arc<dyn DocumentStore> {
        &self.docs
    }

    /// Repositories over `docs`; execution records too large for an item go to `storage`.
    pub fn new(docs: Arc<dyn DocumentStore>, storage: Arc<dyn kite_ports::Storage>) -> Self {
        Self {
            docs: docs.clone(),
            flows: FlowRepo::new(docs.clone()),
            executions: ExecutionRepo::new(docs.clone(), storage),
            logs: LogRepo::new(docs.clone()),
            kv: KvRepo::new(docs.clone()),
            timers: TimerRepo::new(docs.clone()),
            kills: KillRepo::new(docs.clone()),
            triggers: TriggerRepo::new(docs),
        }
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    json: &str,
) -> Result<T, RepoError> {
    serde_json::from_str(json).map_err(|source| RepoError::Corrupt {
        what,
        key: key.to_owned(),
        source,
    })
}
