//! Execution records. Table `executions`: key = execution id, the whole [`Record`] as JSON,
//! written with a version condition; indexes `flow` (partition `ns|flowId`) and `namespace`
//! (partition `ns`), both sorted by `startDate|id`.

use std::sync::Arc;

use kite_ports::{Document, DocumentStore, Expect, Query, RangeCond};

use super::{RepoError, decode};
use crate::executor::Record;

const TABLE: &str = "executions";

/// The execution repository.
#[derive(Clone, Debug)]
pub struct ExecutionRepo {
    docs: Arc<dyn DocumentStore>,
}

impl ExecutionRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// A record and its version.
    pub async fn get(&self, id: &str) -> Result<Option<(Record, u64)>, RepoError> {
        match self.docs.get(TABLE, id).await? {
            Some(v) => Ok(Some((decode("execution", id, &v.value)?, v.version))),
            None => Ok(None),
        }
    }

    /// Writes a record; `expected` settles races (`Absent` to create, `Version` to update).
    pub async fn put(&self, rec: &Record, expected: Expect) -> Result<u64, RepoError> {
        let e = &rec.execution;
        let json = serde_json::to_string(rec).map_err(|e| RepoError::Invalid(e.to_string()))?;
        let sort = format!(
            "{}|{}",
            e.state
                .start_date
                .map(|d| d.to_rfc3339())
                .unwrap_or_default(),
            e.id
        );
        let doc = Document::new(json)
            .index(
                "flow",
                format!("{}|{}", e.namespace, e.flow_id),
                sort.clone(),
            )
            .index("namespace", e.namespace.clone(), sort);
        Ok(self.docs.put(TABLE, &e.id, doc, expected).await?)
    }

    /// Deletes a record.
    pub async fn delete(&self, id: &str) -> Result<bool, RepoError> {
        Ok(self.docs.delete(TABLE, id, Expect::Any).await?)
    }

    /// Executions of a flow (or of a namespace when `flow_id` is None), newest first.
    pub async fn list(
        &self,
        namespace: &str,
        flow_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, RepoError> {
        let (index, partition) = match flow_id {
            Some(f) => ("flow", format!("{namespace}|{f}")),
            None => ("namespace", namespace.to_owned()),
        };
        let mut q = Query::new(TABLE, index, partition)
            .range(RangeCond::All)
            .limit(limit.clamp(1, 1000));
        q.descending = true;
        let page = self.docs.query(&q).await?;
        page.items
            .iter()
            .map(|i| decode("execution", &i.key, &i.doc.value))
            .collect()
    }
}
