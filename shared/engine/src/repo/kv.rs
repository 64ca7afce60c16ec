//! The namespace key-value store. Table `kv_store`: key `namespace|key`, value `{type, value}`,
//! TTL through the item expiry; index `namespace` (sort = key).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kite_ports::{Document, DocumentStore, Expect, Query, RangeCond};
use serde_json::Value;

use super::{RepoError, decode};

const TABLE: &str = "kv_store";

/// The KV repository.
#[derive(Clone, Debug)]
pub struct KvRepo {
    docs: Arc<dyn DocumentStore>,
}

fn key(ns: &str, k: &str) -> String {
    format!("{ns}|{k}")
}

impl KvRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// The value of `k` in `ns`.
    pub async fn get(&self, ns: &str, k: &str) -> Result<Option<Value>, RepoError> {
        let key = key(ns, k);
        match self.docs.get(TABLE, &key).await? {
            Some(v) => {
                let doc: Value = decode("kv", &key, &v.value)?;
                Ok(Some(doc.get("value").cloned().unwrap_or(Value::Null)))
            }
            None => Ok(None),
        }
    }

    /// Sets `k` (fails with a conflict when it exists and `overwrite` is false).
    pub async fn set(
        &self,
        ns: &str,
        k: &str,
        value: Value,
        expires_at: Option<DateTime<Utc>>,
        overwrite: bool,
    ) -> Result<(), RepoError> {
        let json = serde_json::json!({"key": k, "value": value}).to_string();
        let mut doc = Document::new(json).index("namespace", ns, k);
        if let Some(at) = expires_at {
            doc = doc.expires_at(at);
        }
        let expect = if overwrite {
            Expect::Any
        } else {
            Expect::Absent
        };
        self.docs.put(TABLE, &key(ns, k), doc, expect).await?;
        Ok(())
    }

    /// Deletes `k`; whether it existed.
    pub async fn delete(&self, ns: &str, k: &str) -> Result<bool, RepoError> {
        Ok(self.docs.delete(TABLE, &key(ns, k), Expect::Any).await?)
    }

    /// Keys of `ns` starting with `prefix`.
    pub async fn keys(&self, ns: &str, prefix: Option<&str>) -> Result<Vec<String>, RepoError> {
        let range = match prefix {
            Some(p) if !p.is_empty() => RangeCond::Prefix(p.to_owned()),
            _ => RangeCond::All,
        };
        let mut q = Query::new(TABLE, "namespace", ns).range(range).limit(1000);
        let mut out = Vec::new();
        loop {
            let page = self.docs.query(&q).await?;
            out.extend(page.items.iter().map(|i| i.sort.clone()));
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }
}
