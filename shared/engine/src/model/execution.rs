//! Executions (Kestra's `Execution`), plus the engine's private bookkeeping.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::run_index::RunIndex;
use super::state::{State, StateHistory};
use super::task_run::TaskRun;

thread_local! {
    static VISITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many task runs this thread looked at through [`Execution::runs`], the children
/// lookups and the index (a deterministic measure of a decision's work, for tests).
pub fn visits() -> u64 {
    VISITS.with(std::cell::Cell::get)
}

/// Counts `n` task runs looked at (see [`visits`]).
pub fn visit(n: u64) {
    VISITS.with(|v| v.set(v.get().wrapping_add(n)));
}

/// An execution label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// What started the execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionTrigger {
    /// Trigger id (or `subflow`, `api`...).
    pub id: String,
    /// Trigger type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Variables exposed as `{{ trigger.* }}`.
    #[serde(default)]
    pub variables: Map<String, Value>,
}

/// Link to the parent execution of a subflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentLink {
    /// Parent execution.
    pub execution_id: String,
    /// The Subflow task run waiting for this execution.
    pub task_run_id: String,
    /// Whether the parent waits.
    pub wait: bool,
}

/// An execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// Id.
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
    /// Flow revision.
    pub flow_revision: u32,
    /// State.
    pub state: StateHistory,
    /// Task runs in creation order.
    #[serde(default)]
    pub task_run_list: Vec<TaskRun>,
    /// Resolved inputs.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// Flow outputs (when ended).
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Parent execution (subflows, replays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// First execution of a restart/replay chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// What started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<ExecutionTrigger>,
    /// When it should start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_date: Option<DateTime<Utc>>,
    /// Attempt number (restarts).
    #[serde(default)]
    pub metadata: Metadata,
    /// Lookups into `task_run_list` (derived, not stored).
    #[serde(skip)]
    pub index: RunIndex,
}

/// Execution metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// 1 + number of restarts.
    #[serde(default = "one")]
    pub attempt_number: u32,
    /// Creation date of the original execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_created_date: Option<DateTime<Utc>>,
}

fn one() -> u32 {
    1
}

impl Execution {
    /// A new CREATED execution.
    pub fn new(
        id: String,
        flow: &kite_flow::Flow,
        inputs: Map<String, Value>,
        labels: Vec<Label>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.clone(),
            namespace: flow.namespace.clone(),
            flow_id: flow.id.clone(),
            flow_revision: flow.revision.unwrap_or(1),
            state: StateHistory::new(State::Created, now),
            task_run_list: Vec::new(),
            inputs,
            outputs: Map::new(),
            labels,
            parent_id: None,
            original_id: Some(id),
            trigger: None,
            schedule_date: None,
            metadata: Metadata {
                attempt_number: 1,
                original_created_date: Some(now),
            },
            index: RunIndex::default(),
        }
    }

    /// Every task run in creation order (counted, see [`visits`]).
    pub fn runs(&self) -> impl Iterator<Item = &TaskRun> {
        self.task_run_list.iter().inspect(|_| visit(1))
    }

    /// The current state.
    pub fn current(&self) -> State {
        self.state.current
    }

    /// A task run by id.
    pub fn task_run(&self, id: &str) -> Option<&TaskRun> {
        let i = self.index.position(&self.task_run_list, id)?;
        self.task_run_list.get(i)
    }

    /// The position of task run `id` in `task_run_list`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.position(&self.task_run_list, id)
    }

    /// A task run by id, mutable.
    pub fn task_run_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        let i = self.index.position(&self.task_run_list, id)?;
        self.task_run_list.get_mut(i)
    }

    /// Children of `parent` (None: top level) in creation order.
    pub fn children<'a>(
        &'a self,
        parent: Option<&'a str>,
    ) -> impl Iterator<Item = &'a TaskRun> + 'a {
        self.children_with(parent, None)
    }

    /// Children of `parent` carrying loop value `value` (any value when None), in
    /// creation order.
    pub fn children_with<'a>(
        &'a self,
        parent: Option<&str>,
        value: Option<&str>,
    ) -> impl Iterator<Item = &'a TaskRun> + 'a {
        self.index
            .children(&self.task_run_list, parent, value)
            .into_iter()
            .filter_map(|i| self.task_run_list.get(i))
            .inspect(|_| visit(1))
    }

    /// The loop values of `run` and its ancestors, outermost first (nulls skipped).
    pub fn value_chain(&self, run: &TaskRun) -> Vec<String> {
        let mut values = Vec::new();
        let mut cur = Some(run);
        let mut guard = 0;
        while let Some(r) = cur {
            if let Some(v) = &r.value {
                values.push(v.clone());
            }
            guard += 1;
            if guard > 10_000 {
                break;
            }
            cur = r
                .parent_task_run_id
                .as_deref()
                .and_then(|p| self.task_run(p));
        }
        values.reverse();
        values
    }

    /// Labels as a map (first key wins), for `{{ labels.x }}`.
    pub fn labels_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for l in &self.labels {
            m.entry(l.key.clone())
                .or_insert_with(|| Value::String(l.value.clone()));
        }
        m
    }
}
