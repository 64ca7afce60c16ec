//! A [`Platform`] on the AWS adapters.
//!
//! Configuration comes from the environment, as Terraform sets it on each function:
//! `KITE_PREFIX`, `KITE_TABLE`, `KITE_BUCKET`, `KITE_{EXECUTOR,WORKER,TIMERS}_QUEUE_URL` and
//! `KITE_{EXECUTOR,WORKER,TIMERS}_DLQ_URL` (with the URLs known, a function makes no AWS call
//! to find its queues), `KITE_ENCRYPTION_KEY` (SECRET inputs and outputs are encrypted at
//! rest with it), `KITE_GLOBALS` (a JSON object) and `KITE_WORK_DIR` (task working
//! directories; `/tmp/kite-work`), the execution ceilings `KITE_MAX_TASK_RUNS`,
//! `KITE_MAX_LOOP_VALUES`, `KITE_MAX_RECORD_BYTES` ([`limits`]) and
//! `KITE_MAX_SUBFLOW_DEPTH`. Without them, names derive from the prefix and URLs are
//! looked up once (the emulator mode of `kite`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use kite_engine::executor::Expressions;
use kite_engine::executor::limits::Limits;
use kite_engine::repo::Repos;
use kite_engine::services::host::PlatformHost;
use kite_engine::services::{Platform, QueueNames};
use kite_engine::worker::kill::KillPolling;
use kite_ports::Clock;
use serde_json::{Map, Value};

use crate::config::Clients;
use crate::resources::Resources;
use crate::{DynamoDocuments, S3Storage, SqsQueue};

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct WiringError(pub String);

/// Full names of the resources of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// DynamoDB table.
    pub table: String,
    /// S3 bucket.
    pub bucket: String,
    /// Queue URLs known in advance, by unprefixed queue name.
    pub queue_urls: HashMap<String, String>,
}

impl Names {
    /// From the environment pairs, defaulting to the prefix's names.
    pub fn from_env(clients: &Clients, env: &[(String, String)]) -> Self {
        let get = |k: &str| {
            env.iter()
                .find(|(name, v)| name == k && !v.trim().is_empty())
                .map(|(_, v)| v.clone())
        };
        let res = Resources::load();
        let cfg = &clients.config;
        let mut queue_urls = HashMap::new();
        for (var, queue) in [
            ("KITE_EXECUTOR_QUEUE_URL", "executor.fifo"),
            ("KITE_WORKER_QUEUE_URL", "worker"),
            ("KITE_TIMERS_QUEUE_URL", "timers"),
            ("KITE_EXECUTOR_DLQ_URL", "executor-dlq.fifo"),
            ("KITE_WORKER_DLQ_URL", "worker-dlq"),
            ("KITE_TIMERS_DLQ_URL", "timers-dlq"),
        ] {
            if let Some(url) = get(var) {
                queue_urls.insert(queue.to_owned(), url);
            }
        }
        Self {
            table: get("KITE_TABLE").unwrap_or_else(|| cfg.name(&res.table.name)),
            bucket: get("KITE_BUCKET").unwrap_or_else(|| cfg.name(&res.bucket.name)),
            queue_urls,
        }
    }
}

/// `KITE_GLOBALS` as a JSON object (empty when unset).
pub fn globals(env: &[(String, String)]) -> Result<Map<String, Value>, WiringError> {
    match env.iter().find(|(k, _)| k == "KITE_GLOBALS") {
        Some((_, s)) if !s.trim().is_empty() => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(WiringError("KITE_GLOBALS must be a JSON object".into())),
        },
        _ => Ok(Map::new()),
    }
}

/// The ceilings of each execution: the defaults, overridden by `KITE_MAX_TASK_RUNS`,
/// `KITE_MAX_LOOP_VALUES` and `KITE_MAX_RECORD_BYTES`.
pub fn limits(env: &[(String, String)]) -> Result<Limits, WiringError> {
    Limits::from_env(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .map_err(WiringError)
}

/// A platform on SQS, DynamoDB, S3 and Secrets Manager.
pub fn platform(
    clients: &Clients,
    clock: Arc<dyn Clock>,
    env: &[(String, String)],
) -> Result<Platform, WiringError> {
    let names = Names::from_env(clients, env);
    let queue = if names.queue_urls.is_empty() {
        SqsQueue::new(clients)
    } else {
        SqsQueue::with_urls(clients, names.queue_urls.clone())
    };
    let storage = Arc::new(S3Storage::new(clients, names.bucket.clone()));
    let docs = Arc::new(DynamoDocuments::new(
        clients,
        names.table.clone(),
        clock.clone(),
    ));
    let repos = Repos::new(docs, storage.clone());
    let secrets = Arc::new(crate::secrets::AwsSecrets::new(clients, clock.clone()));
    let host = PlatformHost::new(env, storage.clone(), repos.clone(), clock.clone())
        .with_secret_store(secrets);
    let mut rt = Expressions::new(Arc::new(host), globals(env)?, env);
    rt.max_subflow_depth =
        kite_engine::executor::context::max_subflow_depth(env).map_err(WiringError)?;
    rt.limits = limits(env)?;
    // SECRET inputs and outputs are encrypted at rest with this key.
    if let Some(key) = kite_engine::crypto::EncryptionKey::from_env(env)
        .map_err(|e| WiringError(format!("{}: {e}", kite_engine::crypto::KEY_VARIABLE)))?
    {
        rt = rt.with_encryption_key(key);
    }
    let work_root = env
        .iter()
        .find(|(k, _)| k == "KITE_WORK_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .unwrap_or_else(|| std::env::temp_dir().join("kite-work"));
    Ok(Platform::new(
        Arc::new(queue),
        storage,
        repos,
        clock,
        rt,
        // The SQS adapter prepends the installation prefix.
        QueueNames::with_prefix(""),
        work_root,
    )
    .with_trigger_registry(crate::triggers::registry())
    .with_kill_polling(KillPolling::from_env(env, KillPolling::AWS).map_err(WiringError)?))
}
