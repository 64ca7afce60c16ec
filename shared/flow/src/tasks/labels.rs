//! `io.kestra.plugin.core.execution.Labels`: add or overwrite labels of the running execution.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// add or overwrite labels of the running execution.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Labels {
    /// Labels as a map or a list of key/value (or an expression producing a map).
    pub labels: serde_json::Value,
}

impl PluginType for Labels {
    const TYPE: &'static str = "io.kestra.plugin.core.execution.Labels";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.executions.Labels"];
}
