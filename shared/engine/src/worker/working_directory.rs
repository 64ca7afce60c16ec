//! A WorkingDirectory run as ONE unit of work on ONE worker, in one directory (as Kestra
//! runs it): the executor sends one job for the whole WorkingDirectory and this worker runs
//! its children in order, then reports an [`Event::UnitResult`](crate::executor::Event)
//! carrying the children's task runs.
//!
//! The children are decided by the executor's own pure decision function
//! ([`executor::handle`]) on this worker's private copy of the execution's record, where
//! `internal.unit` names the WorkingDirectory run: so `runIf`, `allowFailure`, retries (their
//! delays are waited here), `errors` and `finally`, outputs seen by later children, inline
//! tasks (Log, Return...) and the expression context (`workerTaskrun`, `parents`) behave as
//! they do anywhere else. Each child attempt runs through [`run_job`] in the shared
//! directory, with its own state, attempts, outputs and logs.
//!
//! `inputFiles` and the cache are put in place before the first child; `outputFiles` are
//! uploaded and the cache saved after the last. The task's `timeout` (or the worker's time
//! budget) bounds the whole unit: the unit is one future, dropped when the limit passes (or
//! when the attempt is killed); a child still running then ends FAILED. A worker that dies
//! mid-unit leaves nothing behind but its directory: the job is delivered again and the unit
//! runs again from its start, in a fresh directory; the executor keeps only the first
//! result of an attempt, so children are never duplicated.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use kite_flow::plugin::LogLevel;
use kite_flow::{Flow, Task};
use kite_ports::{Clock, Storage};
use serde_json::{Map, Value};

use super::{
    AttemptLogs, Output, RunContext, Runners, TaskError, WD_CACHE, WD_OUTPUT_FILES, attempt_limit,
    collect_working_directory, conclude, prepare_working_directory, run_job, save_cache,
};
use crate::executor::{self, Action, Event, Expressions, Record, TimerKind, UnitResult, WorkerJob};
use crate::model::{LogEntry, State};
use crate::repo::Repos;

/// Output key of the files uploaded for `outputFiles`.
const OUTPUT_FILES: &str = "outputFiles";

/// What a unit needs besides its job.
#[derive(Clone)]
pub struct UnitEnv<'a> {
    /// The flow of the execution (the revision of the job).
    pub flow: &'a Flow,
    /// Task runners.
    pub runners: &'a Runners,
    /// Rendering.
    pub rt: Expressions,
    /// Internal storage.
    pub storage: Arc<dyn Storage>,
    /// Repositories.
    pub repos: Repos,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Root of the working directories.
    pub work_root: &'a Path,
    /// The worker's own time limit.
    pub budget: Option<Duration>,
}

impl std::fmt::Debug for UnitEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitEnv")
            .field("flow", &self.flow.id)
            .finish_non_exhaustive()
    }
}

/// The private copy of the record a unit decides on, and what it gathered.
struct Local {
    rec: Record,
    /// The WorkingDirectory run.
    wd: String,
    /// Where the children run, under the execution's directory.
    dir_key: String,
    /// The lines of the children (worker and executor lines).
    logs: Vec<LogEntry>,
    /// How many decisions ran (each gets an event id of its own).
    decisions: u64,
}

impl Local {
    fn is_child(&self, run_id: &str) -> bool {
        self.rec
            .execution
            .task_run(run_id)
            .is_some_and(|r| r.parent_task_run_id.as_deref() == Some(self.wd.as_str()))
    }

    fn wd_state(&self) -> Option<State> {
        self.rec.execution.task_run(&self.wd).map(|r| r.current())
    }
}

