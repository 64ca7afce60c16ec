//! Executions (Kestra's `Execution`), plus the engine's private bookkeeping.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::state::{State, StateHistory};
use super::task_run::TaskRun;

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
        }
    }

    /// The current state.
    pub fn current(&self) -> State {
        self.state.current
    }

    /// A task run by id.
    pub fn task_run(&self, id: &str) -> Option<&TaskRun> {
        self.task_run_list.iter().find(|t| t.id == id)
    }

    /// A task run by id, mutable.
    pub fn task_run_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        self.task_run_list.iter_mut().find(|t| t.id == id)
    }

    /// Children of `parent` (None: top level) in creation order.
    pub fn children<'a>(
        &'a self,
        parent: Option<&'a str>,
    ) -> impl Iterator<Item = &'a TaskRun> + 'a {
        self.task_run_list
            .iter()
            .filter(move |t| t.parent_task_run_id.as_deref() == parent)
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
