//! The worker: runs one attempt of a runnable task and reports a [`WorkerResult`].
//!
//! Task behaviour lives in [`TaskRunner`]s, one file per task type under `tasks/`,
//! registered in a [`Runners`] table by type name (families from other crates register
//! more). A [`RunContext`] gives a runner what it may use: rendering in the task run's
//! context, logging, internal storage, the KV store, a working directory, the clock.
//! The attempt is bounded by the task's `timeout`, and ended by a kill ([`kill`]). The shell
//! processes it starts die with the worker process ([`watchdog`]). A WorkingDirectory is one
//! job too: its children run in order, in one directory, on this worker ([`working_directory`]).

pub mod kill;
pub mod tasks;
pub mod watchdog;
pub mod working_directory;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_ports::{Clock, Storage, StorageKey};
use serde_json::{Map, Value};

use crate::executor::context::{Expressions, render_context};
use crate::executor::{WorkerJob, WorkerResult};
use crate::model::log::{
    MAX_ATTEMPT_LOG_BYTES, MAX_ATTEMPT_LOG_LINES, thousands, truncate_message,
};
use crate::model::{LogEntry, State};
use crate::repo::Repos;

/// Job `extra` key: input files a WorkingDirectory writes before its first child runs.
pub const WD_INPUT_FILES: &str = "workingDirectoryInputFiles";
/// Job `extra` key (and result output key): the WorkingDirectory `outputFiles` globs, and
/// the files uploaded for them.
pub const WD_OUTPUT_FILES: &str = "workingDirectoryOutputFiles";
/// Job `extra` key: the WorkingDirectory cache `{key, patterns, ttlMillis}`.
pub const WD_CACHE: &str = "workingDirectoryCache";

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TaskError(pub String);

impl TaskError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<kite_ports::StorageError> for TaskError {
    fn from(e: kite_ports::StorageError) -> Self {
        Self(e.to_string())
    }
}

impl From<crate::repo::RepoError> for TaskError {
    fn from(e: crate::repo::RepoError) -> Self {
        Self(e.to_string())
    }
}

impl From<std::io::Error> for TaskError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

/// What an attempt produced.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// SUCCESS (default), WARNING or FAILED.
    pub state: Option<State>,
    /// Outputs.
    pub outputs: Map<String, Value>,
}

impl Output {
    /// A successful output with `outputs`.
    pub fn success(outputs: Map<String, Value>) -> Self {
        Self {
            state: Some(State::Success),
            outputs,
        }
    }
}

/// Runs one task type.
#[async_trait]
pub trait TaskRunner: Send + Sync {
    /// Runs one attempt.
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError>;
}

/// Runners by task type name.
#[derive(Clone, Default)]
pub struct Runners {
    map: HashMap<&'static str, Arc<dyn TaskRunner>>,
}

impl std::fmt::Debug for Runners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runners")
            .field("types", &self.map.len())
            .finish()
    }
}

impl Runners {
    /// The core runners.
    pub fn core() -> Self {
        let mut r = Self::default();
        tasks::register(&mut r);
        r
    }

    /// Registers `runner` for `type_name`.
    pub fn register(&mut self, type_name: &'static str, runner: Arc<dyn TaskRunner>) -> &mut Self {
        self.map.insert(type_name, runner);
        self
    }

    /// The runner of `type_name`.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn TaskRunner>> {
        self.map.get(type_name)
    }
}

/// Everything a runner may use during one attempt.
pub struct RunContext {
    /// The job.
    pub job: WorkerJob,
    /// The task definition.
    pub task: Task,
    /// Rendering.
    pub rt: Expressions,
    /// Internal storage.
    pub storage: Arc<dyn Storage>,
    /// Repositories (KV, logs, executions).
    pub repos: Repos,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// The attempt's working directory (shared by WorkingDirectory children).
    pub workdir: PathBuf,
    logs: Mutex<AttemptLogs>,
}

/// The lines of one attempt, within [`MAX_ATTEMPT_LOG_LINES`] and [`MAX_ATTEMPT_LOG_BYTES`].
#[derive(Debug, Default)]
struct AttemptLogs {
    entries: Vec<LogEntry>,
    bytes: u64,
    dropped_lines: u64,
    dropped_bytes: u64,
}

