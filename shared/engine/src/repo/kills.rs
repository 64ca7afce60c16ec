//! Kill requests for running attempts. Table `kills`: key = the task run id, value
//! `{executionId, requestedAt}`, expiring a day after the request (a worker polls it only
//! while an attempt runs; no attempt outlives a day on a worker).
//!
//! Carrying out [`Action::KillTask`](crate::executor::Action::KillTask) writes one; the
//! worker running that task run's attempt reads it ([`crate::worker::kill`]) and ends the
//! attempt KILLED. A request is idempotent: writing it twice is one item.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kite_ports::{Document, DocumentStore, Expect};

use super::RepoError;

const TABLE: &str = "kills";

/// How long a kill request is kept.
pub const KILL_REQUEST_TTL: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The kill-request repository.
#[derive(Clone, Debug)]
pub struct KillRepo {
    docs: Arc<dyn DocumentStore>,
}

impl KillRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// Asks the worker running task run `task_run_id` (of `execution_id`) to stop it, at
    /// `now` (idempotent).
    pub async fn request(
        &self,
        task_run_id: &str,
        execution_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let json = serde_json::json!({
            "taskRunId": task_run_id,
            "executionId": execution_id,
            "requestedAt": now,
        })
        .to_string();
        let doc = Document::new(json).expires_at(now + KILL_REQUEST_TTL);
        self.docs.put(TABLE, task_run_id, doc, Expect::Any).await?;
        Ok(())
    }

    /// Whether a kill of task run `task_run_id` was requested.
    pub async fn requested(&self, task_run_id: &str) -> Result<bool, RepoError> {
        Ok(self.docs.get(TABLE, task_run_id).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kite_ports::{Clock, ManualClock, MemoryDocuments};

    #[tokio::test]
    async fn a_request_is_seen_until_it_expires() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let repo = KillRepo::new(Arc::new(MemoryDocuments::new(clock.clone())));
        assert!(!repo.requested("run-1").await.unwrap());
        repo.request("run-1", "exec", clock.now()).await.unwrap();
        repo.request("run-1", "exec", clock.now()).await.unwrap();
        assert!(repo.requested("run-1").await.unwrap());
        assert!(!repo.requested("run-2").await.unwrap());
        clock.advance(KILL_REQUEST_TTL.to_std().unwrap());
        assert!(!repo.requested("run-1").await.unwrap(), "expired");
    }
}
