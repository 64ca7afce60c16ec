//! `io.kestra.plugin.core.output.OutputValues`: expose rendered values as outputs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// expose rendered values as outputs.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputValues {
    /// The values (rendered recursively).
    #[serde(default)]
    pub values: indexmap::IndexMap<String, serde_json::Value>,
}

impl PluginType for OutputValues {
    const TYPE: &'static str = "io.kestra.plugin.core.output.OutputValues";
    const ALIASES: &'static [&'static str] = &[];
}
