//! Flow concurrency limits (`concurrency: {limit, behavior}`): a slots document per flow
//! in table `concurrency_slots` (`ns|flowId` → running and queued execution ids), updated
//! with version conditions so concurrent executors never over-admit.
//!
//! A release is idempotent: the slots remember which queued execution each release handed
//! its slot to, so a redelivered release (its handler stopped before sending the unqueue
//! event) hands the same execution again instead of nobody.

use kite_flow::model::concurrency::{Concurrency, ConcurrencyBehavior};
use kite_ports::{Document, Expect};
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

fn key(ns: &str, flow: &str) -> String {
    format!("{ns}|{flow}")
}

impl Platform {
    async fn update_slots<T>(
        &self,
        ns: &str,
        flow: &str,
        f: impl Fn(&mut Slots) -> T,
    ) -> Result<T, ServiceError> {
        let docs = self.repos.documents();
        for _ in 0..20 {
            let k = key(ns, flow);
            let current = docs
                .get(TABLE, &k)
                .await
                .map_err(|e| ServiceError::Other(e.to_string()))?;
            let (mut slots, expect) = match &current {
                Some(v) => (
                    serde_json::from_str::<Slots>(&v.value).unwrap_or_default(),
                    Expect::Version(v.version),
                ),
                None => (Slots::default(), Expect::Absent),
            };
            let out = f(&mut slots);
            let json =
                serde_json::to_string(&slots).map_err(|e| ServiceError::Other(e.to_string()))?;
            match docs.put(TABLE, &k, Document::new(json), expect).await {
                Ok(_) => return Ok(out),
                Err(kite_ports::DocumentError::Conflict { .. }) => continue,
                Err(e) => return Err(ServiceError::Other(e.to_string())),
            }
        }
        Err(ServiceError::Other(format!(
            "concurrency slots of {ns}.{flow} are too contended; retry"
        )))
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
        self.update_slots(ns, flow, |s| {
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
        self.update_slots(ns, flow, |s| {
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
    }
}
