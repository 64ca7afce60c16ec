//! The four components as message handlers over ports, and the pollers that drive them
//! locally (in AWS, Lambda event sources drive the same handlers).
//!
//! - executor: [`Platform::handle_executor_messages`] (FIFO queue, group = execution id;
//!   see [`events`]);
//! - worker: [`Platform::handle_worker_message`];
//! - scheduler: [`Platform::handle_timer_message`] (timers longer than a queue delay are
//!   re-enqueued until due);
//! - the webserver calls [`Platform::create_execution`], [`Platform::send_event`] and the
//!   repositories.

pub mod concurrency;
pub mod dispatch;
pub mod events;
pub mod host;
pub mod messages;
pub mod poller;
pub mod replay;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kite_flow::Flow;
use kite_ports::{Clock, Expect, OutgoingMessage, Queue, QueueSpec, Storage};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use crate::executor::{self, Event, Expressions, Record, SubflowRequest};
use crate::model::{Execution, ExecutionTrigger, Label, State, ids};
use crate::repo::{RepoError, Repos};
use crate::worker::Runners;
pub use messages::{ExecutorMessage, TimerMessage};

/// Largest message body sent inline; larger ones travel by reference through storage.
pub const MAX_INLINE_MESSAGE: usize = 200 * 1024;
const PAYLOAD_REF: &str = "$payload";

/// Longest delay a queue message may carry (SQS: 15 minutes).
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(15 * 60);

/// Errors of the services.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// A queue failed.
    #[error(transparent)]
    Queue(#[from] kite_ports::QueueError),
    /// A message did not decode.
    #[error("malformed {what} message: {source}")]
    Malformed {
        /// Which queue.
        what: &'static str,
        /// Why.
        source: serde_json::Error,
    },
    /// The flow does not exist.
    #[error("flow {namespace}.{id} not found")]
    FlowNotFound {
        /// Namespace.
        namespace: String,
        /// Id.
        id: String,
    },
    /// Invalid inputs.
    #[error("invalid inputs: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Inputs(Vec<kite_flow::inputs::InputError>),
    /// A decision could not be completed.
    #[error("execution {execution}, event {event}: the decision failed: {reason}")]
    Decision {
        /// The execution.
        execution: String,
        /// The event being applied.
        event: String,
        /// Why.
        reason: String,
    },
    /// Flow concurrency slots could not be asked for or released.
    #[error(transparent)]
    Concurrency(Box<concurrency::ConcurrencyError>),
    /// Anything else, with a message for humans.
    #[error("{0}")]
    Other(String),
}

impl From<concurrency::ConcurrencyError> for ServiceError {
    fn from(e: concurrency::ConcurrencyError) -> Self {
        ServiceError::Concurrency(Box::new(e))
    }
}

impl ServiceError {
    /// Whether retrying may succeed: the store or a queue failed (throttling, a network
    /// error, a lost race). Malformed messages, missing flows and the like fail every time.
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceError::Repo(_) | ServiceError::Queue(_) => true,
            ServiceError::Concurrency(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Options of [`Platform::create_execution`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Labels added to the flow's.
    pub labels: Vec<Label>,
    /// What started it.
    pub trigger: Option<ExecutionTrigger>,
    /// Its id (random when None).
    pub id: Option<String>,
    /// Deprecated Subflow `outputs`, rendered by the child when it ends.
    pub subflow_outputs: Option<Map<String, Value>>,
    /// Start at this date (the execution stays CREATED until then).
    pub schedule_date: Option<DateTime<Utc>>,
}

/// Parsed flows by (namespace, id, revision).
type FlowCache = std::collections::HashMap<(String, String, u32), Flow>;

/// Queue names of one installation.
#[derive(Debug, Clone)]
pub struct QueueNames {
    /// The executor's FIFO queue.
    pub executor: String,
    /// The worker queue.
    pub worker: String,
    /// The timer queue (delayed messages).
    pub timers: String,
}

impl QueueNames {
    /// Names with `prefix`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            executor: format!("{prefix}executor.fifo"),
            worker: format!("{prefix}worker"),
            timers: format!("{prefix}timers"),
        }
    }

