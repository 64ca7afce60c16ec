//! `io.kestra.plugin.core.state.Set`: merge data into a named state (a JSON document in storage).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// merge data into a named state (a JSON document in storage).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateSet {
    /// State name (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Share the state across the namespace.
    #[serde(default)]
    pub namespace: bool,
    /// Key the state by the task run value (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taskrun_value: Option<bool>,
    /// Data merged in.
    #[serde(default)]
    pub data: indexmap::IndexMap<String, serde_json::Value>,
}

impl PluginType for StateSet {
    const TYPE: &'static str = "io.kestra.plugin.core.state.Set";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.states.Set"];
}
