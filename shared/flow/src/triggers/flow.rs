//! `io.kestra.plugin.core.trigger.Flow`: executions started by other executions ending.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::model::label::Labels;
use crate::plugin::{Category, PluginType};

/// An upstream flow the preconditions wait for.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamFlow {
    /// Its namespace.
    pub namespace: String,
    /// Its id (any flow of the namespace when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// States that count (default: terminal ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Labels the upstream execution must carry.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

/// One filter of a `where` precondition.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    /// FLOW_ID, NAMESPACE, STATE, EXPRESSION.
    pub field: String,
    /// EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, IS_TRUE, IS_FALSE, IS_NULL, IS_NOT_NULL,
    /// STARTS_WITH, ENDS_WITH, REGEX, CONTAINS.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values compared (IN, NOT_IN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A `where` precondition.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhereCondition {
    /// Id.
    pub id: String,
    /// AND (default) or OR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operand: Option<String>,
    /// Filters.
    pub filters: Vec<Filter>,
}

/// A time window for preconditions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    /// DURATION_WINDOW (default), SLIDING_WINDOW, DAILY_TIME_WINDOW, DAILY_TIME_DEADLINE.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Window length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<IsoDuration>,
    /// Window start offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_advance: Option<IsoDuration>,
    /// Daily deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Daily window start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Daily window end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// Preconditions: several upstream executions within a window.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preconditions {
    /// Id of the stored window state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Upstream flows that must all have run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<UpstreamFlow>,
    /// Extra filters.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<WhereCondition>,
    /// Window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
    /// Reset the window once fired (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_on_success: Option<bool>,
}

/// Starts an execution when executions of other flows end (matching conditions).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowTrigger {
    /// Upstream states that fire it (default: terminal states).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Inputs (may use `trigger.outputs`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Preconditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
}

impl PluginType for FlowTrigger {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.Flow";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.models.triggers.types.Flow"];
    const CATEGORY: Category = Category::Trigger;
}
