//! The executor: a pure function from (execution record, event) to (new record, actions).
//!
//! [`handle`] applies one [`Event`] to a [`Record`] and then runs the decision loop until
//! nothing changes: start created task runs (runnable ones are run inline when they are
//! pure, sent to a worker otherwise; flowable ones are initialised), ask every running
//! flowable what comes next or how it ended, and end the execution when its top-level
//! branch is done. All I/O is described by the returned [`Action`]s; time comes in as
//! `now`. Deciding twice from the same record and event yields the same result, ids
//! included (they are derived from the execution id).
//!
//! # Layout
//! - `record.rs`: [`Record`], [`Event`], [`Action`], [`WorkerJob`].
//! - `context.rs`: the expression context of a task run.
//! - `branch.rs`: the sequential/parallel resolution shared by flowables and the top level.
//! - `flowable/`: one file per flowable task type.
//! - `inline/`: runnable tasks pure enough to run inside the executor (Log, Return...).
//! - `retry.rs`: retry policies.
//! - `lookups.rs`: the values a decision needs from outside (`kv()`, `secret()`,
//!   `read()`...), answered from the record; a missing one makes the decision return
//!   [`Action::Need`].

pub mod branch;
pub mod context;
pub mod flowable;
pub mod inline;
pub mod limits;
pub mod lookups;
pub mod operator;
pub mod record;
pub mod retry;
pub mod sla;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kite_flow::plugin::LogLevel;
use kite_flow::{Flow, Task, TaskKind};
use serde_json::{Map, Value};

pub use context::Expressions;
pub use record::{
    Action, Event, Record, SlotAnswer, StateChange, SubflowRequest, TimerKind, UnitResult,
    WorkerJob, WorkerResult,
};

use crate::model::{Attempt, LogEntry, State, StateHistory, TaskRun, ids};
use branch::Decision;

/// Most decision rounds one event may cause (a guard against a non-converging flow).
const MAX_ROUNDS: usize = 100_000;

/// The task types the decision carries out itself, without a worker: flowables and
/// executables ([`flowable::Flowables`]), inline runnables ([`inline::registry`]) and
/// `Sleep` (a timer).
pub fn decided_types() -> BTreeSet<&'static str> {
    let mut out: BTreeSet<&'static str> = flowable::Flowables::core().types().collect();
    out.extend(inline::registry().keys().copied());
    out.insert(<kite_flow::tasks::sleep::Sleep as kite_flow::plugin::PluginType>::TYPE);
    out
}

/// The working set of one decision.
pub struct Cx<'f> {
    /// The flow of the execution.
    pub flow: &'f Flow,
    /// The record being decided.
    pub rec: &'f mut Record,
    /// Rendering.
    pub rt: &'f Expressions,
    /// Decision time.
    pub now: DateTime<Utc>,
    /// Actions emitted so far.
    pub actions: Vec<Action>,
    tasks: HashMap<&'f str, &'f Task>,
    logs: Vec<LogEntry>,
    /// What the decision loop looks at, once it started.
    track: Option<Tracking>,
    /// What this decision learned about its loops (see [`flowable::for_each::Progress`]).
    loops: std::cell::RefCell<HashMap<String, flowable::for_each::Progress>>,
    /// This step decides nothing more: the execution waits for its concurrency slot's
    /// answer, or that answer ended it.
    hold: bool,
}

/// The runs the decision loop looks at, kept in step with the changes the loop makes
/// (runs are created by `create_run` and change state by `set_run_state` while it runs),
/// so that a round costs time in what changed rather than in the number of task runs.
#[derive(Debug, Default)]
struct Tracking {
    /// Runs CREATED (or RESTARTED) and not started yet, in creation order.
    pending: Vec<String>,
    /// Positions of the flowable runs that may be RUNNING.
    flowables: BTreeSet<usize>,
    /// How many runs are PAUSED.
    paused: usize,
}

impl std::fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("execution", &self.rec.execution.id)
            .finish_non_exhaustive()
    }
}

/// Applies `event` (identified by `event_id`, for redelivery detection) and decides.
///
/// Returns the actions to carry out. When `event_id` equals the last applied event, the
/// record is left as is and the previous actions are returned again.
///
/// No I/O: `rt.host` is never called. Expression functions that need the outside world
/// (`kv()`, `secret()`, `read()`, `fileSize()`, `fileExists()`) are answered from
/// `rec.internal.lookups` (see [`lookups`]); when one is missing, the only action
/// returned is [`Action::Need`] and `rec` is left half-decided: the caller discards it,
/// records the values into the record it had ([`lookups::Lookups::record`]) and calls
/// `handle` again.
pub fn handle(
    flow: &Flow,
    rec: &mut Record,
    event: &Event,
    event_id: &str,
    rt: &Expressions,
    now: DateTime<Utc>,
) -> Vec<Action> {
    if rec.internal.last_event.as_deref() == Some(event_id) {
        return rec.internal.outbox.clone();
    }
    if let Some((_, actions)) = rec.internal.earlier.iter().find(|(id, _)| id == event_id) {
        let actions = actions.clone();
        return restore_jobs(&Cx::new(flow, rec, rt, now), actions);
    }
    if rec.internal.quiet.iter().any(|id| id == event_id) {
        return Vec::new();
    }
    // One masking scope per step: the secret values this step renders are masked in what
    // it writes (see `crate::masking`). Renders answer I/O functions from the record.
    let needs = lookups::Needs::default();
    let host = lookups::RecordedHost::new(&rec.internal.lookups, event_id, needs.clone());
    let scoped = rt.scoped().with_host(std::sync::Arc::new(host));
    let changes_from = rec.execution.state.histories.len();
    let mut cx = Cx::new(flow, rec, &scoped, now);
    cx.apply(event);
    cx.decide();
    let needed = needs.take();
    if !needed.is_empty() {
        return vec![Action::Need(needed)];
    }
    cx.mask_secrets();
    cx.flush_logs();
    let mut actions = std::mem::take(&mut cx.actions);
    rec.internal.lookups.settle(event_id);
    announce_state_changes(rec, changes_from, &mut actions);
    let previous = rec.internal.last_event.replace(event_id.to_owned());
    let previous_actions = std::mem::replace(&mut rec.internal.outbox, actions.clone());
    if let Some(previous) = previous {
        if previous_actions.is_empty() {
            rec.internal.quiet.insert(0, previous);
            rec.internal.quiet.truncate(record::EARLIER_QUIET);
        } else {
            rec.internal
                .earlier
                .insert(0, (previous, compact_jobs(previous_actions)));
            rec.internal.earlier.truncate(record::EARLIER_OUTBOXES);
        }
    }
    actions
}

