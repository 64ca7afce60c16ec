//! `io.kestra.plugin.core.condition.ExecutionOutputs`: an expression on the upstream outputs holds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// an expression on the upstream outputs holds.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionOutputs {
    /// Expression on `trigger.outputs`.
    pub expression: String,
}

impl PluginType for ExecutionOutputs {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.ExecutionOutputs";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.ExecutionOutputsCondition"];
    const CATEGORY: Category = Category::Condition;
}
