//! `io.kestra.plugin.core.log.Fetch`: fetch the logs of an execution into a file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// fetch the logs of an execution into a file.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fetch {
    /// The execution (default: current).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// Only logs of these tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks_id: Vec<String>,
    /// Minimum level (default INFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<crate::plugin::LogLevel>,
}

impl PluginType for Fetch {
    const TYPE: &'static str = "io.kestra.plugin.core.log.Fetch";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.log.Fetch"];
}