/// Fails a running execution from outside a decision (its record passed the size
/// ceiling once stored): `message` is logged as an ERROR, live task runs are killed and the
/// execution ends FAILED. The actions are returned and added to the outbox of the last
/// applied event, so a redelivery of that event sends them too. Nothing happens to an
/// execution already ended.
pub fn fail(
    flow: &Flow,
    rec: &mut Record,
    message: &str,
    rt: &Expressions,
    now: DateTime<Utc>,
) -> Vec<Action> {
    if rec.execution.current().is_terminated() {
        return Vec::new();
    }
    let changes_from = rec.execution.state.histories.len();
    // No lookups here: an I/O function fails its render ("not known").
    let host =
        lookups::RecordedHost::new(&lookups::Lookups::default(), "", lookups::Needs::default());
    let rt = &rt.with_host(std::sync::Arc::new(host));
    let mut cx = Cx::new(flow, rec, rt, now);
    cx.log(None, LogLevel::Error, message);
    cx.stop_all(State::Failed);
    // The record is over its ceiling: it does not grow with `afterExecution` runs.
    cx.release_after_execution();
    cx.flush_logs();
    let mut actions = std::mem::take(&mut cx.actions);
    announce_state_changes(rec, changes_from, &mut actions);
    rec.internal.outbox.extend(actions.iter().cloned());
    actions
}

/// Adds an [`Action::ExecutionStateChanged`] for each state the execution entered since
/// history entry `from`, before `Ended` (which stays last: it announces the end once
/// everything else is out).
fn announce_state_changes(rec: &Record, from: usize, actions: &mut Vec<Action>) {
    let changes = StateChange::since(&rec.execution, from);
    if changes.is_empty() {
        return;
    }
    let at = actions
        .iter()
        .position(|a| matches!(a, Action::Ended { .. }))
        .unwrap_or(actions.len());
    actions.splice(at..at, changes);
}

/// Earlier outboxes keep worker jobs without their expression context (`vars`, the bulk of
/// a job, growing with every output): it is rebuilt if the job is sent again.
fn compact_jobs(actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .map(|a| match a {
            Action::Dispatch(mut job) => {
                job.vars = Map::new();
                Action::Dispatch(job)
            }
            other => other,
        })
        .collect()
}

/// The actions of an earlier outbox, to send again: a compacted job gets its context back
/// (as of now: outputs that arrived since are visible, as when a worker renders late), and
/// is dropped when its attempt has ended since (its result came back: it was sent).
fn restore_jobs(cx: &Cx<'_>, actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Dispatch(mut job) if job.vars.is_empty() => {
                let run = cx.run(&job.task_run_id)?;
                let current = run.attempts.len().saturating_sub(1) as u32 == job.attempt;
                if run.current().is_terminated() || !current {
                    return None;
                }
                job.vars = cx.vars(&job.task_run_id);
                Some(Action::Dispatch(job))
            }
            other => Some(other),
        })
        .collect()
}

impl<'f> Cx<'f> {
    /// A decision context over `rec`.
    fn new(flow: &'f Flow, rec: &'f mut Record, rt: &'f Expressions, now: DateTime<Utc>) -> Self {
        let mut tasks = HashMap::new();
        for t in flow.all_tasks() {
            tasks.insert(t.id.as_str(), t);
        }
        Cx {
            flow,
            rec,
            rt,
            now,
            actions: Vec::new(),
            tasks,
            logs: Vec::new(),
            track: None,
            loops: std::cell::RefCell::default(),
            hold: false,
        }
    }

    /// What this decision learned about loop run `id` so far.
    pub fn loop_progress(&self, id: &str) -> flowable::for_each::Progress {
        self.loops.borrow().get(id).copied().unwrap_or_default()
    }

    /// Remembers what this decision learned about loop run `id`.
    pub fn set_loop_progress(&self, id: &str, progress: flowable::for_each::Progress) {
        self.loops.borrow_mut().insert(id.to_owned(), progress);
    }

    /// Looks at every run once, when the decision loop starts.
    fn start_tracking(&mut self) {
        let mut t = Tracking::default();
        for (i, r) in self.rec.execution.runs().enumerate() {
            match r.current() {
                State::Created | State::Restarted => t.pending.push(r.id.clone()),
                State::Paused => t.paused += 1,
                _ => {}
            }
            if r.current() == State::Running && self.is_flowable(&r.task_id) {
                t.flowables.insert(i);
            }
        }
        self.track = Some(t);
    }

    fn is_flowable(&self, task_id: &str) -> bool {
        self.task(task_id)
            .is_some_and(|t| t.kind != TaskKind::Runnable)
    }

