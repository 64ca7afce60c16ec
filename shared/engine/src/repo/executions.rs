//! Execution records. Table `executions`: key = execution id, the whole [`Record`] as JSON,
//! written with a version condition; indexes `flow` (partition `ns|flowId`) and `namespace`
//! (partition `ns`), both sorted by `startDate|id`.
//!
//! A record larger than [`INLINE_LIMIT`] (an execution with thousands of task runs) keeps
//! its body in internal storage under `_executions/<id>/<n>.json` — a new object per write,
//! so a write that loses the version race never overwrites the winner's body — and the
//! item holds `{"bodyRef": key}` plus the summary fields searches need. A record over
//! [`COMPRESS_ABOVE`] is stored deflated (`{"z": base64}`): JSON compresses several times,
//! and DynamoDB bills writes by the kilobyte, in the table and again in each index.

use std::sync::Arc;

use kite_ports::{Cursor, Document, DocumentStore, Expect, Query, RangeCond, Storage, StorageKey};

use super::{RepoError, decode};
use crate::executor::Record;

const TABLE: &str = "executions";

/// Largest record stored inline in its item (DynamoDB items are at most 400 KB).
pub const INLINE_LIMIT: usize = 300_000;

/// Records larger than this are stored deflated.
pub const COMPRESS_ABOVE: usize = 4096;

fn deflate(json: &str) -> Result<String, RepoError> {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json.as_bytes())
        .and_then(|()| enc.finish())
        .map(|bytes| {
            serde_json::json!({ "z": base64::engine::general_purpose::STANDARD.encode(bytes) })
                .to_string()
        })
        .map_err(|e| RepoError::Invalid(format!("cannot compress a record: {e}")))
}

fn inflate(id: &str, json: &str) -> Result<String, RepoError> {
    use base64::Engine as _;
    use std::io::Read as _;
    let stub: serde_json::Value = decode("execution", id, json)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(stub["z"].as_str().unwrap_or_default())
        .map_err(|e| RepoError::Invalid(format!("execution {id}: bad compressed body: {e}")))?;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .map_err(|e| RepoError::Invalid(format!("execution {id}: bad compressed body: {e}")))?;
    Ok(text)
}

/// The execution repository.
#[derive(Clone, Debug)]
pub struct ExecutionRepo {
    docs: Arc<dyn DocumentStore>,
    storage: Arc<dyn Storage>,
}

impl ExecutionRepo {
    /// Over `docs`, with large bodies in `storage`.
    pub fn new(docs: Arc<dyn DocumentStore>, storage: Arc<dyn Storage>) -> Self {
        Self { docs, storage }
    }

    async fn resolve(&self, id: &str, json: &str) -> Result<Record, RepoError> {
        if json.starts_with("{\"z\":") {
            return decode("execution", id, &inflate(id, json)?);
        }
        if json.len() < 200 && json.contains("\"bodyRef\"") {
            let stub: serde_json::Value = decode("execution", id, json)?;
            let key = stub["bodyRef"].as_str().unwrap_or_default();
            let key = StorageKey::new(key).map_err(|e| RepoError::Invalid(e.to_string()))?;
            let bytes = self
                .storage
                .get(&key)
                .await
                .map_err(|e| RepoError::Invalid(format!("execution {id}: {e}")))?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| RepoError::Invalid(format!("execution {id}: body is not UTF-8")))?;
            // A large body: parsed off the async threads.
            let owned = id.to_owned();
            return match tokio::runtime::Handle::try_current() {
                Ok(h) => h
                    .spawn_blocking(move || decode("execution", &owned, &text))
                    .await
                    .map_err(|e| RepoError::Invalid(format!("execution {id}: {e}")))?,
                Err(_) => decode("execution", id, &text),
            };
        }
        decode("execution", id, json)
    }

    /// A record and its version.
    pub async fn get(&self, id: &str) -> Result<Option<(Record, u64)>, RepoError> {
        match self.docs.get(TABLE, id).await? {
            Some(v) => Ok(Some((self.resolve(id, &v.value).await?, v.version))),
            None => Ok(None),
        }
    }

    /// Writes a record; `expected` settles races (`Absent` to create, `Version` to update).
    pub async fn put(&self, rec: &Record, expected: Expect) -> Result<u64, RepoError> {
        let json = Self::encode(rec)?;
        self.put_encoded(rec, json, expected).await
    }

    /// The JSON a record is stored as (CPU-bound for large records: the executor calls it
    /// off the async threads, then [`ExecutionRepo::put_encoded`]).
    pub fn encode(rec: &Record) -> Result<String, RepoError> {
        serde_json::to_string(rec).map_err(|e| RepoError::Invalid(e.to_string()))
    }

    /// Writes a record already encoded by [`ExecutionRepo::encode`].
    pub async fn put_encoded(
        &self,
        rec: &Record,
        json: String,
        expected: Expect,
    ) -> Result<u64, RepoError> {
        let e = &rec.execution;
        let sort = format!(
            "{}|{}",
            e.state
                .start_date
                .map(|d| d.to_rfc3339())
                .unwrap_or_default(),
            e.id
        );
        let body = if json.len() > INLINE_LIMIT {
            let n = match expected {
                Expect::Version(v) => v + 1,
                _ => 1,
            };
            let key = StorageKey::new(format!(
                "_executions/{}/{n}-{}.json",
                e.id,
                crate::model::ids::random_id()
            ))
            .map_err(|e| RepoError::Invalid(e.to_string()))?;
            self.storage
                .put(&key, bytes::Bytes::from(json))
                .await
                .map_err(|err| {
                    RepoError::Invalid(format!("execution {}: cannot store its body: {err}", e.id))
                })?;
            serde_json::json!({ "bodyRef": key.as_str() }).to_string()
        } else if json.len() > COMPRESS_ABOVE {
            deflate(&json)?
        } else {
            json
        };
        let doc = Document::new(body)
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

    /// Deletes a record if `expected` holds (its version is still the one written).
    pub async fn delete_if(&self, id: &str, expected: Expect) -> Result<bool, RepoError> {
        Ok(self.docs.delete(TABLE, id, expected).await?)
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
        let mut out = Vec::with_capacity(page.items.len());
        for i in &page.items {
            out.push(self.resolve(&i.key, &i.doc.value).await?);
        }
        Ok(out)
    }

    /// One page (at most `limit`, 1..=1000) of the executions of a flow (or of a namespace
    /// when `flow_id` is None), newest first, continuing after `cursor`; the cursor of the
    /// next page is `None` after the last one. (On DynamoDB one call is one query page.)
    pub async fn list_page(
        &self,
        namespace: &str,
        flow_id: Option<&str>,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Record>, Option<Cursor>), RepoError> {
        let (index, partition) = match flow_id {
            Some(f) => ("flow", format!("{namespace}|{f}")),
            None => ("namespace", namespace.to_owned()),
        };
        let mut q = Query::new(TABLE, index, partition)
            .range(RangeCond::All)
            .limit(limit.clamp(1, 1000));
        q.descending = true;
        q.cursor = cursor;
        let page = self.docs.query(&q).await?;
        let mut out = Vec::with_capacity(page.items.len());
        for i in &page.items {
            out.push(self.resolve(&i.key, &i.doc.value).await?);
        }
        Ok((out, page.next))
    }
}
