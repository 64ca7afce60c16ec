//! `io.kestra.plugin.core.trigger.Toggle`: enable or disable a trigger.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// enable or disable a trigger.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toggle {
    /// Namespace of the flow (default: current).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The flow (default: current).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// The trigger id.
    pub trigger: String,
    /// Enable (true) or disable (false); default toggles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl PluginType for Toggle {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.Toggle";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.trigger.Toggle"];
}
