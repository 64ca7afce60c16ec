//! Service-level assertions on executions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::model::label::Labels;

/// One SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sla {
    /// Id, unique in the flow.
    pub id: String,
    /// `MAX_DURATION` or `EXECUTION_ASSERTION`.
    #[serde(rename = "type")]
    pub kind: SlaType,
    /// What to do on violation.
    #[serde(default)]
    pub behavior: SlaBehavior,
    /// Labels added on violation.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// For MAX_DURATION.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<IsoDuration>,
    /// For EXECUTION_ASSERTION: an expression that must stay truthy.
    #[serde(default, rename = "assert", skip_serializing_if = "Option::is_none")]
    pub assertion: Option<String>,
}

/// SLA kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlaType {
    /// The execution must end within `duration`.
    MaxDuration,
    /// `assert` must hold on every state change.
    ExecutionAssertion,
}

/// What a violated SLA does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SlaBehavior {
    /// Fail the execution.
    #[default]
    Fail,
    /// Cancel it.
    Cancel,
    /// Only add labels.
    None,
}
