//! Timers further away than a queue can delay a message (15 minutes). Table `timers`: key
//! `dueMillis|executionId|n`, the [`TimerMessage`] as JSON; index `due` (one partition
//! `due`, sort = the key, so a range query finds every timer due before an instant). The
//! scheduler's tick moves the ones coming due onto the timer queue.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kite_ports::{Document, DocumentStore, Expect, Query, RangeCond};

use super::{RepoError, decode};
use crate::services::messages::TimerMessage;

const TABLE: &str = "timers";
const INDEX: &str = "due";
const PARTITION: &str = "due";

/// The far-timer repository.
#[derive(Clone, Debug)]
pub struct TimerRepo {
    docs: Arc<dyn DocumentStore>,
}

fn sort_key(at: DateTime<Utc>) -> String {
    format!("{:015}", at.timestamp_millis().max(0))
}

impl TimerRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// Stores `timer` (idempotent: the same timer twice is one item).
    pub async fn put(&self, timer: &TimerMessage) -> Result<(), RepoError> {
        let json = serde_json::to_string(timer).map_err(|e| RepoError::Invalid(e.to_string()))?;
        let digest = {
            use sha2::Digest as _;
            let d = sha2::Sha256::digest(json.as_bytes());
            d.iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let key = format!("{}|{}|{digest}", sort_key(timer.at), timer.execution_id);
        let doc = Document::new(json).index(INDEX, PARTITION, key.clone());
        self.docs.put(TABLE, &key, doc, Expect::Any).await?;
        Ok(())
    }

    /// Timers due at or before `until`, earliest first (at most `limit`), with their keys.
    pub async fn due(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(String, TimerMessage)>, RepoError> {
        let q = Query::new(TABLE, INDEX, PARTITION)
            .range(RangeCond::Lt(format!("{}~", sort_key(until))))
            .limit(limit);
        let page = self.docs.query(&q).await?;
        page.items
            .into_iter()
            .map(|item| {
                Ok((
                    item.key.clone(),
                    decode("timer", &item.key, &item.doc.value)?,
                ))
            })
            .collect()
    }

    /// Forgets a timer moved to the queue.
    pub async fn remove(&self, key: &str) -> Result<(), RepoError> {
        self.docs.delete(TABLE, key, Expect::Any).await?;
        Ok(())
    }
}
