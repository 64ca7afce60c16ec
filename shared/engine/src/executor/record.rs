//! What the executor reads and writes: the execution record (the public [`Execution`]
//! plus private bookkeeping), the events it consumes and the actions it emits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Execution, Label, LogEntry, State};

/// The persisted unit of the executor: one execution and its private state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The execution, as the API shows it.
    pub execution: Execution,
    /// Private bookkeeping.
    #[serde(default)]
    pub internal: Internal,
}

/// How many earlier outboxes a record keeps.
pub const EARLIER_OUTBOXES: usize = 8;

/// How many ids of earlier events without actions a record keeps.
pub const EARLIER_QUIET: usize = 32;

/// The executor's private state about one execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Internal {
    /// Id of the last event applied (a redelivered event is recognised and only its
    /// actions are sent again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
    /// Actions produced by the last event, re-sent if that event is delivered again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Action>,
    /// The ids and actions of the events before the last one that produced actions (most
    /// recent first, at most [`EARLIER_OUTBOXES`]): if one of them is delivered again after a
    /// later event (its handler stopped before its sends and the queue redelivered it out of
    /// order), its actions are re-sent instead of being lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<(String, Vec<Action>)>,
    /// The ids of the events before the last one that produced no action (most recent
    /// first, at most [`EARLIER_QUIET`]): delivered again, they change nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet: Vec<String>,
    /// ERROR log entries, for `errorLogs()`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_logs: Vec<Value>,
    /// Resolved loop values of ForEach-like task runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub loops: BTreeMap<String, Vec<String>>,
    /// The branch chosen by If/Switch task runs (`then`, `else`, `cases.X`, `defaults`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub branches: BTreeMap<String, String>,
    /// Task runs whose pause delay passed or that were resumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed: Vec<String>,
    /// Counter for derived ids.
    #[serde(default)]
    pub seq: u64,
    /// Child executions of ForEachItem `_items` runs, with their end states.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub item_children: BTreeMap<String, Vec<(String, Option<State>)>>,
    /// SLAs already violated (indexes in the flow).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sla_violated: Vec<usize>,
    /// When set, the execution ends RETRIED and a new one starts at this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_execution_at: Option<DateTime<Utc>>,
    /// The state an `execution.Exit` task asked the execution to end in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<State>,
    /// The final state waiting for deprecated listeners to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners_pending: Option<State>,
    /// Deprecated Subflow `outputs` to render for the parent when this execution ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subflow_outputs: Option<Map<String, Value>>,
    /// The values looked up for the last applied event (`kv()`, `read()`...; secrets only
    /// in memory): see [`super::lookups`].
    #[serde(default, skip_serializing_if = "super::lookups::Lookups::is_empty")]
    pub lookups: super::lookups::Lookups,
    /// The execution ended and its `afterExecution` tasks run: the actions announcing the
    /// end (to the parent, `Ended`) wait for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_execution: Option<Vec<Action>>,
    /// Set only in a worker's private copy of the record: the WorkingDirectory run that
    /// worker runs as one unit (its children are decided there, not by the executor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A task run result reported by a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerResult {
    /// Task run id.
    pub task_run_id: String,
    /// Attempt number (0-based index in `attempts`).
    pub attempt: u32,
    /// Final state of the attempt.
    pub state: State,
    /// Outputs.
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// ERROR messages logged by the attempt (for `errorLogs()`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_logs: Vec<String>,
}

/// What a WorkingDirectory ran on one worker, in one job: the executor adds their
/// task runs to the execution when it applies the unit's result (once: a result of an
/// attempt already ended is ignored, so a unit run twice under at-least-once delivery does
/// not duplicate them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitResult {
    /// The result of the WorkingDirectory run's attempt (its state is the unit's).
    pub result: WorkerResult,
    /// The children's task runs (states, attempts, outputs), in creation order.
    #[serde(default)]
    pub task_runs: Vec<crate::model::TaskRun>,
    /// ERROR entries for `errorLogs()` the children added (as in [`Internal::error_logs`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_logs: Vec<Value>,
    /// The id counter after the unit (the executor's counter goes past it, so its later ids
    /// never meet the children's).
    #[serde(default)]
    pub seq: u64,
}