/// Runs the unit of WorkingDirectory `task` for `job`, deciding on `record` (the
/// execution's stored record: `None` when it is gone); never fails (errors end the unit
/// FAILED with a log line).
pub async fn run_unit(
    job: WorkerJob,
    task: Task,
    record: Option<Record>,
    env: UnitEnv<'_>,
) -> (UnitResult, Vec<LogEntry>) {
    let dir_key = format!(
        "{}-{}",
        job.task_run_id,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let workdir = env.work_root.join(&job.execution_id).join(&dir_key);
    let ctx = RunContext {
        job,
        task,
        rt: env.rt.scoped(),
        storage: env.storage.clone(),
        repos: env.repos.clone(),
        clock: env.clock.clone(),
        workdir,
        logs: Mutex::new(AttemptLogs::default()),
    };
    let wd = ctx.job.task_run_id.clone();
    let mut local = match record {
        Some(rec) if runs(&rec, &wd, ctx.job.attempt) => Some(Local {
            rec: private_copy(rec, &wd),
            wd: wd.clone(),
            dir_key,
            logs: Vec::new(),
            decisions: 0,
        }),
        _ => None,
    };
    let outcome = match local.as_mut() {
        None => Err(TaskError::new(
            "the WorkingDirectory run is no longer running (ended or killed): nothing to run",
        )),
        Some(l) => run_children(&ctx, l, &env).await,
    };
    let (children, error_logs, seq, logs) = match local {
        Some(l) => {
            let children: Vec<crate::model::TaskRun> = l
                .rec
                .execution
                .task_run_list
                .iter()
                .filter(|r| r.parent_task_run_id.as_deref() == Some(wd.as_str()))
                .cloned()
                .collect();
            let ids: HashSet<&str> = children.iter().map(|r| r.id.as_str()).collect();
            let error_logs: Vec<Value> = l
                .rec
                .internal
                .error_logs
                .iter()
                .filter(|e| e["taskRunId"].as_str().is_some_and(|id| ids.contains(id)))
                .cloned()
                .collect();
            (children, error_logs, l.rec.internal.seq, l.logs)
        }
        None => (Vec::new(), Vec::new(), 0, Vec::new()),
    };
    let (result, own_logs) = conclude(ctx, outcome).await;
    let mut all = logs;
    all.extend(own_logs);
    let unit = UnitResult {
        result,
        task_runs: children,
        error_logs,
        seq,
    };
    (unit, all)
}

/// Whether `rec` still runs attempt `attempt` of WorkingDirectory run `wd`.
fn runs(rec: &Record, wd: &str, attempt: u32) -> bool {
    rec.execution.task_run(wd).is_some_and(|r| {
        r.current() == State::Running
            && r.attempts.len().checked_sub(1) == Some(attempt as usize)
            && r.attempts
                .last()
                .is_some_and(|a| !a.state.current.is_terminated())
    })
}

/// The record as this worker decides on it: the unit named, no outbox (the executor's own).
fn private_copy(mut rec: Record, wd: &str) -> Record {
    let i = &mut rec.internal;
    i.unit = Some(wd.to_owned());
    i.last_event = None;
    i.outbox.clear();
    i.earlier.clear();
    i.quiet.clear();
    rec
}

/// The unit's body: its directory prepared, its children run within its limit, its
/// outputs collected. The WorkingDirectory's state is the outcome's.
async fn run_children(
    ctx: &RunContext,
    local: &mut Local,
    env: &UnitEnv<'_>,
) -> Result<Output, TaskError> {
    tokio::fs::create_dir_all(&ctx.workdir).await?;
    prepare_working_directory(ctx).await?;
    let driven = match attempt_limit(ctx, env.budget) {
        Some(limit) => match tokio::time::timeout(limit.after, drive(local, env)).await {
            Ok(r) => r,
            Err(_) => Err(limit.error()),
        },
        None => drive(local, env).await,
    };
    let ended = driven.and_then(|()| {
        local
            .wd_state()
            .filter(|s| s.is_terminated())
            .ok_or_else(|| TaskError::new("the WorkingDirectory's tasks stopped before ending"))
    });
    let state = match ended {
        Ok(state) => state,
        Err(e) => {
            // No child is left running in the execution.
            cut(local, &e.0, env.clock.now());
            return Err(e);
        }
    };
    let mut outputs = Map::new();
    if ctx.job.extra.contains_key(WD_OUTPUT_FILES) {
        let files = collect_working_directory(ctx).await?;
        outputs.insert(OUTPUT_FILES.into(), Value::Object(files));
    }
    if ctx.job.extra.contains_key(WD_CACHE) && !state.is_failed() {
        save_cache(ctx).await?;
    }
    Ok(Output {
        state: Some(state),
        outputs,
    })
}

/// Decides and runs the children until the WorkingDirectory run ends.
async fn drive(local: &mut Local, env: &UnitEnv<'_>) -> Result<(), TaskError> {
    let mut events = VecDeque::from([Event::Start]);
    while let Some(event) = events.pop_front() {
        if local.wd_state().is_none_or(State::is_terminated) {
            break;
        }
        local.decisions += 1;
        let event_id = format!("{}-unit-{}", local.wd, local.decisions);
        let now = env.clock.now().trunc_subsecs(3);
        let actions = executor::handle(env.flow, &mut local.rec, &event, &event_id, &env.rt, now);
        for action in actions {
            match action {
                Action::Dispatch(job) if local.is_child(&job.task_run_id) => {
                    let result = run_child(local, env, job).await?;
                    events.push_back(Event::WorkerResult(result));
                }
                Action::Timer { at, timer }
                    if timer_run(&timer).is_some_and(|r| local.is_child(r)) =>
                {
                    wait_until(env.clock.as_ref(), at).await;
                    events.push_back(Event::Timer(timer));
                }
                Action::Logs { entries } => {
                    let mine: Vec<LogEntry> = entries
                        .into_iter()
                        .filter(|l| l.task_run_id.as_deref().is_some_and(|r| local.is_child(r)))
                        .collect();
                    local.logs.extend(mine);
                }
                // Everything else concerns the rest of the execution: the executor decides it.
                _ => {}
            }
        }
    }
    Ok(())
}

/// Runs one attempt of a child in the unit's directory.
async fn run_child(
    local: &mut Local,
    env: &UnitEnv<'_>,
    mut job: WorkerJob,
) -> Result<executor::WorkerResult, TaskError> {
    let task = env
        .flow
        .find_task(&job.task_id)
        .cloned()
        .ok_or_else(|| TaskError::new(format!("task {} not found in the flow", job.task_id)))?;
    job.working_directory = Some(local.dir_key.clone());
    let (result, logs) = run_job(
        job,
        task,
        env.runners,
        env.rt.clone(),
        env.storage.clone(),
        env.repos.clone(),
        env.clock.clone(),
        env.work_root,
        None,
    )
    .await;
    local.logs.extend(logs);
    Ok(result)
}

/// The task run a timer is about.
fn timer_run(t: &TimerKind) -> Option<&str> {
    match t {
        TimerKind::Retry { task_run_id }
        | TimerKind::Sleep { task_run_id }
        | TimerKind::PauseDelay { task_run_id }
        | TimerKind::PauseTimeout { task_run_id }
        | TimerKind::WaitFor { task_run_id } => Some(task_run_id),
        TimerKind::ScheduledStart | TimerKind::Sla { .. } => None,
    }
}

/// Waits until `clock` reads `at` (a manual clock is waited on as it is moved).
async fn wait_until(clock: &dyn Clock, at: DateTime<Utc>) {
    if let Some(mut moved) = clock.watch() {
        while clock.now() < at {
            if moved.changed().await.is_err() {
                return;
            }
        }
        return;
    }
    let wait = (at - clock.now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}

/// The unit was cut (its limit passed, or it could not go on): the children still running
/// end FAILED with `why`.
fn cut(local: &mut Local, why: &str, now: DateTime<Utc>) {
    let wd = local.wd.clone();
    let live: Vec<String> = local
        .rec
        .execution
        .task_run_list
        .iter()
        .filter(|r| r.parent_task_run_id.as_deref() == Some(wd.as_str()))
        .filter(|r| !r.current().is_terminated())
        .map(|r| r.id.clone())
        .collect();
    for id in live {
        let e = &mut local.rec.execution;
        let (namespace, flow_id, execution_id) =
            (e.namespace.clone(), e.flow_id.clone(), e.id.clone());
        let Some(r) = e.task_run_mut(&id) else {
            continue;
        };
        r.set_state(State::Failed, now);
        let task_id = r.task_id.clone();
        let attempt = r.attempts.len().saturating_sub(1) as u32;
        local.rec.internal.error_logs.push(serde_json::json!({
            "taskId": task_id,
            "taskRunId": id,
            "message": why,
            "level": "ERROR",
            "timestamp": now,
        }));
        local.logs.push(LogEntry {
            namespace,
            flow_id,
            task_id: Some(task_id),
            execution_id,
            task_run_id: Some(id),
            attempt_number: Some(attempt),
            timestamp: now,
            level: LogLevel::Error,
            thread: "worker".into(),
            message: why.to_owned(),
        });
    }
    if let Some(r) = local.rec.execution.task_run_mut(&wd) {
        r.set_state(State::Failed, now);
    }
}
