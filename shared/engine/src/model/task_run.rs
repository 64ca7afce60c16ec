//! Task runs: one run of a task (per loop value), with its attempts and outputs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::state::{State, StateHistory};

/// One attempt of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The attempt's state.
    pub state: StateHistory,
}

/// A task run (Kestra's `TaskRun`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    /// Id.
    pub id: String,
    /// Execution id.
    pub execution_id: String,
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
    /// Task id.
    pub task_id: String,
    /// Parent task run (flowable), if any.
    #[serde(default)]
    pub parent_task_run_id: Option<String>,
    /// Loop value (JSON text for non-strings).
    #[serde(default)]
    pub value: Option<String>,
    /// Attempts, oldest first.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// Outputs.
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// State.
    pub state: StateHistory,
    /// Loop iteration (WaitFor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
}

impl TaskRun {
    /// The current state.
    pub fn current(&self) -> State {
        self.state.current
    }

    /// Start date.
    pub fn start_date(&self) -> Option<DateTime<Utc>> {
        self.state.start_date
    }

    /// Moves the run (and its last attempt, if running) to `state`.
    pub fn set_state(&mut self, state: State, now: DateTime<Utc>) {
        self.state.set(state, now);
        if let Some(a) = self.attempts.last_mut()
            && !a.state.current.is_terminated()
            && state != State::Retrying
        {
            a.state.set(state, now);
        }
    }
}
