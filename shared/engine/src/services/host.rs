//! The [`kite_expr::Host`] of a platform: `secret()` from `SECRET_*` environment variables
//! (base64, as Kestra OSS), `kv()`, `read()`, `fileSize()`, `fileExists()` through the
//! repositories and internal storage, `now()` from the clock.
//!
//! Expression functions are synchronous; the I/O ones block on the async ports with
//! `block_in_place`, which needs the multi-threaded runtime the services run on.
//!
//! Decisions never call it: the executor's service answers a decision's
//! [`crate::executor::Action::Need`] with it, outside `executor::handle`
//! ([`crate::executor::lookups`]); workers call it while rendering a task.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use kite_ports::{Clock, NoSecrets, SecretStore, Storage, StorageKey};
use serde_json::Value;

use crate::repo::Repos;

/// The host of a platform.
pub struct PlatformHost {
    secrets: HashMap<String, String>,
    store: Arc<dyn SecretStore>,
    storage: Arc<dyn Storage>,
    repos: Repos,
    clock: Arc<dyn Clock>,
    namespace: Option<String>,
}

impl std::fmt::Debug for PlatformHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformHost")
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl PlatformHost {
    /// A host reading secrets from `env` (`SECRET_NAME` = base64 of the value).
    pub fn new(
        env: &[(String, String)],
        storage: Arc<dyn Storage>,
        repos: Repos,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let secrets = env
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("SECRET_").map(|n| (n.to_owned(), v.clone())))
            .collect();
        Self {
            secrets,
            store: Arc::new(NoSecrets),
            storage,
            repos,
            clock,
            namespace: None,
        }
    }
}

impl PlatformHost {
    /// Also looks secrets up in `store` (after the environment).
    pub fn with_secret_store(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.store = store;
        self
    }
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(f))
}

impl kite_expr::Host for PlatformHost {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn secret(&self, key: &str) -> Result<String, String> {
        let raw = match self
            .secrets
            .get(key)
            .or_else(|| self.secrets.get(&key.to_ascii_uppercase()))
        {
            Some(raw) => raw.clone(),
            None => match block(self.store.get(key))? {
                // Secrets Manager values are plain text.
                Some(value) => return Ok(value),
                None => {
                    return Err(format!(
                        "Cannot find secret for key '{key}': set the environment variable SECRET_{} to its base64 value (on AWS: create the secret in Secrets Manager)",
                        key.to_ascii_uppercase(),
                    ));
                }
            },
        };
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
            Ok(bytes) => {
                String::from_utf8(bytes).map_err(|_| format!("secret '{key}' is not UTF-8 text"))
            }
            Err(_) => Ok(raw),
        }
    }

    fn read(&self, uri: &str) -> Result<String, String> {
        let key = StorageKey::parse_uri(uri).map_err(|e| e.to_string())?;
        let bytes = block(self.storage.get(&key)).map_err(|e| e.to_string())?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{uri} is not UTF-8 text"))
    }

    fn file_size(&self, uri: &str) -> Result<u64, String> {
        let key = StorageKey::parse_uri(uri).map_err(|e| e.to_string())?;
        block(self.storage.size(&key)).map_err(|e| e.to_string())
    }

    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        let key = StorageKey::parse_uri(uri).map_err(|e| e.to_string())?;
        block(self.storage.exists(&key)).map_err(|e| e.to_string())
    }

    fn kv(
        &self,
        namespace: Option<&str>,
        key: &str,
        error_on_missing: bool,
    ) -> Result<Value, String> {
        let ns = namespace
            .or(self.namespace.as_deref())
            .ok_or("kv() needs a namespace here")?;
        match block(self.repos.kv.get(ns, key)).map_err(|e| e.to_string())? {
            Some(v) => Ok(v),
            None if error_on_missing => Err(format!(
                "no key '{key}' in the KV store of namespace '{ns}'"
            )),
            None => Ok(Value::Null),
        }
    }

    fn error_logs(&self) -> Vec<Value> {
        Vec::new()
    }
}
