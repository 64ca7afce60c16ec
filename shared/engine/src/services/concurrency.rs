//! Flow concurrency limits (`concurrency: {limit, behavior}`): a slots document per flow
//! in table `concurrency_slots` (`ns|flowId` → running and queued execution ids), updated
//! with version conditions so concurrent executors never over-admit.
//!
//! A release is idempotent: the slots remember which queued execution each release handed
//! its slot to, so a redelivered release (its handler stopped before sending the unqueue
//! event) hands the same execution again instead of nobody.
//!
//! Errors keep their kind ([`ConcurrencyError`]): a store failure is retried (the message
//! goes back to its queue), a slots document that does not parse fails loudly, naming the
//! document: it is never reset to empty, which could admit more executions than the limit.

use kite_flow::model::concurrency::{Concurrency, ConcurrencyBehavior};
use kite_ports::{Document, DocumentError, Expect};
use serde::{Deserialize, Serialize};

use super::{Platform, ServiceError};

const TABLE: &str = "concurrency_slots";

/// How many recent handoffs (released id → admitted id) the slots remember.
const HANDOFFS: usize = 64;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Slots {
    running: Vec<String>,
    queued: Vec<String>,
    /// Recent releases and the queued execution each one admitted, newest last.
    #[serde(default)]
    handoffs: Vec<(String, String)>,
}

/// What to do with an execution that asks for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Run it.
    Run,
    /// It waits (QUEUED).
    Queued,
    /// End it CANCELLED.
    Cancel,
    /// End it FAILED.
    Fail,
}

/// Why a concurrency slot could not be asked for or released.
#[derive(Debug, thiserror::Error)]
pub enum ConcurrencyError {
    /// The document store failed (an outage, throttling): retrying may succeed.
    #[error("concurrency slots of flow {flow} (execution {execution}): the store failed: {source}")]
    Store {
        /// `namespace.flowId`.
        flow: String,
        /// The execution asking or releasing.
        execution: String,
        /// The store's error.
        #[source]
        source: DocumentError,
    },
    /// The slots document does not parse: nothing is admitted or released until an
    /// operator repairs or deletes it.
    #[error(
        "concurrency slots document `{TABLE}`/`{key}` is corrupt (execution {execution}): \
         {source}; it is not reset (that could admit more executions than the limit): \
         repair or delete it"
    )]
    Corrupt {
        /// The document's key (`namespace|flowId`).
        key: String,
        /// The execution asking or releasing.
        execution: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// Too many concurrent writers kept winning the version race.
    #[error("concurrency slots of flow {flow} are too contended (execution {execution}); retry")]
    Contended {
        /// `namespace.flowId`.
        flow: String,
        /// The execution asking or releasing.
        execution: String,
    },
}

impl ConcurrencyError {
    /// Whether retrying may succeed (a store outage, contention); a corrupt document or a
    /// refused request fails every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConcurrencyError::Store { source, .. } => matches!(
                source,
                DocumentError::Backend { .. } | DocumentError::Conflict { .. }
            ),
            ConcurrencyError::Corrupt { .. } => false,
            ConcurrencyError::Contended { .. } => true,
        }
    }
}

fn key(ns: &str, flow: &str) -> String {
    format!("{ns}|{flow}")
}

impl Platform {
    async fn update_slots<T>(
        &self,
        ns: &str,
        flow: &str,
        id: &str,
        f: impl Fn(&mut Slots) -> T,
    ) -> Result<T, ConcurrencyError> {
        let docs = self.repos.documents();
        let k = key(ns, flow);
        let store = |source| ConcurrencyError::Store {
            flow: format!("{ns}.{flow}"),
            execution: id.to_owned(),
            source,
        };
        for _ in 0..20 {
            let current = docs.get(TABLE, &k).await.map_err(store)?;
            let (mut slots, expect) = match &current {
                Some(v) => (
                    serde_json::from_str::<Slots>(&v.value).map_err(|source| {
                        ConcurrencyError::Corrupt {
                            key: k.clone(),
                            execution: id.to_owned(),
                            source,
                        }
                    })?,
                    Expect::Version(v.version),
                ),
                None => (Slots::default(), Expect::Absent),
            };
            let out = f(&mut slots);
            let json =
                serde_json::to_string(&slots).map_err(|source| ConcurrencyError::Corrupt {
                    key: k.clone(),
                    execution: id.to_owned(),
                    source,
                })?;
            match docs.put(TABLE, &k, Document::new(json), expect).await {
                Ok(_) => return Ok(out),
                Err(DocumentError::Conflict { .. }) => continue,
                Err(e) => return Err(store(e)),
            }
        }
        Err(ConcurrencyError::Contended {
            flow: format!("{ns}.{flow}"),
            execution: id.to_owned(),
        })
    }

    /// Asks for a slot for execution `id`.
    pub async fn admit(
        &self,
        ns: &str,
        flow: &str,
        c: &Concurrency,
        id: &str,
    ) -> Result<Admission, ServiceError> {
        let limit = c.limit.max(1) as usize;
        let behavior = c.behavior;
        self.update_slots(ns, flow, id, |s| {
            if s.running.iter().any(|x| x == id) {
                return Admission::Run;
            }
            if s.running.len() < limit
                && (s.queued.is_empty() || s.queued.first().is_some_and(|q| q == id))
            {
                s.queued.retain(|x| x != id);
                s.running.push(id.to_owned());
                return Admission::Run;
            }
            match behavior {
                ConcurrencyBehavior::Queue => {
                    if !s.queued.iter().any(|x| x == id) {
                        s.queued.push(id.to_owned());
                    }
                    Admission::Queued
                }
                ConcurrencyBehavior::Cancel => Admission::Cancel,
                ConcurrencyBehavior::Fail => Admission::Fail,
            }
        })
        .await
        .map_err(ServiceError::from)
    }

    /// Frees the slot of `id`; returns the queued execution that may now run.
    pub async fn release(
        &self,
        ns: &str,
        flow: &str,
        c: &Concurrency,
        id: &str,
    ) -> Result<Option<String>, ServiceError> {
        let limit = c.limit.max(1) as usize;
        self.update_slots(ns, flow, id, |s| {
            if let Some((_, next)) = s.handoffs.iter().find(|(from, _)| from == id) {
                return Some(next.clone());
            }
            s.running.retain(|x| x != id);
            s.queued.retain(|x| x != id);
            if s.running.len() < limit && !s.queued.is_empty() {
                let next = s.queued.remove(0);
                s.running.push(next.clone());
                s.handoffs.push((id.to_owned(), next.clone()));
                if s.handoffs.len() > HANDOFFS {
                    s.handoffs.remove(0);
                }
                Some(next)
            } else {
                None
            }
        })
        .await
        .map_err(ServiceError::from)
    }
}