    /// The dead-letter queue of queue `name` (`worker` → `worker-dlq`,
    /// `executor.fifo` → `executor-dlq.fifo`).
    pub fn dead_letter_of(name: &str) -> String {
        match name.strip_suffix(".fifo") {
            Some(base) => format!("{base}-dlq.fifo"),
            None => format!("{name}-dlq"),
        }
    }

    /// Queue definitions (each with its dead-letter queue).
    pub fn specs(&self) -> Vec<QueueSpec> {
        let dlq = Self::dead_letter_of;
        let mut out = Vec::new();
        for (name, fifo) in [
            (&self.executor, true),
            (&self.worker, false),
            (&self.timers, false),
        ] {
            let d = dlq(name);
            let (q, dq) = if fifo {
                (QueueSpec::fifo(name.clone()), QueueSpec::fifo(d.clone()))
            } else {
                (
                    QueueSpec::standard(name.clone()),
                    QueueSpec::standard(d.clone()),
                )
            };
            out.push(dq);
            out.push(
                q.with_visibility_timeout(Duration::from_secs(60))
                    .with_dead_letter(d, 10),
            );
        }
        out
    }
}

/// One installation's ports, repositories and configuration.
#[derive(Clone)]
pub struct Platform {
    /// Messages.
    pub queue: Arc<dyn Queue>,
    /// Internal storage.
    pub storage: Arc<dyn Storage>,
    /// Repositories.
    pub repos: Repos,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Rendering.
    pub rt: Expressions,
    /// Queue names.
    pub names: QueueNames,
    /// Task runners.
    pub runners: Runners,
    /// Root of worker working directories.
    pub work_root: PathBuf,
    ended: broadcast::Sender<(String, State)>,
    flows: Arc<std::sync::Mutex<FlowCache>>,
    records: Arc<events::RecordCache>,
    tick_hooks: Vec<Arc<dyn TickHook>>,
    decision_hook: Option<DecisionHook>,
    /// Tick-trigger implementations (schedules, polling triggers).
    pub triggers: Arc<crate::triggers::TriggerRegistry>,
    /// How the tick treats time.
    pub tick_config: crate::triggers::TickConfig,
    /// How the worker watches for kills of the attempts it runs.
    pub kill_polling: crate::worker::kill::KillPolling,
}

/// Called on the blocking pool as each decision starts, with the execution id (tests use
/// it to hold a decision while they check that the rest of the process still answers).
pub type DecisionHook = Arc<dyn Fn(&str) + Send + Sync>;

/// What a scheduler tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Far timers moved onto the timer queue.
    pub timers_released: usize,
    /// Hooks run.
    pub hooks: usize,
    /// What the trigger pass did.
    pub triggers: crate::triggers::tick::TriggerTick,
}

/// Work run on every scheduler tick (every minute on AWS, every second locally): the
/// place where trigger evaluation (cron schedules, polling triggers) plugs in.
#[async_trait::async_trait]
pub trait TickHook: Send + Sync {
    /// Runs once per tick at `now`.
    async fn tick(&self, platform: &Platform, now: DateTime<Utc>) -> Result<(), ServiceError>;
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// A platform over these ports.
    pub fn new(
        queue: Arc<dyn Queue>,
        storage: Arc<dyn Storage>,
        repos: Repos,
        clock: Arc<dyn Clock>,
        rt: Expressions,
        names: QueueNames,
        work_root: PathBuf,
    ) -> Self {
        let (ended, _) = broadcast::channel(1024);
        Self {
            flows: Arc::default(),
            records: Arc::default(),
            queue,
            storage,
            repos,
            clock,
            rt,
            names,
            runners: Runners::core(),
            work_root,
            ended,
            tick_hooks: Vec::new(),
            decision_hook: None,
            triggers: Arc::new(crate::triggers::TriggerRegistry::core()),
            tick_config: crate::triggers::TickConfig::default(),
            kill_polling: crate::worker::kill::KillPolling::default(),
        }
    }

    /// Uses `polling` to watch for kills of running attempts (200 ms locally, 2 s on AWS).
    #[must_use]
    pub fn with_kill_polling(mut self, polling: crate::worker::kill::KillPolling) -> Self {
        self.kill_polling = polling;
        self
    }

    /// Uses `registry` for tick triggers (the AWS wiring adds S3 and SQS triggers).
    #[must_use]
    pub fn with_trigger_registry(mut self, registry: crate::triggers::TriggerRegistry) -> Self {
        self.triggers = Arc::new(registry);
        self
    }

