//! `io.kestra.plugin.core.execution.Fail`: fail the task (and so the flow), optionally on a condition.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// fail the task (and so the flow), optionally on a condition.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fail {
    /// Fail only when this renders truthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The error message (default `Task failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl PluginType for Fail {
    const TYPE: &'static str = "io.kestra.plugin.core.execution.Fail";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.executions.Fail"];
}
