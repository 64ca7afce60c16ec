//! The in-memory installation the engine's end-to-end tests share: a [`Platform`] over the
//! in-memory ports (or ports a test wraps), its pollers running unless turned off, and the
//! helpers the tests drive it with. Each test binary compiles this module on its own, so
//! items one of them does not use are allowed.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use kite_engine::executor::{Event, Expressions};
use kite_engine::model::{Execution, LogEntry};
use kite_engine::repo::Repos;
use kite_engine::services::host::PlatformHost;
use kite_engine::services::poller::{self, PollerConfig};
use kite_engine::services::{CreateOptions, ExecutorMessage, Platform, QueueNames};
use kite_flow::Flow;
use kite_ports::{
    Clock, DocumentStore, MemoryDocuments, MemoryQueue, MemoryStorage, Queue, Storage, StorageKey,
    SystemClock,
};
use serde_json::{Map, Value};
use tokio::sync::watch;

/// Parses a flow written for a test, panicking with its diagnostics when it is invalid.
pub fn parse(source: &str) -> Flow {
    let parsed = kite_flow::parse_flow(source);
    match parsed.flow {
        Some(f) => f,
        None => panic!("invalid test flow:\n{source}\n{:#?}", parsed.diagnostics),
    }
}

/// A JSON object as a map (`null` as an empty one).
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// Saves a flow on `platform` and returns it as stored (with its revision).
pub async fn deploy(platform: &Platform, source: &str) -> Flow {
    let flow = parse(source);
    platform
        .deploy_flow(&flow, source)
        .await
        .expect("save flow");
    platform
        .load_flow(&flow.namespace, &flow.id, None)
        .await
        .expect("load flow")
}

/// The pollers most tests run: two of each, 30 s visibility, 200 ms long polls.
pub fn default_pollers() -> PollerConfig {
    PollerConfig {
        executors: 2,
        workers: 2,
        visibility: Duration::from_secs(30),
        wait: Duration::from_millis(200),
        tick: Duration::from_secs(1),
    }
}

/// Starts the pollers of `platform`; they stop when `true` is sent on the returned sender.
pub fn spawn_pollers(platform: &Arc<Platform>, config: PollerConfig) -> watch::Sender<bool> {
    let (stop, stop_rx) = watch::channel(false);
    let _handles = poller::spawn_all(platform.clone(), config, stop_rx);
    stop
}

/// Builds an installation; every option defaults to the plain in-memory one.
pub struct Setup {
    clock: Arc<dyn Clock>,
    env: Vec<(String, String)>,
    documents: Option<Arc<dyn DocumentStore>>,
    queue: Option<Arc<dyn Queue>>,
    runtime: Option<Box<dyn FnOnce(Expressions) -> Expressions + Send>>,
    pollers: Option<PollerConfig>,
    wait_limit: Duration,
    log_limit: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

impl Setup {
    pub fn new() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            env: Vec::new(),
            documents: None,
            queue: None,
            runtime: None,
            pollers: Some(default_pollers()),
            wait_limit: Duration::from_secs(60),
            log_limit: Duration::from_secs(60),
        }
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// `env` feeds `envs` (`KESTRA_*`) and `secret()` (`SECRET_*`, base64).
    pub fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self
    }

    /// A document store in place of the in-memory one.
    pub fn documents(mut self, documents: Arc<dyn DocumentStore>) -> Self {
        self.documents = Some(documents);
        self
    }

    /// A queue in place of the in-memory one.
    pub fn queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Changes the runtime (limits, subflow depth, encryption key) before the platform
    /// gets it.
    pub fn runtime(
        mut self,
        tweak: impl FnOnce(Expressions) -> Expressions + Send + 'static,
    ) -> Self {
        self.runtime = Some(Box::new(tweak));
        self
    }

    /// The pollers to run, none when `None`.
    pub fn pollers(mut self, config: Option<PollerConfig>) -> Self {
        self.pollers = config;
        self
    }

    /// How long [`Kite::wait_until`] and [`Kite::logs_until`] wait.
    pub fn wait_limits(mut self, execution: Duration, logs: Duration) -> Self {
        self.wait_limit = execution;
        self.log_limit = logs;
        self
    }

    /// The platform alone (no pollers) and its work directory.
    pub async fn platform(self) -> (Arc<Platform>, tempfile::TempDir) {
        let clock = self.clock;
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let documents = self
            .documents
            .unwrap_or_else(|| Arc::new(MemoryDocuments::new(clock.clone())));
        let repos = Repos::new(documents, storage.clone());
        let host = PlatformHost::new(&self.env, storage.clone(), repos.clone(), clock.clone());
        let mut rt = Expressions::new(Arc::new(host), Map::new(), &self.env);
        if let Some(tweak) = self.runtime {
            rt = tweak(rt);
        }
        let queue = self
            .queue
            .unwrap_or_else(|| Arc::new(MemoryQueue::new(clock.clone())));
        let work = tempfile::tempdir().expect("temp dir");
        let platform = Arc::new(Platform::new(
            queue,
            storage,
            repos,
            clock,
            rt,
            QueueNames::with_prefix("t-"),
            work.path().to_path_buf(),
        ));
        platform.ensure_queues().await.expect("queues");
        (platform, work)
    }

    /// The installation, its pollers running (unless turned off).
    pub async fn start(self) -> Kite {
        let pollers = self.pollers;
        let wait_limit = self.wait_limit;
        let log_limit = self.log_limit;
        let (platform, work) = self.platform().await;
        let stop = match pollers {
            Some(config) => spawn_pollers(&platform, config),
            None => watch::channel(false).0,
        };
        Kite {
            platform,
            stop,
            wait_limit,
            log_limit,
            _work: work,
        }
    }
}

