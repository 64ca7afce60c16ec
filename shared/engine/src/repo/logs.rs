//! Logs. Table `logs`: one item per append (the lines a task attempt or an executor step
//! produced together, a JSON array), key `executionId|timestamp|digest`; index `execution`
//! (partition = execution id, sort = `timestamp|digest`). One item per append rather than
//! per line: a task's logs cost one write, not one per line inside a transaction.
//!
//! An append is idempotent: the key is derived from the lines' content, so the same lines
//! appended again (a redelivered handler re-sending its outbox) find their item already
//! there. Appends larger than [`CHUNK_BYTES`] are split into several items.

use std::sync::Arc;

use kite_ports::{Document, DocumentError, DocumentStore, Expect, Query, RangeCond};

use super::RepoError;
use crate::model::LogEntry;

const TABLE: &str = "logs";

/// Most bytes of JSON lines stored in one item (the store's limit is 400 000 bytes).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The log repository.
#[derive(Clone, Debug)]
pub struct LogRepo {
    docs: Arc<dyn DocumentStore>,
}

impl LogRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// Appends lines: one item per execution and chunk of at most [`CHUNK_BYTES`].
    pub async fn append(&self, entries: &[LogEntry]) -> Result<(), RepoError> {
        let mut by_execution: Vec<(&str, Vec<String>)> = Vec::new();
        for e in entries {
            let json = serde_json::to_string(e).map_err(|e| RepoError::Invalid(e.to_string()))?;
            match by_execution
                .iter_mut()
                .find(|(id, _)| *id == e.execution_id)
            {
                Some((_, lines)) => lines.push(json),
                None => by_execution.push((&e.execution_id, vec![json])),
            }
        }
        let at = entries
            .iter()
            .map(|e| e.timestamp)
            .min()
            .unwrap_or_default();
        for (execution_id, lines) in by_execution {
            let mut chunk: Vec<String> = Vec::new();
            let mut size = 0;
            for line in lines {
                if !chunk.is_empty() && size + line.len() + 1 > CHUNK_BYTES {
                    self.put_chunk(execution_id, at, &std::mem::take(&mut chunk))
                        .await?;
                    size = 0;
                }
                size += line.len() + 1;
                chunk.push(line);
            }
            if !chunk.is_empty() {
                self.put_chunk(execution_id, at, &chunk).await?;
            }
        }
        Ok(())
    }

    async fn put_chunk(
        &self,
        execution_id: &str,
        at: chrono::DateTime<chrono::Utc>,
        lines: &[String],
    ) -> Result<(), RepoError> {
        let json = format!("[{}]", lines.join(","));
        let digest = {
            use sha2::Digest as _;
            let d = sha2::Sha256::digest(json.as_bytes());
            d.iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let sort = format!("{}|{digest}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        let key = format!("{execution_id}|{sort}");
        let doc = Document::new(json).index("execution", execution_id.to_owned(), sort);
        match self.docs.put(TABLE, &key, doc, Expect::Absent).await {
            Ok(_) => Ok(()),
            // The same lines, appended before.
            Err(DocumentError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Lines of an execution, oldest first (lines of one append keep their order).
    pub async fn of_execution(&self, execution_id: &str) -> Result<Vec<LogEntry>, RepoError> {
        let mut out: Vec<LogEntry> = Vec::new();
        let mut q = Query::new(TABLE, "execution", execution_id)
            .range(RangeCond::All)
            .limit(1000);
        loop {
            let page = self.docs.query(&q).await?;
            for i in &page.items {
                let corrupt = |source| RepoError::Corrupt {
                    what: "log",
                    key: i.key.clone(),
                    source,
                };
                if i.doc.value.starts_with('[') {
                    let lines: Vec<LogEntry> =
                        serde_json::from_str(&i.doc.value).map_err(corrupt)?;
                    out.extend(lines);
                } else {
                    // One line per item, as stored before.
                    out.push(serde_json::from_str(&i.doc.value).map_err(corrupt)?);
                }
            }
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        out.sort_by_key(|e| e.timestamp);
        Ok(out)
    }
}
