//! Logs. Table `logs`: one item per line, key `executionId|timestamp|seq`; index
//! `execution` (partition = execution id, sort = `timestamp|seq`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kite_ports::{Document, DocumentStore, Expect, Query, RangeCond, WriteOp};

use super::{RepoError, decode};
use crate::model::LogEntry;

const TABLE: &str = "logs";

/// The log repository.
#[derive(Clone, Debug)]
pub struct LogRepo {
    docs: Arc<dyn DocumentStore>,
    seq: Arc<AtomicU64>,
}

impl LogRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self {
            docs,
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Appends lines.
    pub async fn append(&self, entries: &[LogEntry]) -> Result<(), RepoError> {
        // One transaction per chunk of lines (DynamoDB: at most 100 items per transaction).
        for chunk in entries.chunks(kite_ports::documents::MAX_TRANSACTION_OPS) {
            let mut ops = Vec::with_capacity(chunk.len());
            for e in chunk {
                let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                let sort = format!("{}|{seq:012}", e.timestamp.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
                let key = format!(
                    "{}|{sort}|{}",
                    e.execution_id,
                    crate::model::ids::random_id()
                );
                let json =
                    serde_json::to_string(e).map_err(|e| RepoError::Invalid(e.to_string()))?;
                let doc = Document::new(json).index("execution", e.execution_id.clone(), sort);
                // Keys are unique (a random suffix): `Absent` needs no read of a previous version.
                ops.push(WriteOp::put(TABLE, key, doc, Expect::Absent));
            }
            if ops.len() == 1 {
                if let Some(WriteOp::Put {
                    table,
                    key,
                    doc,
                    expected,
                }) = ops.pop()
                {
                    self.docs.put(&table, &key, doc, expected).await?;
                }
            } else {
                self.docs.transact(ops).await?;
            }
        }
        Ok(())
    }

    /// Lines of an execution, oldest first.
    pub async fn of_execution(&self, execution_id: &str) -> Result<Vec<LogEntry>, RepoError> {
        let mut out = Vec::new();
        let mut q = Query::new(TABLE, "execution", execution_id)
            .range(RangeCond::All)
            .limit(1000);
        loop {
            let page = self.docs.query(&q).await?;
            for i in &page.items {
                out.push(decode("log", &i.key, &i.doc.value)?);
            }
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }
}