/// An in-memory installation; its pollers stop when it is dropped.
pub struct Kite {
    pub platform: Arc<Platform>,
    stop: watch::Sender<bool>,
    wait_limit: Duration,
    log_limit: Duration,
    _work: tempfile::TempDir,
}

impl Drop for Kite {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Kite {
    /// Saves a flow and returns it as stored (with its revision).
    pub async fn deploy(&self, source: &str) -> Flow {
        deploy(&self.platform, source).await
    }

    pub async fn create(&self, flow: &Flow, inputs: Value) -> Execution {
        self.create_with(flow, inputs, CreateOptions::default())
            .await
    }

    pub async fn create_with(&self, flow: &Flow, inputs: Value, opts: CreateOptions) -> Execution {
        self.platform
            .create_execution(flow, obj(inputs), opts)
            .await
            .expect("create execution")
    }

    pub async fn get(&self, id: &str) -> Option<Execution> {
        self.platform.execution(id).await.expect("read execution")
    }

    /// Waits until execution `id` satisfies `pred`.
    pub async fn wait_until(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&Execution) -> bool,
    ) -> Execution {
        let mut ended = self.platform.subscribe_ended();
        let deadline = tokio::time::Instant::now() + self.wait_limit;
        loop {
            if let Some(e) = self.get(id).await
                && pred(&e)
            {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "execution {id} did not become {what} in time: {:#?}",
                    self.get(id).await
                );
            }
            tokio::select! {
                _ = ended.recv() => {}
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }

    pub async fn wait_end(&self, id: &str) -> Execution {
        self.wait_until(id, "terminated", |e| e.state.current.is_terminated())
            .await
    }

    pub async fn execute(&self, flow: &Flow, inputs: Value) -> Execution {
        let created = self.create(flow, inputs).await;
        self.wait_end(&created.id).await
    }

    /// Saves `source`, runs it with `inputs` and returns the ended execution.
    pub async fn run(&self, source: &str, inputs: Value) -> Execution {
        let flow = self.deploy(source).await;
        self.execute(&flow, inputs).await
    }

    /// Log lines of an execution, waiting until `pred` holds for them (logs are
    /// appended after the execution record is written).
    pub async fn logs_until(&self, id: &str, pred: impl Fn(&[LogEntry]) -> bool) -> Vec<LogEntry> {
        let deadline = tokio::time::Instant::now() + self.log_limit;
        loop {
            let logs = self
                .platform
                .repos
                .logs
                .of_execution(id)
                .await
                .expect("logs");
            if pred(&logs) || tokio::time::Instant::now() > deadline {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many executions `namespace` holds (up to 1000).
    pub async fn count(&self, namespace: &str) -> usize {
        self.platform
            .repos
            .executions
            .list(namespace, None, 1000)
            .await
            .expect("list")
            .len()
    }

    /// Stores `content` at `key`; returns its URI.
    pub async fn put(&self, key: &str, content: &str) -> String {
        let key = StorageKey::new(key).expect("key");
        self.platform
            .storage
            .put(&key, content.as_bytes().to_vec().into())
            .await
            .expect("put");
        key.to_uri()
    }

    /// Hands one event to the executor as the queue would.
    pub async fn deliver(&self, execution_id: &str, message_id: &str, event: Event) {
        let body = serde_json::to_string(&ExecutorMessage {
            id: message_id.to_owned(),
            execution_id: execution_id.to_owned(),
            event,
        })
        .expect("json");
        self.platform
            .handle_executor_message(&body)
            .await
            .expect("handled");
    }
}