/// Why a timer fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum TimerKind {
    /// Retry a failed task run.
    Retry {
        /// Task run.
        task_run_id: String,
    },
    /// A Pause delay passed: resume.
    PauseDelay {
        /// Task run.
        task_run_id: String,
    },
    /// A Pause timeout passed: fail if still paused.
    PauseTimeout {
        /// Task run.
        task_run_id: String,
    },
    /// A Sleep ended.
    Sleep {
        /// Task run.
        task_run_id: String,
    },
    /// Next WaitFor iteration.
    WaitFor {
        /// Task run.
        task_run_id: String,
    },
    /// A scheduled execution may start.
    ScheduledStart,
    /// A MAX_DURATION SLA deadline.
    Sla {
        /// Index of the SLA in the flow.
        index: usize,
    },
}

/// An input of the executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Event {
    /// The execution was created: start it.
    Start,
    /// A worker reported a result.
    WorkerResult(WorkerResult),
    /// A worker ran a WorkingDirectory as one unit and reports it with its children.
    UnitResult(UnitResult),
    /// A timer fired.
    Timer(TimerKind),
    /// A subflow execution ended.
    SubflowEnded {
        /// The Subflow task run of this execution.
        task_run_id: String,
        /// The child execution.
        execution_id: String,
        /// Its final state.
        state: State,
        /// Its flow outputs.
        #[serde(default)]
        outputs: Map<String, Value>,
        /// Why the child could not run or its outputs could not be rendered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Kill the execution.
    Kill,
    /// Resume a paused execution.
    Resume {
        /// `onResume` inputs.
        #[serde(default)]
        inputs: Map<String, Value>,
    },
    /// Restart a FAILED/KILLED (or PAUSED) execution from its failed task runs: same
    /// execution, new attempts.
    Restart,
    /// Force a task run into a terminal state (operator action), then go on.
    ChangeTaskRunState {
        /// The task run.
        task_run_id: String,
        /// SUCCESS, WARNING, FAILED...
        state: State,
    },
    /// A concurrency slot was granted to this QUEUED execution: start it.
    Unqueue,
    /// The answer to this CREATED execution's [`Action::RequestSlot`] (flow
    /// `concurrency`): no effect on an execution no longer CREATED.
    Slot {
        /// The answer.
        answer: SlotAnswer,
    },
}

/// The answer to a concurrency slot request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlotAnswer {
    /// A slot is granted: the execution runs.
    Granted,
    /// No slot: the execution waits, QUEUED, until a release grants it one (`Unqueue`).
    Queued,
    /// No slot: the execution ends CANCELLED (`behavior: CANCEL`).
    Cancelled,
    /// No slot: the execution ends FAILED (`behavior: FAIL`).
    Failed,
}

/// A job for a worker: run one attempt of a runnable task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerJob {
    /// Execution.
    pub execution_id: String,
    /// Namespace of the flow.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
    /// Flow revision (the worker loads the task definition from it).
    pub flow_revision: u32,
    /// Task id.
    pub task_id: String,
    /// Task run id.
    pub task_run_id: String,
    /// Attempt number (0-based).
    pub attempt: u32,
    /// The expression context of the task run.
    pub vars: Map<String, Value>,
    /// Shared working directory key (WorkingDirectory children).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Task-specific data from the executor (e.g. the child executions a merge reads).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// Creation of a child execution for a Subflow task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubflowRequest {
    /// Id the child gets (derived, so a replayed decision creates it once).
    pub execution_id: String,
    /// Parent execution.
    pub parent_execution_id: String,
    /// Parent task run.
    pub parent_task_run_id: String,
    /// Namespace of the child flow.
    pub namespace: String,
    /// Child flow id.
    pub flow_id: String,
    /// Revision (latest when None).
    #[serde(default)]
    pub revision: Option<u32>,
    /// Rendered inputs.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<crate::model::Label>,
    /// Whether the parent waits.
    pub wait: bool,
    /// Trigger variables of the child.
    #[serde(default)]
    pub trigger: Map<String, Value>,
    /// Deprecated `outputs` templates, rendered by the child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Value>>,
}