impl AttemptLogs {
    /// Whether a message of `size` bytes fits the budget (always when `forced`); counts it
    /// as dropped when not.
    fn admit(&mut self, size: u64, forced: bool) -> bool {
        let over = self.entries.len() as u64 >= MAX_ATTEMPT_LOG_LINES
            || self.bytes + size > MAX_ATTEMPT_LOG_BYTES;
        if over && !forced {
            self.dropped_lines += 1;
            self.dropped_bytes += size;
            false
        } else {
            self.bytes += size;
            true
        }
    }

    /// The message of the final line when lines were dropped.
    fn dropped_marker(&self) -> Option<String> {
        (self.dropped_lines > 0).then(|| {
            format!(
                "[log limit reached: {} more lines ({} bytes) of this attempt were dropped; an \
                 attempt keeps at most {} lines or {} bytes of logs]",
                thousands(self.dropped_lines),
                thousands(self.dropped_bytes),
                thousands(MAX_ATTEMPT_LOG_LINES),
                thousands(MAX_ATTEMPT_LOG_BYTES)
            )
        })
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("task_run", &self.job.task_run_id)
            .finish_non_exhaustive()
    }
}

impl RunContext {
    /// Current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Renders a template in the task run's context.
    pub fn render(&self, template: &str) -> Result<String, TaskError> {
        if !kite_flow::property::is_expression(template) {
            return Ok(template.to_owned());
        }
        let ctx = render_context(&self.rt, self.job.vars.clone(), &[], self.now());
        self.rt
            .engine
            .render(template, &ctx)
            .map_err(|e| TaskError(e.to_string()))
    }

    /// Renders a template with `extra` variables (e.g. `workingDir`) over the task run's.
    pub fn render_with(
        &self,
        template: &str,
        extra: &Map<String, Value>,
    ) -> Result<String, TaskError> {
        if !kite_flow::property::is_expression(template) {
            return Ok(template.to_owned());
        }
        let mut vars = self.job.vars.clone();
        vars.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        let ctx = render_context(&self.rt, vars, &[], self.now());
        self.rt
            .engine
            .render(template, &ctx)
            .map_err(|e| TaskError(e.to_string()))
    }

    /// Renders every string inside `value`.
    pub fn render_value(&self, value: &Value) -> Result<Value, TaskError> {
        let ctx = render_context(&self.rt, self.job.vars.clone(), &[], self.now());
        self.rt
            .engine
            .render_value(value, &ctx)
            .map_err(|e| TaskError(e.to_string()))
    }

    /// Renders to a typed value.
    pub fn render_typed(&self, template: &str) -> Result<Value, TaskError> {
        let ctx = render_context(&self.rt, self.job.vars.clone(), &[], self.now());
        self.rt
            .engine
            .render_typed(template, &ctx)
            .map_err(|e| TaskError(e.to_string()))
    }

    /// Logs a line of the attempt (secret values rendered so far are masked; the whole
    /// attempt's lines are masked again at its end, with every value it rendered). A message
    /// over [`MAX_LOG_MESSAGE_BYTES`](crate::model::log::MAX_LOG_MESSAGE_BYTES) is truncated
    /// with a marker; past the attempt's budget ([`MAX_ATTEMPT_LOG_LINES`],
    /// [`MAX_ATTEMPT_LOG_BYTES`]) lines are dropped and counted in one final marker line.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        self.push_log(level, message.into(), false);
    }

    fn push_log(&self, level: LogLevel, mut message: String, forced: bool) {
        if let Some(m) = self.rt.masks() {
            m.mask_in_place(&mut message);
        }
        truncate_message(&mut message);
        let Ok(mut logs) = self.logs.lock() else {
            return;
        };
        if !logs.admit(message.len() as u64, forced) {
            return;
        }
        logs.entries.push(LogEntry {
            namespace: self.job.namespace.clone(),
            flow_id: self.job.flow_id.clone(),
            task_id: Some(self.job.task_id.clone()),
            execution_id: self.job.execution_id.clone(),
            task_run_id: Some(self.job.task_run_id.clone()),
            attempt_number: Some(self.job.attempt),
            timestamp: self.now(),
            level,
            thread: "worker".into(),
            message,
        });
    }

    /// The storage key for a file this task run produces.
    pub fn output_key(&self, file_name: &str) -> Result<StorageKey, TaskError> {
        StorageKey::for_task_output(
            &self.job.namespace,
            &self.job.flow_id,
            &self.job.execution_id,
            &self.job.task_id,
            &self.job.task_run_id,
            file_name,
        )
        .map_err(TaskError::from)
    }

    /// Stores a local file as an output of this task run; returns its `kestra:///` URI.
    pub async fn put_output_file(&self, path: &Path, file_name: &str) -> Result<String, TaskError> {
        let key = self.output_key(file_name)?;
        self.storage.put_file(&key, path).await?;
        Ok(key.to_uri())
    }

    /// The files this attempt may read: its namespace's, and those of the executions that
    /// started its execution ([`crate::access`]).
    pub fn file_scope(&self) -> crate::access::FileScope {
        crate::access::FileScope::from_vars(&self.job.vars).unwrap_or_else(|| {
            crate::access::FileScope::new(
                &self.job.namespace,
                &self.job.flow_id,
                &self.job.execution_id,
            )
        })
    }

    /// The key of a `kestra:///` URI this attempt reads (or deletes), once checked against
    /// [`Self::file_scope`].
    pub fn input_key(&self, uri: &str) -> Result<StorageKey, TaskError> {
        self.file_scope()
            .check_uri(uri)
            .map_err(|e| TaskError(e.to_string()))
    }

    /// Reads a `kestra:///` URI of internal storage (checked like [`Self::input_key`]).
    pub async fn read_uri(&self, uri: &str) -> Result<bytes::Bytes, TaskError> {
        let key = self.input_key(uri)?;
        Ok(self.storage.get(&key).await?)
    }
}

