//! `io.kestra.plugin.core.condition.ExecutionFlow`: the upstream execution is of this flow.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the upstream execution is of this flow.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionFlow {
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
}

impl PluginType for ExecutionFlow {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.ExecutionFlow";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.ExecutionFlowCondition"];
    const CATEGORY: Category = Category::Condition;
}