    /// Uses `config` for the tick (every second locally, every minute on AWS).
    #[must_use]
    pub fn with_tick_config(mut self, config: crate::triggers::TickConfig) -> Self {
        self.tick_config = config;
        self
    }

    /// Saves `flow` (parsed from `source`) as a new revision when it changed and brings its
    /// trigger states in step; returns the stored revision.
    pub async fn deploy_flow(
        &self,
        flow: &Flow,
        source: &str,
    ) -> Result<crate::repo::StoredFlow, ServiceError> {
        let stored = self.repos.flows.save(flow, source).await?;
        crate::triggers::sync::on_flow_saved(self, flow, stored.revision).await?;
        Ok(stored)
    }

    /// Deletes a flow and its trigger states; `false` when there was no such flow.
    pub async fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool, ServiceError> {
        let deleted = self.repos.flows.delete(namespace, id).await?;
        crate::triggers::sync::on_flow_deleted(self, namespace, id).await?;
        Ok(deleted)
    }

    /// Calls `hook` on the blocking pool as each decision starts (see [`DecisionHook`]).
    #[must_use]
    pub fn with_decision_hook(mut self, hook: DecisionHook) -> Self {
        self.decision_hook = Some(hook);
        self
    }

    /// A platform over these ports with the default host: no environment, no globals, no
    /// secret store (tests and tools; the binaries wire their own host).
    pub fn on_ports(
        queue: Arc<dyn Queue>,
        storage: Arc<dyn Storage>,
        docs: Arc<dyn kite_ports::DocumentStore>,
        clock: Arc<dyn Clock>,
        names: QueueNames,
        work_root: PathBuf,
    ) -> Self {
        let repos = Repos::new(docs, storage.clone());
        let host = host::PlatformHost::new(&[], storage.clone(), repos.clone(), clock.clone());
        let rt = Expressions::new(Arc::new(host), Map::new(), &[]);
        Self::new(queue, storage, repos, clock, rt, names, work_root)
    }

