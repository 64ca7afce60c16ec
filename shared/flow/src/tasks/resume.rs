//! `io.kestra.plugin.core.execution.Resume`: resume a paused execution.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// resume a paused execution.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resume {
    /// The execution (default: the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// Inputs for its Pause `onResume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<indexmap::IndexMap<String, serde_json::Value>>,
}

impl PluginType for Resume {
    const TYPE: &'static str = "io.kestra.plugin.core.execution.Resume";
    const ALIASES: &'static [&'static str] = &[];
}
