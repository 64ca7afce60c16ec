//! Trigger states. Table `triggers`: key `namespace|flowId|triggerId`, the
//! [`TriggerState`] plus a copy of the definition's `disabled` flag. Indexes:
//! - `namespace` (partition = namespace, sort = `flowId|triggerId`): search and the
//!   triggers of one flow;
//! - `trigger_due` (one partition `due`, sort = `dueMillis|key`): the tick reads only the
//!   triggers due before an instant, never every flow;
//! - `trigger_listen` (partition = what the trigger listens to, e.g. `flow` for Flow
//!   triggers, `s3|<bucket>` for S3 detection; sort = key): the executor and the S3
//!   notification handler find the few triggers concerned by an event.
//!
//! [`TriggerRepo::listening_cached`] keeps the answer of a `trigger_listen` query for a
//! short while (the executor asks on every state change of every execution); any write
//! or delete of a trigger state through this repository (deploy, delete, disable, Toggle)
//! forgets it at once in this process. Another process's changes show once it expires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use kite_ports::{Document, DocumentStore, Expect, Query, RangeCond};
use serde::{Deserialize, Serialize};

use super::{RepoError, decode};
use crate::triggers::state::{TriggerState, state_key};

const TABLE: &str = "triggers";
const BY_NAMESPACE: &str = "namespace";
const BY_DUE: &str = "trigger_due";
const DUE_PARTITION: &str = "due";
const BY_LISTEN: &str = "trigger_listen";

/// A stored state with what the repository needs to index it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTrigger {
    /// The state.
    #[serde(flatten)]
    pub state: TriggerState,
    /// The definition's `disabled` (the flow's or the trigger's).
    #[serde(default)]
    pub defined_disabled: bool,
    /// What it listens to (`trigger_listen` partition), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

impl StoredTrigger {
    /// Whether it is disabled (an operator's choice first, then the definition).
    pub fn is_disabled(&self) -> bool {
        self.state.is_disabled(self.defined_disabled)
    }
}

/// The trigger-state repository.
#[derive(Clone, Debug)]
pub struct TriggerRepo {
    docs: Arc<dyn DocumentStore>,
    listeners: Arc<ListenCache>,
}

/// The answer of one `trigger_listen` query and when it was read.
type Listened = (DateTime<Utc>, Arc<Vec<StoredTrigger>>);

/// Answers of `trigger_listen` queries, by partition.
#[derive(Debug, Default)]
struct ListenCache {
    /// Grows on every write: an answer read before a write is not kept after it.
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Listened>>,
}

impl ListenCache {
    fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }
}

fn due_sort(at: DateTime<Utc>) -> String {
    format!("{:015}", at.timestamp_millis().max(0))
}