    /// The definition of task `id`.
    pub fn task(&self, id: &str) -> Option<&'f Task> {
        self.tasks.get(id).copied()
    }

    /// The run `id`.
    pub fn run(&self, id: &str) -> Option<&TaskRun> {
        self.rec.execution.task_run(id)
    }

    pub(crate) fn run_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        self.rec.execution.task_run_mut(id)
    }

    /// Records a log line (and remembers ERROR lines for `errorLogs()`).
    pub fn log(&mut self, run: Option<&str>, level: LogLevel, message: impl Into<String>) {
        let mut message = message.into();
        // A huge line would not fit in the record's outbox nor in a log item.
        crate::model::log::truncate_message(&mut message);
        let (task_id, attempt) = match run.and_then(|id| self.run(id)) {
            Some(r) => (
                Some(r.task_id.clone()),
                Some(r.attempts.len().saturating_sub(1) as u32),
            ),
            None => (None, None),
        };
        if level == LogLevel::Error {
            self.rec.internal.error_logs.push(serde_json::json!({
                "taskId": task_id,
                "taskRunId": run,
                "message": message,
                "level": "ERROR",
                "timestamp": self.now,
            }));
        }
        let e = &self.rec.execution;
        self.logs.push(LogEntry {
            namespace: e.namespace.clone(),
            flow_id: e.flow_id.clone(),
            task_id,
            execution_id: e.id.clone(),
            task_run_id: run.map(str::to_owned),
            attempt_number: attempt,
            timestamp: self.now,
            level,
            thread: "executor".into(),
            message,
        });
    }

    /// Masks the secret values rendered during this step wherever this step may have put
    /// them: its log lines, error logs, task outputs, labels, flow outputs and the outputs
    /// and error sent to a parent.
    fn mask_secrets(&mut self) {
        let Some(masks) = self.rt.masks().filter(|m| !m.is_empty()) else {
            return;
        };
        for l in &mut self.logs {
            masks.mask_in_place(&mut l.message);
        }
        for e in &mut self.rec.internal.error_logs {
            masks.mask_value(e);
        }
        let exec = &mut self.rec.execution;
        for r in &mut exec.task_run_list {
            for v in r.outputs.values_mut() {
                masks.mask_value(v);
            }
        }
        for v in exec.outputs.values_mut() {
            masks.mask_value(v);
        }
        for l in &mut exec.labels {
            masks.mask_in_place(&mut l.value);
        }
        for a in &mut self.actions {
            match a {
                Action::Logs { entries } => {
                    for l in entries {
                        masks.mask_in_place(&mut l.message);
                    }
                }
                Action::Dispatch(job) => {
                    for v in job.vars.values_mut() {
                        masks.mask_value(v);
                    }
                }
                Action::StartSubflow(req) => {
                    // A subflow input carrying a secret travels encrypted (the child
                    // decrypts it before resolving its inputs); masked without a key.
                    for v in req.inputs.values_mut() {
                        if !masks.touches(v) {
                            continue;
                        }
                        *v = match self.rt.encryption() {
                            Some(key) => {
                                let plain = match &*v {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                let context = format!("{}/inputs", req.execution_id);
                                crate::crypto::EncryptionKey::wrap(
                                    key.encrypt_deterministic(&context, &plain),
                                )
                            }
                            None => {
                                let mut masked = v.clone();
                                masks.mask_value(&mut masked);
                                masked
                            }
                        };
                    }
                }
                Action::NotifyParent { outputs, error, .. } => {
                    for v in outputs.values_mut() {
                        masks.mask_value(v);
                    }
                    if let Some(e) = error {
                        masks.mask_in_place(e);
                    }
                }
                _ => {}
            }
        }
    }

    /// Puts the log lines first: they must be stored before the end is announced.
    fn flush_logs(&mut self) {
        if !self.logs.is_empty() {
            let logs = std::mem::take(&mut self.logs);
            self.actions.insert(0, Action::Logs { entries: logs });
        }
    }

    /// The expression context of run `run_id`.
    pub fn vars(&self, run_id: &str) -> Map<String, Value> {
        self.vars_for(run_id, context::Needs::ALL)
    }

    /// The expression context of run `run_id`, with the execution-sized variables only
    /// when `needs` says so.
    pub fn vars_for(&self, run_id: &str, needs: context::Needs) -> Map<String, Value> {
        let run = self.run(run_id);
        let e = &self.rec.execution;
        match run.and_then(|r| self.task(&r.task_id).map(|t| (t, r))) {
            Some((task, run)) => {
                context::task_run_vars_for(self.rt, self.flow, e, task, run, needs)
            }
            None => context::execution_vars_for(self.rt, self.flow, e, needs),
        }
    }

    /// Renders `template` in the context of run `run_id`.
    pub fn render(&self, run_id: &str, template: &str) -> Result<String, String> {
        if !kite_flow::property::is_expression(template) && !template.contains("{#") {
            return Ok(template.to_owned());
        }
        let ctx = self.context_with(self.vars_for(run_id, context::Needs::of(template)));
        context::render(self.rt, template, &ctx).map_err(|e| e.to_string())
    }

    /// The render context of run `run_id`.
    pub fn context(&self, run_id: &str) -> kite_expr::Context {
        self.context_with(self.vars(run_id))
    }

    /// A render context over `vars` (with this execution's error logs and time).
    pub fn context_with(&self, vars: Map<String, Value>) -> kite_expr::Context {
        context::render_context(self.rt, vars, &self.rec.internal.error_logs, self.now)
    }

    /// Renders a JSON value (strings inside are templates) in the context of `run_id`.
    pub fn render_value(&self, run_id: &str, value: &Value) -> Result<Value, String> {
        let ctx = self.context_with(self.vars_for(run_id, context::Needs::of_value(value)));
        self.rt
            .engine
            .render_value(value, &ctx)
            .map_err(|e| e.to_string())
    }

    /// Renders to a typed value (a single `{{ }}` keeps its type).
    pub fn render_typed(&self, run_id: &str, template: &str) -> Result<Value, String> {
        let ctx = self.context_with(self.vars_for(run_id, context::Needs::of(template)));
        self.rt
            .engine
            .render_typed(template, &ctx)
            .map_err(|e| e.to_string())
    }

    fn next_id(&mut self, salt: &str) -> String {
        self.rec.internal.seq += 1;
        let seq = self.rec.internal.seq.to_string();
        ids::derived_id(&[&self.rec.execution.id, salt, &seq])
    }

    /// Creates a CREATED task run of `task` under `parent`.
    pub fn create_run(
        &mut self,
        task: &Task,
        parent: Option<&str>,
        value: Option<String>,
        iteration: Option<u32>,
    ) -> String {
        let id = self.next_id(&task.id);
        let limits = self.rt.limits;
        if self.rec.execution.task_run_list.len() >= limits.max_task_runs {
            // The ceiling: the run is not created and the execution fails.
            if self.rec.internal.exit != Some(State::Failed) {
                let message = limits::Ceiling::TaskRuns.exceeded(
                    &limits,
                    format!(
                        "Execution failed: task `{}` would be its task run number {}",
                        task.id,
                        self.rec.execution.task_run_list.len() + 1
                    ),
                );
                self.log(None, LogLevel::Error, message);
                self.rec.internal.exit = Some(State::Failed);
            }
            return id;
        }
        let e = &self.rec.execution;
        let run = TaskRun {
            id: id.clone(),
            execution_id: e.id.clone(),
            namespace: e.namespace.clone(),
            flow_id: e.flow_id.clone(),
            task_id: task.id.clone(),
            parent_task_run_id: parent.map(str::to_owned),
            value,
            attempts: Vec::new(),
            outputs: Map::new(),
            state: StateHistory::new(State::Created, self.now),
            iteration,
        };
        self.rec.execution.task_run_list.push(run);
        if let Some(t) = &mut self.track {
            t.pending.push(id.clone());
        }
        id
    }

    /// Sets the state of run `id`.
    pub fn set_run_state(&mut self, id: &str, state: State) {
        let now = self.now;
        let Some(pos) = self.rec.execution.position(id) else {
            return;
        };
        let r = &mut self.rec.execution.task_run_list[pos];
        let before = r.current();
        r.set_state(state, now);
        let task_id = r.task_id.clone();
        if self.track.is_none() {
            return;
        }
        let flowable = state == State::Running && self.is_flowable(&task_id);
        if let Some(t) = &mut self.track {
            if before == State::Paused {
                t.paused = t.paused.saturating_sub(1);
            }
            if state == State::Paused {
                t.paused += 1;
            }
            if flowable {
                t.flowables.insert(pos);
            } else {
                t.flowables.remove(&pos);
            }
        }
    }

    /// Merges `outputs` into run `id`.
    pub fn set_outputs(&mut self, id: &str, outputs: Map<String, Value>) {
        if let Some(r) = self.run_mut(id) {
            r.outputs.extend(outputs);
        }
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Start => {
                // Flow concurrency: a slot is asked for first (see `Event::Slot`).
                if self.flow.concurrency.is_some() && self.rec.execution.current() == State::Created
                {
                    self.actions.push(Action::RequestSlot);
                    self.hold = true;
                }
            }
            Event::Slot { answer } => self.apply_slot(*answer),
            Event::WorkerResult(r) => self.apply_worker_result(r),
            Event::UnitResult(u) => flowable::working_directory::apply_unit(self, u),
            Event::Timer(t) => self.apply_timer(t),
            Event::SubflowEnded {
                task_run_id,
                execution_id,
                state,
                outputs,
                error,
            } => {
                let Some(run) = self.run(task_run_id) else {
                    return;
                };
                if run.current().is_terminated() {
                    return;
                }
                let Some(task) = self.task(&run.task_id) else {
                    return;
                };
                let ended = flowable::subflow::Ended {
                    child: execution_id,
                    state: *state,
                    outputs: outputs.clone(),
                    error: error.clone(),
                };
                flowable::on_child_ended(self, task, task_run_id, ended);
            }
            Event::Kill => {
                if !self.rec.execution.current().is_terminated() {
                    let now = self.now;
                    self.rec.execution.state.set(State::Killing, now);
                } else if self.rec.internal.after_execution.is_some() {
                    self.kill_live_runs();
                    self.release_after_execution();
                }
            }
            Event::Resume { inputs } => self.resume(inputs),
            Event::Restart => operator::restart(self),
            Event::ChangeTaskRunState { task_run_id, state } => {
                operator::change_state(self, task_run_id, *state)
            }
            Event::Unqueue => {
                if self.rec.execution.current() == State::Queued {
                    let now = self.now;
                    self.rec.execution.state.set(State::Running, now);
                    self.log(
                        None,
                        LogLevel::Info,
                        format!("Flow started: {}.{}", self.flow.namespace, self.flow.id),
                    );
                    sla::arm(self);
                }
            }
        }
    }

    /// The answer to this execution's concurrency slot request.
    fn apply_slot(&mut self, answer: SlotAnswer) {
        if self.rec.execution.current() != State::Created {
            return;
        }
        let state = match answer {
            SlotAnswer::Granted => return,
            SlotAnswer::Queued => State::Queued,
            SlotAnswer::Cancelled => State::Cancelled,
            SlotAnswer::Failed => State::Failed,
        };
        let now = self.now;
        self.rec.execution.state.set(state, now);
        self.hold = true;
    }

    /// The execution ended in `state`: its concurrency slot is released, then the end
    /// is announced.
    fn push_ended(&mut self, state: State) {
        if self.flow.concurrency.is_some() {
            self.actions.push(Action::ReleaseSlot);
        }
        self.actions.push(Action::Ended { state });
    }

    fn apply_worker_result(&mut self, r: &WorkerResult) {
        let Some(run) = self.run(&r.task_run_id) else {
            return;
        };
        let current_attempt = run.attempts.len().saturating_sub(1) as u32;
        if run.current() != State::Running || current_attempt != r.attempt {
            return; // late or duplicate result
        }
        let task_id = run.task_id.clone();
        let parent = run.parent_task_run_id.clone();
        let mut outputs = r.outputs.clone();
        if let Some(files) = outputs.remove(crate::worker::WD_OUTPUT_FILES)
            && let Some(p) = parent
        {
            flowable::working_directory::merge_output_files(self, &p, files);
        }
        for m in &r.error_logs {
            self.rec.internal.error_logs.push(serde_json::json!({
                "taskId": task_id,
                "taskRunId": r.task_run_id,
                "message": m,
                "level": "ERROR",
            }));
        }
        let Some(task) = self.task(&task_id) else {
            return;
        };
        self.finish_attempt(task, &r.task_run_id, r.state, outputs);
    }

    fn apply_timer(&mut self, t: &TimerKind) {
        match t {
            TimerKind::Retry { task_run_id } => {
                let Some(run) = self.run(task_run_id) else {
                    return;
                };
                if run.current() != State::Retrying {
                    return;
                }
                let Some(task) = self.task(&run.task_id) else {
                    return;
                };
                if task.kind == TaskKind::Runnable {
                    self.start_attempt(task, task_run_id);
                } else {
                    // Subflow retry: a new attempt creates a new child execution.
                    self.set_run_state(task_run_id, State::Running);
                    self.push_attempt(task_run_id);
                    if let Err(e) = flowable::restart(self, task, task_run_id) {
                        self.log(Some(task_run_id), LogLevel::Error, e);
                        self.finish_attempt(task, task_run_id, State::Failed, Map::new());
                    }
                }
            }
            TimerKind::PauseDelay { task_run_id } => flowable::pause::on_delay(self, task_run_id),
            TimerKind::PauseTimeout { task_run_id } => {
                flowable::pause::on_timeout(self, task_run_id)
            }
            TimerKind::Sleep { task_run_id } => {
                let Some(run) = self.run(task_run_id) else {
                    return;
                };
                if run.current() != State::Running {
                    return;
                }
                let Some(task) = self.task(&run.task_id) else {
                    return;
                };
                self.finish_attempt(task, task_run_id, State::Success, Map::new());
            }
            TimerKind::WaitFor { task_run_id } => flowable::wait_for::on_timer(self, task_run_id),
            TimerKind::ScheduledStart => {}
            TimerKind::Sla { index } => sla::on_deadline(self, *index),
        }
    }

    /// Resumes the first paused task run (as Kestra does).
    fn resume(&mut self, inputs: &Map<String, Value>) {
        let first = self
            .rec
            .execution
            .runs()
            .find(|r| r.current() == State::Paused)
            .map(|r| r.id.clone());
        if let Some(id) = first {
            flowable::pause::resume(self, &id, inputs.clone());
        }
    }

    /// The decision loop.
    fn decide(&mut self) {
        let now = self.now;
        if self.hold || self.rec.execution.current() == State::Queued {
            return;
        }
        if self.rec.execution.current() == State::Restarted {
            self.rec.execution.state.set(State::Running, now);
        }
        if self.rec.execution.current() == State::Created {
            self.rec.execution.state.set(State::Running, now);
            self.log(
                None,
                LogLevel::Info,
                format!("Flow started: {}.{}", self.flow.namespace, self.flow.id),
            );
            sla::arm(self);
        }
        self.start_tracking();
        for _ in 0..MAX_ROUNDS {
            let exec_state = self.rec.execution.current();
            if exec_state.is_terminated() {
                // Ended: only `afterExecution` tasks may still run.
                if self.rec.internal.after_execution.is_none() || !self.after_execution_round() {
                    return;
                }
                continue;
            }
            if exec_state == State::Killing {
                self.kill_all();
                continue;
            }
            if sla::check_assertions(self) && self.rec.execution.current().is_terminated() {
                return;
            }
            let mut changed = self.start_created();
            if let Some(end) = self.rec.internal.exit.take() {
                self.stop_all(end);
                continue;
            }
            changed |= self.resolve_flowables();
            if !changed {
                changed = self.resolve_top();
            }
            if let Some(end) = self.rec.internal.exit.take() {
                self.stop_all(end);
                continue;
            }
            self.update_paused();
            if !changed {
                return;
            }
        }
        self.log(
            None,
            LogLevel::Error,
            "the executor did not converge; failing the execution",
        );
        self.end_execution(State::Failed);
    }

    fn update_paused(&mut self) {
        let now = self.now;
        let any_paused = match &self.track {
            Some(t) => t.paused > 0,
            None => self
                .rec
                .execution
                .runs()
                .any(|r| r.current() == State::Paused),
        };
        let cur = self.rec.execution.current();
        if any_paused && cur == State::Running {
            self.rec.execution.state.set(State::Paused, now);
        } else if !any_paused && cur == State::Paused {
            self.rec.execution.state.set(State::Running, now);
        }
    }

    fn kill_all(&mut self) {
        self.stop_all(State::Killed);
    }

    /// Kills every live task run (and child execution) and ends the execution in `end`.
    pub fn stop_all(&mut self, end: State) {
        self.kill_live_runs();
        if end == State::Killed {
            self.kill_detached_children();
        }
        self.rec.internal.listeners_pending = None;
        self.finish_execution(end);
    }

    /// Kills every live task run (and child execution).
    fn kill_live_runs(&mut self) {
        let now = self.now;
        let live: Vec<(String, String)> = self
            .rec
            .execution
            .runs()
            .filter(|r| !r.current().is_terminated())
            .map(|r| (r.id.clone(), r.task_id.clone()))
            .collect();
        for (id, task_id) in live {
            if let Some(task) = self.task(&task_id) {
                match task.kind {
                    TaskKind::Runnable => self.actions.push(Action::KillTask {
                        task_run_id: id.clone(),
                    }),
                    TaskKind::Executable => {
                        if let Some(child) = self
                            .run(&id)
                            .and_then(|r| r.outputs.get("executionId"))
                            .and_then(Value::as_str)
                        {
                            self.actions.push(Action::KillExecution {
                                execution_id: child.to_owned(),
                            });
                        }
                        // ForEachItem children still running.
                        let items: Vec<String> = self
                            .rec
                            .internal
                            .item_children
                            .get(&id)
                            .into_iter()
                            .flatten()
                            .filter(|(_, state)| state.is_none())
                            .map(|(child, _)| child.clone())
                            .collect();
                        for child in items {
                            self.actions.push(Action::KillExecution {
                                execution_id: child,
                            });
                        }
                    }
                    // A WorkingDirectory runs as one attempt on a worker: stop it there.
                    TaskKind::Flowable if flowable::working_directory::is(task) => {
                        self.actions.push(Action::KillTask {
                            task_run_id: id.clone(),
                        })
                    }
                    TaskKind::Flowable => {}
                }
            }
            if let Some(r) = self.rec.execution.task_run_mut(&id) {
                r.set_state(State::Killed, now);
            }
        }
    }

    /// One round of the `afterExecution` tasks of an ended execution (Kestra 0.21+): they
    /// run in sequence, see the final state (`execution.state`) and do not change it;
    /// when they are done, the end is announced. Returns whether something changed.
    fn after_execution_round(&mut self) -> bool {
        let mut changed = self.start_created();
        changed |= self.resolve_flowables();
        // An `Exit` there cannot change the ended execution.
        self.rec.internal.exit = None;
        if changed {
            return true;
        }
        let lists = branch::Lists {
            tasks: &self.flow.after_execution,
            errors: &[],
            finally: &[],
        };
        match branch::sequential(self, None, lists, None) {
            Decision::Wait => false,
            Decision::Create(list) => {
                for n in list {
                    self.create_run(n.task, None, n.value, n.iteration);
                }
                true
            }
            Decision::Done(_) => {
                self.release_after_execution();
                true
            }
        }
    }

    /// Sends the end announcements held while `afterExecution` tasks ran.
    fn release_after_execution(&mut self) {
        if let Some(held) = self.rec.internal.after_execution.take() {
            self.actions.extend(held);
        }
    }

    /// A kill also reaches the children started without waiting (`wait: false`): their
    /// task runs ended at once, but the children may still run (and start their own).
    fn kill_detached_children(&mut self) {
        let mut detached = Vec::new();
        for r in &self.rec.execution.task_run_list {
            let Some(task) = self.task(&r.task_id) else {
                continue;
            };
            if task.kind != TaskKind::Executable || !r.current().is_terminated() {
                continue;
            }
            let waits = match task.spec::<kite_flow::tasks::subflow::Subflow>() {
                Some(s) => s.wait.unwrap_or(true),
                None => task
                    .spec::<kite_flow::tasks::for_each_item::ForEachItemItems>()
                    .is_none_or(|s| s.wait),
            };
            if waits {
                continue;
            }
            if let Some(child) = r.outputs.get("executionId").and_then(Value::as_str) {
                detached.push(child.to_owned());
            }
            if let Some(items) = self.rec.internal.item_children.get(&r.id) {
                detached.extend(items.iter().map(|(child, _)| child.clone()));
            }
        }
        for execution_id in detached {
            self.actions.push(Action::KillExecution { execution_id });
        }
    }

    fn start_created(&mut self) -> bool {
        let created: Vec<String> = match &mut self.track {
            Some(t) => std::mem::take(&mut t.pending),
            None => self
                .rec
                .execution
                .runs()
                .filter(|r| matches!(r.current(), State::Created | State::Restarted))
                .map(|r| r.id.clone())
                .collect(),
        };
        let mut changed = false;
        for id in created {
            let Some(run) = self.run(&id) else { continue };
            if !matches!(run.current(), State::Created | State::Restarted) {
                continue;
            }
            changed = true;
            let Some(task) = self.task(&run.task_id) else {
                self.set_run_state(&id, State::Failed);
                continue;
            };
            self.start_run(task, &id);
        }
        changed
    }

    fn start_run(&mut self, task: &'f Task, id: &str) {
        if self
            .run(id)
            .is_some_and(|r| r.current() == State::Restarted)
        {
            match task.kind {
                TaskKind::Runnable => self.start_attempt(task, id),
                TaskKind::Executable => {
                    self.set_run_state(id, State::Running);
                    self.push_attempt(id);
                    if let Err(e) = flowable::restart(self, task, id) {
                        self.log(Some(id), LogLevel::Error, e);
                        self.finish_attempt(task, id, State::Failed, Map::new());
                    }
                }
                TaskKind::Flowable => {
                    self.set_run_state(id, State::Running);
                    // A WorkingDirectory restarts as a whole: a new unit on a worker.
                    if flowable::working_directory::is(task)
                        && let Err(e) = flowable::start(self, task, id)
                    {
                        self.log(Some(id), LogLevel::Error, e);
                        self.set_run_state(id, State::Failed);
                    }
                }
            }
            return;
        }
        if let Some(cond) = &task.common.run_if {
            match self.render(id, cond) {
                Ok(v) if !kite_expr::is_truthy(&v) => {
                    self.set_run_state(id, State::Skipped);
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    self.set_run_state(id, State::Running);
                    self.push_attempt(id);
                    self.log(Some(id), LogLevel::Error, format!("runIf failed: {e}"));
                    self.finish_attempt(task, id, State::Failed, Map::new());
                    return;
                }
            }
        }
        match task.kind {
            TaskKind::Runnable => self.start_attempt(task, id),
            TaskKind::Flowable | TaskKind::Executable => {
                self.set_run_state(id, State::Running);
                if let Err(e) = flowable::start(self, task, id) {
                    self.log(Some(id), LogLevel::Error, e);
                    let state = self.final_state(task, id, State::Failed);
                    self.set_run_state(id, state);
                }
            }
        }
    }

    /// Appends a RUNNING attempt to run `id`.
    pub fn push_attempt(&mut self, id: &str) {
        let now = self.now;
        if let Some(r) = self.run_mut(id) {
            r.attempts.push(Attempt {
                state: StateHistory::new(State::Running, now),
            });
        }
    }

    /// Starts a new attempt of a runnable task run: inline, timer or worker.
    fn start_attempt(&mut self, task: &'f Task, id: &str) {
        self.set_run_state(id, State::Running);
        self.push_attempt(id);
        if let Some(result) = inline::run(self, task, id) {
            match result {
                Ok((state, outputs)) => self.finish_attempt(task, id, state, outputs),
                Err(e) => {
                    self.log(Some(id), LogLevel::Error, e);
                    self.finish_attempt(task, id, State::Failed, Map::new());
                }
            }
            return;
        }
        if let Some(sleep) = task.spec::<kite_flow::tasks::sleep::Sleep>() {
            let d = match &sleep.duration {
                kite_flow::property::Dyn::Value(d) => Ok(*d),
                kite_flow::property::Dyn::Expr(e) => self.render(id, e).and_then(|s| {
                    s.parse::<kite_flow::IsoDuration>()
                        .map_err(|e| e.to_string())
                }),
            };
            match d {
                Ok(d) => {
                    let at = self.now + d.to_chrono();
                    self.actions.push(Action::Timer {
                        at,
                        timer: TimerKind::Sleep {
                            task_run_id: id.to_owned(),
                        },
                    });
                }
                Err(e) => {
                    self.log(Some(id), LogLevel::Error, format!("duration: {e}"));
                    self.finish_attempt(task, id, State::Failed, Map::new());
                }
            }
            return;
        }
        let mut extra = flowable::for_each_item::job_extra(self, task, id);
        if let Some(wd) = self.working_directory_of(id)
            && flowable::working_directory::is_legacy(self, &wd)
        {
            flowable::working_directory::job_extra(self, &wd, &mut extra);
        }
        let job = self.worker_job(task, id, extra);
        self.actions.push(Action::Dispatch(job));
    }

    /// The job running the current attempt of run `id` of `task` on a worker.
    pub fn worker_job(&self, task: &Task, id: &str, extra: Map<String, Value>) -> WorkerJob {
        let attempt = self
            .run(id)
            .map(|r| r.attempts.len().saturating_sub(1) as u32)
            .unwrap_or(0);
        let working_directory = self.working_directory_of(id);
        let vars = self.vars(id);
        let e = &self.rec.execution;
        WorkerJob {
            execution_id: e.id.clone(),
            namespace: e.namespace.clone(),
            flow_id: e.flow_id.clone(),
            flow_revision: e.flow_revision,
            task_id: task.id.clone(),
            task_run_id: id.to_owned(),
            attempt,
            vars,
            working_directory,
            extra,
        }
    }

    fn working_directory_of(&self, id: &str) -> Option<String> {
        let parent = self.run(id)?.parent_task_run_id.clone()?;
        let pr = self.run(&parent)?;
        let pt = self.task(&pr.task_id)?;
        (pt.type_name == <kite_flow::tasks::working_directory::WorkingDirectory as kite_flow::plugin::PluginType>::TYPE).then_some(parent)
    }

    /// Ends the current attempt of run `id` with `state`, applying retry, warningOnRetry,
    /// allowFailure and allowWarning.
    pub fn finish_attempt(
        &mut self,
        task: &Task,
        id: &str,
        state: State,
        outputs: Map<String, Value>,
    ) {
        let now = self.now;
        if let Some(r) = self.run_mut(id) {
            r.outputs.extend(outputs);
            if let Some(a) = r.attempts.last_mut() {
                a.state.set(state, now);
            }
        }
        if state == State::Failed
            && let Some(at) = retry::next_retry(self, task, id)
        {
            self.set_run_state(id, State::Retrying);
            self.actions.push(Action::Timer {
                at,
                timer: TimerKind::Retry {
                    task_run_id: id.to_owned(),
                },
            });
            return;
        }
        if state == State::Failed
            && self.rec.internal.retry_execution_at.is_none()
            && let Some(at) = retry::next_execution(self, task, id)
        {
            self.rec.internal.retry_execution_at = Some(at);
        }
        let mut state = state;
        if state == State::Success
            && self.run(id).is_some_and(|r| r.attempts.len() > 1)
            && retry::policy(self, task, id).is_some_and(|p| p.warning_on_retry)
        {
            state = State::Warning;
        }
        let state = self.final_state(task, id, state);
        self.set_run_state(id, state);
    }

    /// Applies `allowFailure`/`allowWarning` to a computed state.
    pub fn final_state(&self, task: &Task, _id: &str, state: State) -> State {
        let mut s = state;
        if s == State::Failed && task.common.allow_failure {
            s = State::Warning;
        }
        if s == State::Warning && task.common.allow_warning {
            s = State::Success;
        }
        s
    }

    fn resolve_flowables(&mut self) -> bool {
        let list = &self.rec.execution.task_run_list;
        let running: Vec<(String, String)> = match &self.track {
            Some(t) => t
                .flowables
                .iter()
                .filter_map(|&i| list.get(i))
                .inspect(|_| crate::model::execution::visit(1))
                .filter(|r| r.current() == State::Running)
                .map(|r| (r.id.clone(), r.task_id.clone()))
                .collect(),
            None => self
                .rec
                .execution
                .runs()
                .filter(|r| r.current() == State::Running && self.is_flowable(&r.task_id))
                .map(|r| (r.id.clone(), r.task_id.clone()))
                .collect(),
        };
        let mut changed = false;
        for (id, task_id) in running.into_iter().rev() {
            let Some(task) = self.task(&task_id) else {
                continue;
            };
            if task.kind == TaskKind::Executable {
                continue;
            }
            match flowable::next(self, task, &id) {
                Decision::Wait => {
                    if let Some(state) = flowable::on_wait(self, task, &id) {
                        let state = self.final_state(task, &id, state);
                        self.set_run_state(&id, state);
                        changed = true;
                    }
                }
                Decision::Create(list) => {
                    for n in list {
                        self.create_run(n.task, Some(&id), n.value, n.iteration);
                    }
                    changed = true;
                }
                Decision::Done(state) => {
                    let state = self.final_state(task, &id, state);
                    self.set_run_state(&id, state);
                    changed = true;
                }
            }
        }
        changed
    }

    fn resolve_top(&mut self) -> bool {
        let flow = self.flow;
        if let Some(final_state) = self.rec.internal.listeners_pending {
            return self.resolve_listeners(final_state);
        }
        let d = branch::sequential(
            self,
            None,
            branch::Lists {
                tasks: &flow.tasks,
                errors: &flow.errors,
                finally: &flow.finally,
            },
            None,
        );
        match d {
            Decision::Wait => false,
            Decision::Create(list) => {
                for n in list {
                    self.create_run(n.task, None, n.value, n.iteration);
                }
                true
            }
            Decision::Done(state) => {
                self.end_execution(state);
                true
            }
        }
    }

    /// The top-level branch ended in `state`: run the deprecated listeners whose conditions
    /// hold (their outcome does not change the state), then finish. A condition that cannot
    /// be decided is logged and its listener skipped.
    fn end_execution(&mut self, state: State) {
        let mut matching = false;
        let mut errors = Vec::new();
        for l in &self.flow.listeners {
            match self.listener_matches(l, state) {
                Ok(m) => matching |= m,
                Err(e) => errors.push(format!("listener skipped: {e}")),
            }
        }
        for e in errors {
            self.log(None, LogLevel::Error, e);
        }
        if matching && self.rec.internal.listeners_pending.is_none() {
            self.rec.internal.listeners_pending = Some(state);
            return;
        }
        self.finish_execution(state);
    }

    /// Whether the conditions of listener `l` hold for an execution ending in `state`,
    /// through the condition evaluator (every condition type it knows, the execution as
    /// the upstream one, expressions seeing the execution's variables).
    fn listener_matches(
        &self,
        l: &kite_flow::model::flow::Listener,
        state: State,
    ) -> Result<bool, crate::conditions::ConditionError> {
        if l.conditions.is_empty() {
            return Ok(true);
        }
        let mut upstream =
            crate::conditions::UpstreamExecution::from_execution(&self.rec.execution);
        upstream.state = state;
        let trigger = Map::new();
        let cx = crate::conditions::ConditionContext {
            rt: self.rt,
            now: self.now,
            flow: self.flow,
            trigger: &trigger,
            execution: Some(&upstream),
        };
        let vars = context::execution_vars(self.rt, self.flow, &self.rec.execution);
        let expr = context::render_context(self.rt, vars, &self.rec.internal.error_logs, self.now);
        crate::conditions::evaluate_all_in(&l.conditions, &cx, expr)
    }

    fn resolve_listeners(&mut self, final_state: State) -> bool {
        let flow = self.flow;
        for l in flow
            .listeners
            .iter()
            .filter(|l| self.listener_matches(l, final_state).unwrap_or(false))
        {
            let runs: Vec<&TaskRun> = self
                .rec
                .execution
                .children(None)
                .filter(|r| l.tasks.iter().any(|t| t.id == r.task_id))
                .collect();
            if runs.iter().any(|r| !r.current().is_terminated()) {
                return false;
            }
            if runs.iter().any(|r| r.current().is_failed()) {
                continue;
            }
            if let Some(t) = l
                .tasks
                .iter()
                .filter(|t| !t.common.disabled)
                .find(|t| !runs.iter().any(|r| r.task_id == t.id))
            {
                self.create_run(t, None, None, None);
                return true;
            }
        }
        self.rec.internal.listeners_pending = None;
        self.finish_execution(final_state);
        true
    }

    /// Renders flow outputs and moves the execution to its final state.
    fn finish_execution(&mut self, state: State) {
        let now = self.now;
        let mut state = state;
        if matches!(state, State::Failed)
            && let Some(at) = self.rec.internal.retry_execution_at
        {
            self.rec.execution.state.set(State::Retried, now);
            self.log(
                None,
                LogLevel::Info,
                "Flow failed: a new execution will retry it",
            );
            self.actions.push(Action::RetryExecution { at });
            self.push_ended(State::Retried);
            return;
        }
        if matches!(state, State::Success | State::Warning) && !self.flow.outputs.is_empty() {
            match self.flow_outputs() {
                Ok(o) => self.rec.execution.outputs = o,
                Err(e) => {
                    self.log(
                        None,
                        LogLevel::Error,
                        format!("Failed to render flow outputs: {e}"),
                    );
                    state = State::Failed;
                }
            }
        }
        self.rec.execution.state.set(state, now);
        self.log(
            None,
            LogLevel::Info,
            format!("Flow completed with state {state}"),
        );
        let mut announcements = Vec::new();
        if let Some(parent) = self
            .rec
            .execution
            .trigger
            .as_ref()
            .filter(|t| t.kind == "subflow")
            .map(|t| t.variables.clone())
            && let (Some(pe), Some(pt)) = (
                parent.get("parentExecutionId").and_then(Value::as_str),
                parent.get("parentTaskRunId").and_then(Value::as_str),
            )
        {
            let (mut outputs, mut error) = (self.rec.execution.outputs.clone(), None);
            if let Some(templates) = self.rec.internal.subflow_outputs.clone() {
                let vars = context::execution_vars(self.rt, self.flow, &self.rec.execution);
                let ctx =
                    context::render_context(self.rt, vars, &self.rec.internal.error_logs, self.now);
                match self.rt.engine.render_value(&Value::Object(templates), &ctx) {
                    Ok(Value::Object(m)) => outputs.extend(m),
                    Ok(_) => {}
                    Err(e) => {
                        error = Some(format!("Subflow outputs of {}: {e}", self.rec.execution.id))
                    }
                }
            }
            announcements.push(Action::NotifyParent {
                execution_id: pe.to_owned(),
                task_run_id: pt.to_owned(),
                state,
                outputs,
                error,
            });
        }
        if self.flow.concurrency.is_some() {
            // The slot is free once the execution has ended (its afterExecution tasks do
            // not hold it).
            self.actions.push(Action::ReleaseSlot);
        }
        announcements.push(Action::Ended { state });
        let after = &self.flow.after_execution;
        if after.iter().any(|t| !t.common.disabled) && self.rec.internal.after_execution.is_none() {
            self.rec.internal.after_execution = Some(announcements);
        } else {
            self.actions.extend(announcements);
        }
    }

    fn flow_outputs(&self) -> Result<Map<String, Value>, String> {
        let vars = context::execution_vars(self.rt, self.flow, &self.rec.execution);
        let ctx = context::render_context(self.rt, vars, &self.rec.internal.error_logs, self.now);
        let mut out = Map::new();
        for o in &self.flow.outputs {
            let v = match &o.value {
                Value::String(s) => Value::String(
                    self.rt
                        .engine
                        .render(s, &ctx)
                        .map_err(|e| format!("{}: {e}", o.id))?,
                ),
                other => self
                    .rt
                    .engine
                    .render_value(other, &ctx)
                    .map_err(|e| format!("{}: {e}", o.id))?,
            };
            let input =
                kite_flow::model::input::Input::typed(&o.id, o.kind, o.required.unwrap_or(true));
            let mut supplied = Map::new();
            supplied.insert(o.id.clone(), v);
            let typed =
                kite_flow::inputs::resolve(&[input], &supplied, &kite_flow::inputs::NoRenderer)
                    .map_err(|e| {
                        e.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })?;
            let mut typed = typed;
            if o.kind == kite_flow::model::input::InputType::Secret
                && let Some(v) = typed.get_mut(&o.id)
            {
                // Stored encrypted (Kestra's EncryptedString), deterministically: deciding
                // twice gives the same record.
                let key = self.rt.encryption().ok_or_else(|| {
                    format!(
                        "{}: a SECRET output needs an encryption key (set {})",
                        o.id,
                        crate::crypto::KEY_VARIABLE
                    )
                })?;
                let plain = match &*v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let context = format!("{}/outputs/{}", self.rec.execution.id, o.id);
                *v =
                    crate::crypto::EncryptionKey::wrap(key.encrypt_deterministic(&context, &plain));
            }
            out.extend(typed);
        }
        Ok(out)
    }
}
