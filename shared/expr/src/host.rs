//! The [`Host`] trait: everything an expression may need from the outside world.
//!
//! Rendering is pure: the current time, secrets, files, the KV store and execution
//! logs are all obtained through a [`Host`] supplied with the [`crate::Context`].
//! [`NoHost`] refuses every I/O request with a clear message; [`TestHost`] serves
//! in-memory maps and a fixed clock for tests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

/// I/O-bearing services used by Kestra functions (`now()`, `secret()`, `read()`, `kv()`…).
pub trait Host: Send + Sync {
    /// The current instant; `now()` uses this and never the system clock.
    fn now(&self) -> DateTime<Utc>;
    /// Value of a secret.
    fn secret(&self, key: &str) -> Result<String, String>;
    /// Content of a `kestra://` URI or of a namespace file.
    fn read(&self, uri: &str) -> Result<String, String>;
    /// Size in bytes of an internal-storage file.
    fn file_size(&self, uri: &str) -> Result<u64, String>;
    /// Whether an internal-storage file exists.
    fn file_exists(&self, uri: &str) -> Result<bool, String>;
    /// A KV-store value; returns `Ok(Json::Null)` for a missing key when `error_on_missing` is false.
    fn kv(
        &self,
        namespace: Option<&str>,
        key: &str,
        error_on_missing: bool,
    ) -> Result<Json, String>;
    /// ERROR log entries (`{taskId, message, …}`) of the current execution.
    fn error_logs(&self) -> Vec<Json>;
}

/// A host without any I/O: functions needing it fail with "`x()` is not available here".
///
/// `now()` returns the Unix epoch (the engine never reads the system clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

fn unavailable<T>(what: &str) -> Result<T, String> {
    Err(format!("{what}() is not available here"))
}

impl Host for NoHost {
    fn now(&self) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH
    }
    fn secret(&self, _key: &str) -> Result<String, String> {
        unavailable("secret")
    }
    fn read(&self, _uri: &str) -> Result<String, String> {
        unavailable("read")
    }
    fn file_size(&self, _uri: &str) -> Result<u64, String> {
        unavailable("fileSize")
    }
    fn file_exists(&self, _uri: &str) -> Result<bool, String> {
        unavailable("fileExists")
    }
    fn kv(
        &self,
        _namespace: Option<&str>,
        _key: &str,
        _error_on_missing: bool,
    ) -> Result<Json, String> {
        unavailable("kv")
    }
    fn error_logs(&self) -> Vec<Json> {
        Vec::new()
    }
}

/// An in-memory host for tests: fixed clock, secrets, files and KV entries.
#[derive(Debug, Clone)]
pub struct TestHost {
    /// Value returned by [`Host::now`].
    pub now: DateTime<Utc>,
    /// Secrets by key.
    pub secrets: BTreeMap<String, String>,
    /// File contents by URI.
    pub files: BTreeMap<String, String>,
    /// KV entries by `(namespace, key)`; the namespace `""` is used when none is given.
    pub kv: BTreeMap<(String, String), Json>,
    /// Entries returned by [`Host::error_logs`].
    pub error_logs: Vec<Json>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new(DateTime::UNIX_EPOCH)
    }
}

impl TestHost {
    /// An empty host whose clock is fixed at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            secrets: BTreeMap::new(),
            files: BTreeMap::new(),
            kv: BTreeMap::new(),
            error_logs: Vec::new(),
        }
    }

    /// Adds a secret.
    #[must_use]
    pub fn with_secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(key.into(), value.into());
        self
    }

    /// Adds a file.
    #[must_use]
    pub fn with_file(mut self, uri: impl Into<String>, content: impl Into<String>) -> Self {
        self.files.insert(uri.into(), content.into());
        self
    }

    /// Adds a KV entry (`namespace = None` is the flow's own namespace).
    #[must_use]
    pub fn with_kv(mut self, namespace: Option<&str>, key: impl Into<String>, value: Json) -> Self {
        self.kv.insert(
            (namespace.unwrap_or_default().to_owned(), key.into()),
            value,
        );
        self
    }

    /// Adds an error log entry.
    #[must_use]
    pub fn with_error_log(mut self, entry: Json) -> Self {
        self.error_logs.push(entry);
        self
    }
}

impl Host for TestHost {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        self.secrets
            .get(key)
            .cloned()
            .ok_or_else(|| format!("Cannot find secret for key '{key}'."))
    }
    fn read(&self, uri: &str) -> Result<String, String> {
        self.files
            .get(uri)
            .cloned()
            .ok_or_else(|| format!("Unable to read the file '{uri}'"))
    }
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        self.files
            .get(uri)
            .map(|c| c.len() as u64)
            .ok_or_else(|| format!("Unable to find the file '{uri}'"))
    }
    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        Ok(self.files.contains_key(uri))
    }
    fn kv(
        &self,
        namespace: Option<&str>,
        key: &str,
        error_on_missing: bool,
    ) -> Result<Json, String> {
        let ns = namespace.unwrap_or_default();
        match self.kv.get(&(ns.to_owned(), key.to_owned())) {
            Some(v) => Ok(v.clone()),
            None if error_on_missing => Err(format!(
                "The key '{key}' does not exist in the namespace '{ns}'."
            )),
            None => Ok(Json::Null),
        }
    }
    fn error_logs(&self) -> Vec<Json> {
        self.error_logs.clone()
    }
}
