//! `io.kestra.plugin.core.state.Get`: read a named state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// read a named state.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateGet {
    /// State name (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Share the state across the namespace.
    #[serde(default)]
    pub namespace: bool,
    /// Key the state by the task run value (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taskrun_value: Option<bool>,
    /// Fail when missing (default false).
    #[serde(default)]
    pub error_on_missing: bool,
}

impl PluginType for StateGet {
    const TYPE: &'static str = "io.kestra.plugin.core.state.Get";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.states.Get"];
}
