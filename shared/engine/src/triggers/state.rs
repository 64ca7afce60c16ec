//! The stored state of one trigger, in Kestra's `Trigger` JSON shape: last and next
//! dates, the backfill under way, whether an operator disabled it, the last execution it
//! started. Internal fields (`fingerprint`, `dueAt`) are Kite's own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::Label;

/// A backfill: the schedule's dates from `start` to `end` (or now), run again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backfill {
    /// First date (inclusive).
    pub start: DateTime<Utc>,
    /// Last date (inclusive; none: up to the moment the backfill catches up with now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// The next date to run (starts at `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_date: Option<DateTime<Utc>>,
    /// Paused through the API.
    #[serde(default)]
    pub paused: bool,
    /// Inputs of the backfill executions (over the trigger's).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inputs: Map<String, Value>,
    /// Labels of the backfill executions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    /// When it was created (part of its executions' ids: a second backfill of the same
    /// dates starts new executions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
}

/// One trigger's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerState {
    /// Namespace of the flow.
    pub namespace: String,
    /// The flow.
    pub flow_id: String,
    /// The trigger's id in the flow.
    pub trigger_id: String,
    /// Its type (canonical Kestra name).
    #[serde(rename = "type")]
    pub kind: String,
    /// Revision of the flow the state was last synchronised with.
    #[serde(default)]
    pub flow_revision: u32,
    /// Date of the last occurrence fired (or evaluated, for polling triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime<Utc>>,
    /// Next date it fires (schedules) or is evaluated (polling triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_execution_date: Option<DateTime<Utc>>,
    /// A backfill under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Backfill>,
    /// Set by an operator (API, Toggle task): overrides the flow's `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// The last execution it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_date: Option<DateTime<Utc>>,
    /// Digest of the definition the dates were computed from (a changed definition
    /// recomputes them).
    #[serde(default)]
    pub fingerprint: String,
    /// Type-specific memory (e.g. a polling trigger's last seen rows).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub memory: Map<String, Value>,
}

impl TriggerState {
    /// A fresh state.
    pub fn new(namespace: &str, flow_id: &str, trigger_id: &str, kind: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            flow_id: flow_id.to_owned(),
            trigger_id: trigger_id.to_owned(),
            kind: kind.to_owned(),
            flow_revision: 0,
            date: None,
            next_execution_date: None,
            backfill: None,
            disabled: None,
            execution_id: None,
            updated_date: None,
            fingerprint: String::new(),
            memory: Map::new(),
        }
    }

    /// Its key: `namespace|flowId|triggerId`.
    pub fn key(&self) -> String {
        state_key(&self.namespace, &self.flow_id, &self.trigger_id)
    }

    /// Whether an operator disabled it, else whether the definition does.
    pub fn is_disabled(&self, defined_disabled: bool) -> bool {
        self.disabled.unwrap_or(defined_disabled)
    }

    /// When the tick must next look at it: the next date, or now-ish for a running
    /// backfill; none when it is disabled.
    pub fn due_at(&self, defined_disabled: bool) -> Option<DateTime<Utc>> {
        if self.is_disabled(defined_disabled) {
            return None;
        }
        let backfill = self
            .backfill
            .as_ref()
            .filter(|b| !b.paused)
            .and_then(|b| b.current_date.or(Some(b.start)));
        match (self.next_execution_date, backfill) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The key of a trigger's state.
pub fn state_key(namespace: &str, flow_id: &str, trigger_id: &str) -> String {
    format!("{namespace}|{flow_id}|{trigger_id}")
}