impl TriggerRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self {
            docs,
            listeners: Arc::default(),
        }
    }

    /// The state of one trigger, with its version.
    pub async fn get(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<Option<(StoredTrigger, u64)>, RepoError> {
        let key = state_key(namespace, flow_id, trigger_id);
        match self.docs.get(TABLE, &key).await? {
            Some(v) => Ok(Some((decode("trigger", &key, &v.value)?, v.version))),
            None => Ok(None),
        }
    }

    /// Writes a state if `expected` holds; returns the new version.
    pub async fn put(&self, t: &StoredTrigger, expected: Expect) -> Result<u64, RepoError> {
        let key = t.state.key();
        let json = serde_json::to_string(t).map_err(|e| RepoError::Invalid(e.to_string()))?;
        let mut doc = Document::new(json).index(
            BY_NAMESPACE,
            &t.state.namespace,
            format!("{}|{}", t.state.flow_id, t.state.trigger_id),
        );
        if let Some(at) = t.state.due_at(t.defined_disabled) {
            doc = doc.index(BY_DUE, DUE_PARTITION, format!("{}|{key}", due_sort(at)));
        }
        if let Some(listen) = &t.listen
            && !t.is_disabled()
        {
            doc = doc.index(BY_LISTEN, listen, key.clone());
        }
        let written = self.docs.put(TABLE, &key, doc, expected).await;
        self.listeners.forget();
        Ok(written?)
    }

    /// Deletes a state.
    pub async fn delete(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<bool, RepoError> {
        let key = state_key(namespace, flow_id, trigger_id);
        let deleted = self.docs.delete(TABLE, &key, Expect::Any).await;
        self.listeners.forget();
        Ok(deleted?)
    }

    /// The states of one flow's triggers.
    pub async fn of_flow(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Vec<(StoredTrigger, u64)>, RepoError> {
        self.scan(
            Query::new(TABLE, BY_NAMESPACE, namespace)
                .range(RangeCond::Prefix(format!("{flow_id}|"))),
        )
        .await
    }

    /// The states of a namespace's triggers (every flow), by flow then trigger id.
    pub async fn of_namespace(
        &self,
        namespace: &str,
    ) -> Result<Vec<(StoredTrigger, u64)>, RepoError> {
        self.scan(Query::new(TABLE, BY_NAMESPACE, namespace)).await
    }

    /// States due at or before `until`, earliest first, at most `limit` (read page by page).
    pub async fn due(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(StoredTrigger, u64)>, RepoError> {
        let mut q = Query::new(TABLE, BY_DUE, DUE_PARTITION)
            .range(RangeCond::Lt(format!("{}~", due_sort(until))))
            .limit(limit.clamp(1, kite_ports::documents::MAX_QUERY_LIMIT));
        let mut out = Vec::new();
        loop {
            let page = self.docs.query(&q).await?;
            for item in page.items {
                if out.len() >= limit {
                    return Ok(out);
                }
                let v = self.docs_version(&item);
                out.push((decode("trigger", &item.key, &item.doc.value)?, v));
            }
            match page.next {
                Some(c) if out.len() < limit => q = q.after(Some(c)),
                _ => return Ok(out),
            }
        }
    }

    /// The enabled states listening to `what` (see the module docs).
    pub async fn listening(&self, what: &str) -> Result<Vec<(StoredTrigger, u64)>, RepoError> {
        self.scan(Query::new(TABLE, BY_LISTEN, what)).await
    }

    /// [`listening`](Self::listening), answered from memory when this process read it
    /// less than `max_age` before `now` and wrote no trigger state since (see the module
    /// docs).
    pub async fn listening_cached(
        &self,
        what: &str,
        now: DateTime<Utc>,
        max_age: chrono::Duration,
    ) -> Result<Arc<Vec<StoredTrigger>>, RepoError> {
        if let Ok(entries) = self.listeners.entries.lock()
            && let Some((at, found)) = entries.get(what)
            && *at <= now
            && now - *at < max_age
        {
            return Ok(found.clone());
        }
        let generation = self.listeners.generation.load(Ordering::SeqCst);
        let found: Arc<Vec<StoredTrigger>> = Arc::new(
            self.listening(what)
                .await?
                .into_iter()
                .map(|(t, _)| t)
                .collect(),
        );
        if let Ok(mut entries) = self.listeners.entries.lock()
            && self.listeners.generation.load(Ordering::SeqCst) == generation
        {
            entries.insert(what.to_owned(), (now, found.clone()));
        }
        Ok(found)
    }

    fn docs_version(&self, item: &kite_ports::QueryItem) -> u64 {
        item.doc.version
    }

    async fn scan(&self, mut q: Query) -> Result<Vec<(StoredTrigger, u64)>, RepoError> {
        let mut out = Vec::new();
        q = q.limit(kite_ports::documents::MAX_QUERY_LIMIT);
        loop {
            let page = self.docs.query(&q).await?;
            for item in page.items {
                let v = self.docs_version(&item);
                out.push((decode("trigger", &item.key, &item.doc.value)?, v));
            }
            match page.next {
                Some(c) => q = q.after(Some(c)),
                None => break,
            }
        }
        Ok(out)
    }
}