/// The message of a caught panic (`panic!("...")` payloads), or `panic`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Runs one job to a result (never fails: errors become a FAILED attempt with a log),
/// without watching for kills (see [`run_job_watched`]).
#[allow(clippy::too_many_arguments)]
pub async fn run_job(
    job: WorkerJob,
    task: Task,
    runners: &Runners,
    rt: Expressions,
    storage: Arc<dyn Storage>,
    repos: Repos,
    clock: Arc<dyn Clock>,
    work_root: &Path,
    budget: Option<Duration>,
) -> (WorkerResult, Vec<LogEntry>) {
    run_job_watched(
        job, task, runners, rt, storage, repos, clock, work_root, budget, None,
    )
    .await
}

/// Runs one job to a result like [`run_job`]; with `kill`, a kill request for its task run
/// ([`kill::wait_for_kill`]) drops the attempt and ends it KILLED.
#[allow(clippy::too_many_arguments)]
pub async fn run_job_watched(
    job: WorkerJob,
    task: Task,
    runners: &Runners,
    rt: Expressions,
    storage: Arc<dyn Storage>,
    repos: Repos,
    clock: Arc<dyn Clock>,
    work_root: &Path,
    budget: Option<Duration>,
    kill: Option<kill::KillPolling>,
) -> (WorkerResult, Vec<LogEntry>) {
    // A private directory per run: under at-least-once delivery the same job may run twice at
    // once, and one run must not clean up under the other.
    let dir_key = job.working_directory.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            job.task_run_id,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    });
    let workdir = work_root.join(&job.execution_id).join(dir_key);
    // One masking scope per attempt: the secret values it renders are masked in its logs
    // and outputs (rebuilt by every delivery of the job, never stored).
    let ctx = RunContext {
        job,
        task,
        rt: rt.scoped(),
        storage,
        repos,
        clock,
        workdir,
        logs: Mutex::new(AttemptLogs::default()),
    };
    let outcome = match runners.get(ctx.task.type_name) {
        None => Err(TaskError(format!(
            "task type {} cannot run on this worker (no runner registered)",
            ctx.task.type_name
        ))),
        Some(runner) => {
            let _ = tokio::fs::create_dir_all(&ctx.workdir).await;
            if let Err(e) = prepare_working_directory(&ctx).await {
                ctx.log(LogLevel::Error, e.0.clone());
            }
            // A panicking runner fails its attempt instead of killing the worker.
            let attempt = async {
                use futures::FutureExt;
                match std::panic::AssertUnwindSafe(runner.run(&ctx))
                    .catch_unwind()
                    .await
                {
                    Ok(r) => r,
                    Err(panic) => Err(TaskError(format!(
                        "the task crashed: {}",
                        panic_message(panic.as_ref())
                    ))),
                }
            };
            let limited = async {
                match attempt_limit(&ctx, budget) {
                    Some(limit) => match tokio::time::timeout(limit.after, attempt).await {
                        Ok(r) => r,
                        Err(_) => Err(limit.error()),
                    },
                    None => attempt.await,
                }
            };
            // A kill drops the attempt (its process group is killed, as on a timeout).
            match kill {
                Some(polling) => {
                    let killed =
                        kill::wait_for_kill(&ctx.repos.kills, &ctx.job.task_run_id, polling);
                    tokio::select! {
                        r = limited => r,
                        () = killed => {
                            ctx.push_log(
                                LogLevel::Warn,
                                "Killed: the execution was killed while this task ran".into(),
                                true,
                            );
                            Ok(Output {
                                state: Some(State::Killed),
                                outputs: Map::new(),
                            })
                        }
                    }
                }
                None => limited.await,
            }
        }
    };
    let killed = matches!(&outcome, Ok(o) if o.state == Some(State::Killed));
    let outcome = match outcome {
        Ok(o) if !killed && ctx.job.extra.contains_key(WD_CACHE) => {
            save_cache(&ctx).await.map(|()| o)
        }
        other => other,
    };
    let outcome = match outcome {
        Ok(mut o) if !killed && ctx.job.extra.contains_key(WD_OUTPUT_FILES) => {
            match collect_working_directory(&ctx).await {
                Ok(files) => {
                    o.outputs
                        .insert(WD_OUTPUT_FILES.into(), Value::Object(files));
                    Ok(o)
                }
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    conclude(ctx, outcome).await
}

/// What bounds an attempt: the task's `timeout`, or the worker's own limit (a Lambda's
/// remaining time) when that comes first.
#[derive(Debug, Clone, Copy)]
struct Limit {
    after: Duration,
    by_host: bool,
}

impl Limit {
    /// Why an attempt cut at this limit failed: the task timed out, or the host ran out of
    /// time for it.
    fn error(self) -> TaskError {
        let t = kite_flow::IsoDuration::from_millis(self.after.as_millis() as i64);
        if self.by_host {
            TaskError(format!(
                "the task could not finish within the worker's time limit ({t} left of this \
                 invocation; a worker Lambda runs at most 15 minutes): give the task a \
                 `timeout` below that limit, or split its work"
            ))
        } else {
            TaskError(format!("Timeout after {t}"))
        }
    }
}

/// The limit of the attempt of `ctx` under the worker's `budget`.
fn attempt_limit(ctx: &RunContext, budget: Option<Duration>) -> Option<Limit> {
    let timeout = match &ctx.task.common.timeout {
        Some(kite_flow::property::Dyn::Value(d)) => Some(d.to_std()),
        Some(kite_flow::property::Dyn::Expr(e)) => ctx
            .render(e)
            .ok()
            .and_then(|s| s.trim().parse::<kite_flow::IsoDuration>().ok())
            .map(|d| d.to_std()),
        None => None,
    };
    match (timeout, budget) {
        (Some(t), Some(b)) if b < t => Some(Limit {
            after: b,
            by_host: true,
        }),
        (None, Some(b)) => Some(Limit {
            after: b,
            by_host: true,
        }),
        (Some(t), _) => Some(Limit {
            after: t,
            by_host: false,
        }),
        (None, None) => None,
    }
}

/// The result and the log lines of the attempt of `ctx` that ended with `outcome` (its
/// private directory removed; secrets masked).
async fn conclude(
    ctx: RunContext,
    outcome: Result<Output, TaskError>,
) -> (WorkerResult, Vec<LogEntry>) {
    let (state, mut outputs) = match outcome {
        Ok(o) => (o.state.unwrap_or(State::Success), o.outputs),
        Err(e) => {
            // Why it failed is kept even past the attempt's log budget.
            ctx.push_log(LogLevel::Error, e.0.clone(), true);
            (State::Failed, Map::new())
        }
    };
    if ctx.job.working_directory.is_none() {
        let _ = tokio::fs::remove_dir_all(&ctx.workdir).await;
    }
    let marker = ctx.logs.lock().ok().and_then(|l| l.dropped_marker());
    if let Some(m) = marker {
        ctx.push_log(LogLevel::Warn, m, true);
    }
    let mut logs = ctx
        .logs
        .lock()
        .map(|mut l| std::mem::take(&mut l.entries))
        .unwrap_or_default();
    if let Some(masks) = ctx.rt.masks().filter(|m| !m.is_empty()) {
        for l in &mut logs {
            masks.mask_in_place(&mut l.message);
        }
        for v in outputs.values_mut() {
            masks.mask_value(v);
        }
    }
    let error_logs = logs
        .iter()
        .filter(|l| l.level == LogLevel::Error)
        .map(|l| l.message.clone())
        .collect();
    let result = WorkerResult {
        task_run_id: ctx.job.task_run_id.clone(),
        attempt: ctx.job.attempt,
        state,
        outputs,
        error_logs,
    };
    (result, logs)
}

/// Writes a WorkingDirectory's input files once (a marker file records it).
async fn prepare_working_directory(ctx: &RunContext) -> Result<(), TaskError> {
    let marker = ctx.workdir.join(".kite-working-directory");
    if tokio::fs::try_exists(&marker).await.unwrap_or(false) {
        return Ok(());
    }
    if ctx.job.extra.contains_key(WD_CACHE) {
        restore_cache(ctx).await?;
    }
    let Some(files) = ctx.job.extra.get(WD_INPUT_FILES) else {
        if ctx.job.extra.contains_key(WD_CACHE) {
            tokio::fs::write(&marker, b"").await?;
        }
        return Ok(());
    };
    if let Value::String(s) = files
        && let Some(e) = s.strip_prefix("error: ")
    {
        return Err(TaskError::new(format!("WorkingDirectory inputFiles: {e}")));
    }
    let rendered = tasks::files::render_input_files(ctx, Some(files), &Map::new())?;
    tasks::files::write_input_files(ctx, &ctx.workdir, &rendered).await?;
    tokio::fs::write(&marker, b"").await?;
    Ok(())
}

/// Uploads the files matching the WorkingDirectory's `outputFiles` globs.
async fn collect_working_directory(ctx: &RunContext) -> Result<Map<String, Value>, TaskError> {
    let globs: Vec<String> = ctx
        .job
        .extra
        .get(WD_OUTPUT_FILES)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    tasks::files::upload_matching(ctx, &ctx.workdir, &globs).await
}

fn cache_key(ctx: &RunContext) -> Result<Option<(StorageKey, Vec<String>, i64)>, TaskError> {
    let Some(c) = ctx.job.extra.get(WD_CACHE) else {
        return Ok(None);
    };
    let key = StorageKey::new(c["key"].as_str().unwrap_or_default())?;
    let patterns = c["patterns"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((
        key,
        patterns,
        c["ttlMillis"].as_i64().unwrap_or(i64::MAX),
    )))
}

/// Restores a WorkingDirectory cache (files saved by an earlier execution) if not expired.
async fn restore_cache(ctx: &RunContext) -> Result<(), TaskError> {
    use base64::Engine as _;
    let Some((key, _, ttl)) = cache_key(ctx)? else {
        return Ok(());
    };
    let Ok(bytes) = ctx.storage.get(&key).await else {
        return Ok(());
    };
    let Ok(archive) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(());
    };
    let created = archive["createdAt"].as_i64().unwrap_or(0);
    if ctx.now().timestamp_millis().saturating_sub(created) > ttl {
        ctx.log(
            LogLevel::Info,
            "WorkingDirectory cache expired; starting without it",
        );
        return Ok(());
    }
    let mut restored = 0;
    if let Some(files) = archive["files"].as_object() {
        for (name, content) in files {
            let rel = tasks::files::safe_relative(name, "cached file")?;
            let data = base64::engine::general_purpose::STANDARD
                .decode(content.as_str().unwrap_or_default())
                .map_err(|e| TaskError::new(format!("corrupt cache entry {name}: {e}")))?;
            let path = ctx.workdir.join(rel);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&path, data).await?;
            restored += 1;
        }
    }
    ctx.log(
        LogLevel::Info,
        format!("WorkingDirectory cache restored ({restored} files)"),
    );
    Ok(())
}

/// Saves the files matching the cache patterns.
async fn save_cache(ctx: &RunContext) -> Result<(), TaskError> {
    use base64::Engine as _;
    let Some((key, patterns, _)) = cache_key(ctx)? else {
        return Ok(());
    };
    let globs = patterns
        .iter()
        .map(|p| tasks::files::Glob::new(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut files = Map::new();
    for rel in tasks::files::list_files(&ctx.workdir).await? {
        if rel.starts_with(".kite") || !globs.iter().any(|g| g.matches(&rel)) {
            continue;
        }
        let data = tokio::fs::read(ctx.workdir.join(&rel)).await?;
        files.insert(
            rel,
            Value::String(base64::engine::general_purpose::STANDARD.encode(data)),
        );
    }
    let archive = serde_json::json!({ "createdAt": ctx.now().timestamp_millis(), "files": files });
    ctx.storage
        .put(&key, bytes::Bytes::from(archive.to_string()))
        .await?;
    Ok(())
}