/// An output of the executor, carried out by the executor service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Action {
    /// Send a job to the worker queue.
    Dispatch(WorkerJob),
    /// Fire `timer` at `at`.
    Timer {
        /// When.
        at: DateTime<Utc>,
        /// What.
        timer: TimerKind,
    },
    /// Store log lines.
    Logs {
        /// The lines.
        entries: Vec<LogEntry>,
    },
    /// Create a child execution.
    StartSubflow(SubflowRequest),
    /// Tell the parent execution this subflow ended.
    NotifyParent {
        /// Parent execution.
        execution_id: String,
        /// Parent task run.
        task_run_id: String,
        /// Final state.
        state: State,
        /// Flow outputs.
        outputs: Map<String, Value>,
        /// Why the parent's Subflow task must fail anyway.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Ask the worker to stop a running attempt.
    KillTask {
        /// Task run.
        task_run_id: String,
    },
    /// Retry the whole execution (`behavior: CREATE_NEW_EXECUTION`): this one ended
    /// RETRIED; a new one of the chain starts at `at`.
    RetryExecution {
        /// When the new execution starts.
        at: DateTime<Utc>,
    },
    /// Resume another (paused) execution.
    ResumeExecution {
        /// The execution.
        execution_id: String,
        /// `onResume` inputs.
        inputs: Map<String, Value>,
    },
    /// Kill a child execution.
    KillExecution {
        /// The execution.
        execution_id: String,
    },
    /// The execution ended (concurrency slots).
    Ended {
        /// Final state.
        state: State,
    },
    /// The execution's own state changed (one action per entry added to its state
    /// history): Flow triggers listening to it react. At-least-once (the outbox sends it
    /// again with a redelivered event); `history_index` names the change, so a reaction
    /// keyed on it happens once.
    ExecutionStateChanged(StateChange),
    /// The decision needs these values from the outside (see [`super::lookups`]): it
    /// decided nothing, its record is to be discarded; the service looks them up, records
    /// them into the record it had and decides again. Always the only action returned.
    Need(Vec<super::lookups::Lookup>),
    /// Ask for a concurrency slot for this execution (flow `concurrency`): the service
    /// does the conditional write and applies its answer as [`Event::Slot`].
    RequestSlot,
    /// Free this execution's concurrency slot (it ended): the service hands it to the
    /// next QUEUED execution, which gets [`Event::Unqueue`].
    ReleaseSlot,
}

/// One change of an execution's state, with the facts a Flow trigger looks at as they
/// were at that change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    /// The state entered.
    pub state: State,
    /// Its position in the execution's state history (0 is CREATED).
    pub history_index: usize,
    /// When.
    pub date: DateTime<Utc>,
    /// The execution's labels then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    /// The flow outputs (once ended).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
}

impl StateChange {
    /// The changes of `execution`'s state from history entry `from` on, as actions.
    pub fn since(execution: &Execution, from: usize) -> Vec<Action> {
        execution
            .state
            .histories
            .iter()
            .enumerate()
            .skip(from.max(1))
            .map(|(i, h)| {
                Action::ExecutionStateChanged(StateChange {
                    state: h.state,
                    history_index: i,
                    date: h.date,
                    labels: execution.labels.clone(),
                    outputs: if h.state.is_terminated() {
                        execution.outputs.clone()
                    } else {
                        Map::new()
                    },
                })
            })
            .collect()
    }
}

impl Record {
    /// A record for a new execution.
    pub fn new(execution: Execution) -> Self {
        Self {
            execution,
            internal: Internal::default(),
        }
    }
}
