//! `io.kestra.plugin.core.execution.Exit`: end the execution now, in the given state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// end the execution now, in the given state.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exit {
    /// SUCCESS, WARNING, KILLED, FAILED or CANCELED.
    #[serde(default = "success")]
    pub state: String,
}

impl PluginType for Exit {
    const TYPE: &'static str = "io.kestra.plugin.core.execution.Exit";
    const ALIASES: &'static [&'static str] = &[];
}
fn success() -> String {
    "SUCCESS".into()
}