    /// A platform on in-memory ports and the system clock (tests).
    pub fn in_memory(names: QueueNames, work_root: PathBuf) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(kite_ports::SystemClock);
        Self::on_ports(
            Arc::new(kite_ports::MemoryQueue::new(clock.clone())),
            Arc::new(kite_ports::MemoryStorage::new()),
            Arc::new(kite_ports::MemoryDocuments::new(clock.clone())),
            clock,
            names,
            work_root,
        )
    }

    /// Creates the queues.
    pub async fn ensure_queues(&self) -> Result<(), ServiceError> {
        for spec in self.names.specs() {
            self.queue.ensure_queue(&spec).await?;
        }
        Ok(())
    }

    /// Executions ending in this process, as `(id, state)`.
    pub fn subscribe_ended(&self) -> broadcast::Receiver<(String, State)> {
        self.ended.subscribe()
    }

    /// Sends `event` to the executor of `execution_id`.
    pub async fn send_event(&self, execution_id: &str, event: Event) -> Result<(), ServiceError> {
        let msg = self.event_message(execution_id, event).await?;
        self.queue.send(&self.names.executor, msg).await?;
        Ok(())
    }

    /// The executor-queue message carrying `event` to `execution_id` (its FIFO group).
    pub(crate) async fn event_message(
        &self,
        execution_id: &str,
        event: Event,
    ) -> Result<OutgoingMessage, ServiceError> {
        let msg = ExecutorMessage {
            id: ids::random_id(),
            execution_id: execution_id.to_owned(),
            event,
        };
        let body = serde_json::to_string(&msg).map_err(|e| ServiceError::Other(e.to_string()))?;
        let body = self.by_reference(body).await?;
        Ok(OutgoingMessage::new(body)
            .in_group(execution_id)
            .with_dedup_id(msg.id))
    }

    /// Loads a flow (latest revision when None) and parses it.
    pub async fn load_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Flow, ServiceError> {
        // A revision never changes: parsed revisions are cached (bounded).
        if let Some(rev) = revision
            && let Ok(cache) = self.flows.lock()
            && let Some(f) = cache.get(&(namespace.to_owned(), id.to_owned(), rev))
        {
            return Ok(f.clone());
        }
        let stored = self
            .repos
            .flows
            .get_revision(namespace, id, revision)
            .await?
            .ok_or_else(|| ServiceError::FlowNotFound {
                namespace: namespace.to_owned(),
                id: id.to_owned(),
            })?;
        // The latest revision was read; its parse may be cached already.
        if revision.is_none()
            && let Ok(cache) = self.flows.lock()
            && let Some(f) = cache.get(&(namespace.to_owned(), id.to_owned(), stored.revision))
        {
            return Ok(f.clone());
        }
        let flow = stored.parse()?;
        if let Ok(mut cache) = self.flows.lock() {
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(
                (namespace.to_owned(), id.to_owned(), stored.revision),
                flow.clone(),
            );
        }
        Ok(flow)
    }

    /// Resolves `inputs` against `flow`, stores a new CREATED execution and starts it.
    pub async fn create_execution(
        &self,
        flow: &Flow,
        inputs: Map<String, Value>,
        opts: CreateOptions,
    ) -> Result<Execution, ServiceError> {
        Ok(self.create_execution_once(flow, inputs, opts).await?.0)
    }

    /// [`create_execution`](Self::create_execution), telling whether this call created it
    /// (`false`: an execution with the requested id existed, and was started again).
    pub async fn create_execution_once(
        &self,
        flow: &Flow,
        inputs: Map<String, Value>,
        opts: CreateOptions,
    ) -> Result<(Execution, bool), ServiceError> {
        let CreateOptions {
            labels,
            trigger,
            id,
            subflow_outputs,
            schedule_date,
        } = opts;
        if flow.disabled {
            return Err(ServiceError::Other(format!(
                "flow {}.{} is disabled",
                flow.namespace, flow.id
            )));
        }
        if let Some(message) = crate::crypto::missing_key_message(flow, self.rt.encryption()) {
            return Err(ServiceError::Other(message));
        }
        let mut resolved = kite_flow::inputs::resolve(
            &flow.inputs,
            &inputs,
            &ExecutionInputRenderer {
                rt: &self.rt,
                now: self.clock.now(),
            },
        )
        .map_err(ServiceError::Inputs)?;
        self.encrypt_secret_inputs(flow, &mut resolved)?;
        let now = now_ms(self.clock.as_ref());
        let id = id.unwrap_or_else(ids::random_id);
        let mut all_labels: Vec<Label> = flow
            .labels
            .iter()
            .map(|l| Label {
                key: l.key.clone(),
                value: l.value.clone(),
            })
            .collect();
        for l in labels {
            all_labels.retain(|x| x.key != l.key);
            all_labels.push(l);
        }
        if !all_labels.iter().any(|l| l.key == "system.correlationId") {
            all_labels.push(Label {
                key: "system.correlationId".into(),
                value: id.clone(),
            });
        }
        let mut exec = Execution::new(id.clone(), flow, resolved, all_labels, now);
        exec.trigger = trigger;
        exec.schedule_date = schedule_date;
        let mut rec = Record::new(exec.clone());
        rec.internal.subflow_outputs = subflow_outputs;
        let created = match self.repos.executions.put(&rec, Expect::Absent).await {
            Ok(version) => Some(version),
            Err(RepoError::Store(kite_ports::DocumentError::Conflict { .. })) => {
                // Already created (a redelivered request): start it again, harmlessly.
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = self.start_created(&exec).await {
            // The caller gets an error: the execution it did not get must not linger
            // CREATED, never started (a redelivered caller creates it again).
            if let Some(version) = created
                && let Err(undo) = self
                    .repos
                    .executions
                    .delete_if(&id, Expect::Version(version))
                    .await
            {
                tracing::warn!(execution = %id, "cannot remove the execution whose start failed: {undo}");
            }
            return Err(e);
        }
        Ok((exec, created.is_some()))
    }

    /// Replaces the value of every SECRET input by Kestra's `EncryptedString`
    /// (`{"type": "io.kestra.datatype:aes_encrypted", "value": ...}`).
    fn encrypt_secret_inputs(
        &self,
        flow: &Flow,
        resolved: &mut Map<String, Value>,
    ) -> Result<(), ServiceError> {
        use kite_flow::model::input::InputType;
        for input in flow.inputs.iter().filter(|i| i.kind == InputType::Secret) {
            let Some(v) = resolved.get_mut(&input.id) else {
                continue;
            };
            let plain = match &*v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let key = self.rt.encryption().ok_or_else(|| {
                ServiceError::Other(format!(
                    "SECRET input `{}` needs an encryption key",
                    input.id
                ))
            })?;
            let sealed = key
                .encrypt(&plain)
                .map_err(|e| ServiceError::Other(e.to_string()))?;
            *v = crate::crypto::EncryptionKey::wrap(sealed);
        }
        Ok(())
    }

    /// Sends what starts a created execution: its start event, or its scheduled-start timer
    /// when it is scheduled later. Safe to repeat (a started execution ignores another
    /// start), which is what a redelivered handler does when it finds the execution it
    /// creates already there: the delivery that created it may have stopped before this send.
    pub(crate) async fn start_created(&self, exec: &Execution) -> Result<(), ServiceError> {
        let now = now_ms(self.clock.as_ref());
        match exec.schedule_date {
            Some(at) if at > now => {
                self.schedule_timer(TimerMessage {
                    execution_id: exec.id.clone(),
                    at,
                    timer: executor::TimerKind::ScheduledStart,
                })
                .await
            }
            _ => self.send_event(&exec.id, Event::Start).await,
        }
    }

    /// For a handler that creates execution `id` under a derived id: `true` when an earlier
    /// delivery created it already, and then, if it is still CREATED (that delivery may have
    /// stopped before starting it), starts it again.
    pub async fn start_if_created(&self, id: &str) -> Result<bool, ServiceError> {
        let Some((existing, _)) = self.repos.executions.get(id).await? else {
            return Ok(false);
        };
        if existing.execution.current() == State::Created {
            self.start_created(&existing.execution).await?;
        }
        Ok(true)
    }

    async fn start_subflow(&self, req: SubflowRequest) -> Result<(), ServiceError> {
        if self.start_if_created(&req.execution_id).await? {
            return Ok(());
        }
        let flow = match self
            .load_flow(&req.namespace, &req.flow_id, req.revision)
            .await
        {
            Ok(f) => Some(f),
            Err(ServiceError::FlowNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let Some(flow) = flow else {
            let reason = format!("flow {}.{} not found", req.namespace, req.flow_id);
            return self.subflow_failed(&req, reason).await;
        };
        let trigger = ExecutionTrigger {
            id: "subflow".into(),
            kind: "subflow".into(),
            variables: req.trigger.clone(),
        };
        // Inputs the parent sent encrypted (they carried a secret) are decrypted here and
        // resolved like any other; a SECRET input is encrypted again.
        let mut inputs = req.inputs.clone();
        if let Some(key) = self.rt.encryption() {
            for v in inputs.values_mut() {
                if let Some(text) = crate::crypto::as_encrypted(v)
                    && let Ok(plain) = key.decrypt(text)
                {
                    *v = Value::String(plain);
                }
            }
        }
        match self
            .create_execution(
                &flow,
                inputs,
                CreateOptions {
                    labels: req.labels.clone(),
                    trigger: Some(trigger),
                    id: Some(req.execution_id.clone()),
                    subflow_outputs: req.outputs.clone(),
                    schedule_date: None,
                },
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(ServiceError::Inputs(errs)) => {
                let reason = errs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                self.subflow_failed(&req, reason).await
            }
            Err(ServiceError::Other(m)) => self.subflow_failed(&req, m).await,
            Err(e) => Err(e),
        }
    }

    async fn subflow_failed(
        &self,
        req: &SubflowRequest,
        reason: String,
    ) -> Result<(), ServiceError> {
        tracing::warn!(
            "subflow {}.{} not started: {reason}",
            req.namespace,
            req.flow_id
        );
        self.send_event(
            &req.parent_execution_id,
            Event::SubflowEnded {
                task_run_id: req.parent_task_run_id.clone(),
                execution_id: req.execution_id.clone(),
                state: State::Failed,
                outputs: Map::new(),
                error: Some(reason),
            },
        )
        .await
    }

    /// A message body as sent: inline when small, else stored in internal storage and
    /// replaced by `{"$payload": key}` (queue messages are limited to 256 KiB).
    pub(crate) async fn by_reference(&self, body: String) -> Result<String, ServiceError> {
        if body.len() <= MAX_INLINE_MESSAGE {
            return Ok(body);
        }
        let key = kite_ports::StorageKey::new(format!("_messages/{}.json", ids::random_id()))
            .map_err(|e| ServiceError::Other(e.to_string()))?;
        self.storage
            .put(&key, bytes::Bytes::from(body))
            .await
            .map_err(|e| ServiceError::Other(format!("cannot store a large message: {e}")))?;
        Ok(serde_json::json!({ PAYLOAD_REF: key.as_str() }).to_string())
    }

    /// The body of a received message (loading it from storage when sent by reference).
    async fn dereference(&self, body: &str) -> Result<String, ServiceError> {
        if body.len() > 300 || !body.starts_with("{\"$payload\"") {
            return Ok(body.to_owned());
        }
        let v: Value = serde_json::from_str(body).map_err(|source| ServiceError::Malformed {
            what: "payload reference",
            source,
        })?;
        let key = kite_ports::StorageKey::new(v[PAYLOAD_REF].as_str().unwrap_or_default())
            .map_err(|e| ServiceError::Other(e.to_string()))?;
        let bytes = self
            .storage
            .get(&key)
            .await
            .map_err(|e| ServiceError::Other(format!("cannot load a large message: {e}")))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ServiceError::Other("a stored message is not UTF-8".into()))
    }

    /// Puts a timer on the timer queue, or, when it is further away than a queue can delay a
    /// message, in the timers table, where the scheduler's [`tick`](Self::tick) finds it.
    pub async fn schedule_timer(&self, t: TimerMessage) -> Result<(), ServiceError> {
        self.schedule_timers(vec![t]).await
    }

    /// Schedules timers: those due within a queue delay go to the timer queue (batched),
    /// later ones to the timer repository.
    pub async fn schedule_timers(&self, timers: Vec<TimerMessage>) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut near = Vec::new();
        for t in timers {
            let wait = (t.at - now).to_std().unwrap_or(Duration::ZERO);
            if wait > MAX_QUEUE_DELAY {
                self.repos.timers.put(&t).await?;
                continue;
            }
            let body = serde_json::to_string(&t).map_err(|e| ServiceError::Other(e.to_string()))?;
            near.push(OutgoingMessage::new(body).with_delay(wait));
        }
        self.send_all(&self.names.timers, near).await
    }

    /// One scheduler tick: moves the far timers coming due within a queue delay onto the
    /// timer queue (delayed to their instant), then runs the tick hooks (where trigger
    /// evaluation plugs in). Idempotent: a timer moved twice fires once, because the
    /// executor ignores a timer whose task run has moved on.
    pub async fn tick(&self) -> Result<TickReport, ServiceError> {
        let now = self.clock.now();
        let horizon = now + chrono::Duration::from_std(MAX_QUEUE_DELAY).unwrap_or_default()
            - chrono::Duration::seconds(5);
        let mut report = TickReport::default();
        loop {
            let due = self.repos.timers.due(horizon, 100).await?;
            let n = due.len();
            for (key, timer) in due {
                self.schedule_timer(timer).await?;
                self.repos.timers.remove(&key).await?;
                report.timers_released += 1;
            }
            if n < 100 {
                break;
            }
        }
        report.triggers = crate::triggers::tick::run(self, now).await?;
        for hook in self.tick_hooks.iter() {
            report.hooks += 1;
            hook.tick(self, now).await?;
        }
        Ok(report)
    }

    /// Adds a hook run by every [`tick`](Self::tick).
    pub fn add_tick_hook(&mut self, hook: Arc<dyn TickHook>) {
        self.tick_hooks.push(hook);
    }

    /// Handles one timer message: forwards it to the executor when due, re-delays otherwise.
    pub async fn handle_timer_message(&self, body: &str) -> Result<(), ServiceError> {
        let body = self.dereference(body).await?;
        let body = body.as_str();
        let t: TimerMessage =
            serde_json::from_str(body).map_err(|source| ServiceError::Malformed {
                what: "timer",
                source,
            })?;
        if t.at > self.clock.now() + chrono::Duration::milliseconds(5) {
            return self.schedule_timer(t).await;
        }
        self.send_event(&t.execution_id, Event::Timer(t.timer))
            .await
    }

    /// Handles one worker job.
    pub async fn handle_worker_message(&self, body: &str) -> Result<(), ServiceError> {
        self.handle_worker_message_within(body, None).await
    }

    /// Handles one worker job that must end within `budget` (a Lambda's remaining time,
    /// less what storing the result takes); a task that cannot fails with a message saying so.
    pub async fn handle_worker_message_within(
        &self,
        body: &str,
        budget: Option<Duration>,
    ) -> Result<(), ServiceError> {
        let body = self.dereference(body).await?;
        let body = body.as_str();
        let job: executor::WorkerJob =
            serde_json::from_str(body).map_err(|source| ServiceError::Malformed {
                what: "worker",
                source,
            })?;
        let flow = self
            .load_flow(&job.namespace, &job.flow_id, Some(job.flow_revision))
            .await?;
        let Some(task) = flow.find_task(&job.task_id).cloned() else {
            return Err(ServiceError::Other(format!(
                "task {} not found in flow {}.{}",
                job.task_id, job.namespace, job.flow_id
            )));
        };
        let execution_id = job.execution_id.clone();
        if executor::flowable::working_directory::is(&task) {
            // One unit: its children are decided on the stored record (written before the
            // job was sent).
            let record = self
                .repos
                .executions
                .get(&execution_id)
                .await?
                .map(|(r, _)| r);
            let env = crate::worker::working_directory::UnitEnv {
                flow: &flow,
                runners: &self.runners,
                rt: self.rt.clone(),
                storage: self.storage.clone(),
                repos: self.repos.clone(),
                clock: self.clock.clone(),
                work_root: &self.work_root,
                budget,
            };
            let task_run_id = job.task_run_id.clone();
            let unit = crate::worker::working_directory::run_unit(job, task, record, env);
            // A kill drops the whole unit (its children's process groups with it); the
            // executor has already ended the WorkingDirectory run KILLED.
            let killed = crate::worker::kill::wait_for_kill(
                &self.repos.kills,
                &task_run_id,
                self.kill_polling,
            );
            let (unit, logs) = tokio::select! {
                r = unit => r,
                () = killed => {
                    tracing::info!(execution = %execution_id, task_run = %task_run_id,
                        "WorkingDirectory killed while it ran");
                    return Ok(());
                }
            };
            let (sent, appended) = tokio::join!(
                self.send_event(&execution_id, Event::UnitResult(unit)),
                self.repos.logs.append(&logs)
            );
            sent?;
            appended?;
            return Ok(());
        }
        let (result, logs) = crate::worker::run_job_watched(
            job,
            task,
            &self.runners,
            self.rt.clone(),
            self.storage.clone(),
            self.repos.clone(),
            self.clock.clone(),
            &self.work_root,
            budget,
            Some(self.kill_polling),
        )
        .await;
        // The result and the logs are stored side by side: the logs are off the task
        // hop's critical path.
        let (sent, appended) = tokio::join!(
            self.send_event(&execution_id, Event::WorkerResult(result)),
            self.repos.logs.append(&logs)
        );
        sent?;
        appended?;
        Ok(())
    }

    /// The execution `id`.
    pub async fn execution(&self, id: &str) -> Result<Option<Execution>, ServiceError> {
        Ok(self
            .repos
            .executions
            .get(id)
            .await?
            .map(|(r, _)| r.execution))
    }
}

/// The clock's time at millisecond precision (Kestra's dates carry milliseconds).
pub fn now_ms(clock: &dyn Clock) -> DateTime<Utc> {
    use chrono::SubsecRound;
    clock.now().trunc_subsecs(3)
}

/// Renders input expressions (`dependsOn.condition`, SELECT `expression`).
struct ExecutionInputRenderer<'a> {
    rt: &'a Expressions,
    now: DateTime<Utc>,
}

impl kite_flow::inputs::InputRenderer for ExecutionInputRenderer<'_> {
    fn render_typed(&self, expression: &str, inputs: &Map<String, Value>) -> Result<Value, String> {
        let mut vars = Map::new();
        vars.insert(
            "inputs".into(),
            Value::Object(kite_flow::inputs::nest(inputs)),
        );
        let ctx = executor::context::render_context(self.rt, vars, &[], self.now);
        self.rt
            .engine
            .render_typed(expression, &ctx)
            .map_err(|e| e.to_string())
    }
}
