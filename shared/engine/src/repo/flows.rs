//! Flows with revisions. Table `flows`: the latest revision under `ns|id`, each revision
//! under `ns|id|rev`; index `namespace` (partition = namespace, sort = id).

use std::sync::Arc;

use kite_ports::{Document, DocumentStore, Expect, Query, RangeCond, WriteOp};
use serde::{Deserialize, Serialize};

use super::{RepoError, decode};

const TABLE: &str = "flows";

/// A stored flow: its YAML source and revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFlow {
    /// Namespace.
    pub namespace: String,
    /// Id.
    pub id: String,
    /// Revision (from 1).
    pub revision: u32,
    /// YAML source as submitted.
    pub source: String,
    /// Soft-deleted.
    #[serde(default)]
    pub deleted: bool,
}

impl StoredFlow {
    /// Parses the source; the revision is set from the store.
    pub fn parse(&self) -> Result<kite_flow::Flow, RepoError> {
        let mut flow = kite_flow::parse_flow(&self.source)
            .into_result()
            .map_err(|errs| {
                RepoError::Invalid(
                    errs.iter()
                        .map(|d| d.render("flow"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            })?;
        flow.revision = Some(self.revision);
        Ok(flow)
    }
}

/// The flow repository.
#[derive(Clone, Debug)]
pub struct FlowRepo {
    docs: Arc<dyn DocumentStore>,
}

fn key(ns: &str, id: &str) -> String {
    format!("{ns}|{id}")
}

impl FlowRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// The latest revision.
    pub async fn get(&self, ns: &str, id: &str) -> Result<Option<StoredFlow>, RepoError> {
        let k = key(ns, id);
        match self.docs.get(TABLE, &k).await? {
            Some(v) => {
                let f: StoredFlow = decode("flow", &k, &v.value)?;
                Ok((!f.deleted).then_some(f))
            }
            None => Ok(None),
        }
    }

    /// A given revision (latest when None).
    pub async fn get_revision(
        &self,
        ns: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<StoredFlow>, RepoError> {
        let Some(rev) = revision else {
            return self.get(ns, id).await;
        };
        let k = format!("{}|{rev}", key(ns, id));
        match self.docs.get(TABLE, &k).await? {
            Some(v) => Ok(Some(decode("flow revision", &k, &v.value)?)),
            None => Ok(None),
        }
    }

    /// Saves `source` as a new revision unless it equals the latest (then returns it as is).
    /// Concurrent saves are settled by a conditional write on the latest item.
    pub async fn save(
        &self,
        flow: &kite_flow::Flow,
        source: &str,
    ) -> Result<StoredFlow, RepoError> {
        for _ in 0..5 {
            let k = key(&flow.namespace, &flow.id);
            let current = self.docs.get(TABLE, &k).await?;
            let (expect, next_rev) = match &current {
                Some(v) => {
                    let f: StoredFlow = decode("flow", &k, &v.value)?;
                    if f.source == source && !f.deleted {
                        return Ok(f);
                    }
                    (Expect::Version(v.version), f.revision + 1)
                }
                None => (Expect::Absent, 1),
            };
            let stored = StoredFlow {
                namespace: flow.namespace.clone(),
                id: flow.id.clone(),
                revision: next_rev,
                source: source.to_owned(),
                deleted: false,
            };
            let json =
                serde_json::to_string(&stored).map_err(|e| RepoError::Invalid(e.to_string()))?;
            let latest = Document::new(json.clone()).index("namespace", &flow.namespace, &flow.id);
            let rev = Document::new(json);
            let ops = vec![
                WriteOp::put(TABLE, k.clone(), latest, expect),
                WriteOp::put(TABLE, format!("{k}|{next_rev}"), rev, Expect::Any),
            ];
            match self.docs.transact(ops).await {
                Ok(_) => return Ok(stored),
                Err(kite_ports::DocumentError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RepoError::Invalid(format!(
            "flow {}.{} is being updated concurrently; retry",
            flow.namespace, flow.id
        )))
    }

    /// Soft-deletes a flow (a new revision marked deleted).
    pub async fn delete(&self, ns: &str, id: &str) -> Result<bool, RepoError> {
        let k = key(ns, id);
        let Some(v) = self.docs.get(TABLE, &k).await? else {
            return Ok(false);
        };
        let mut f: StoredFlow = decode("flow", &k, &v.value)?;
        if f.deleted {
            return Ok(false);
        }
        f.deleted = true;
        f.revision += 1;
        let json = serde_json::to_string(&f).map_err(|e| RepoError::Invalid(e.to_string()))?;
        self.docs
            .put(TABLE, &k, Document::new(json), Expect::Version(v.version))
            .await?;
        Ok(true)
    }

    /// Every latest flow of a namespace.
    pub async fn list(&self, ns: &str) -> Result<Vec<StoredFlow>, RepoError> {
        let mut out = Vec::new();
        let mut q = Query::new(TABLE, "namespace", ns)
            .range(RangeCond::All)
            .limit(1000);
        loop {
            let page = self.docs.query(&q).await?;
            for item in page.items {
                let f: StoredFlow = decode("flow", &item.key, &item.doc.value)?;
                if !f.deleted {
                    out.push(f);
                }
            }
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    /// Every revision of a flow, oldest first.
    pub async fn revisions(&self, ns: &str, id: &str) -> Result<Vec<StoredFlow>, RepoError> {
        let Some(latest) = self.docs.get(TABLE, &key(ns, id)).await? else {
            return Ok(Vec::new());
        };
        let latest: StoredFlow = decode("flow", &key(ns, id), &latest.value)?;
        let mut out = Vec::new();
        for rev in 1..=latest.revision {
            if let Some(f) = self.get_revision(ns, id, Some(rev)).await? {
                out.push(f);
            }
        }
        Ok(out)
    }
}
