//! `io.kestra.plugin.core.condition.FlowCondition`: the current flow is this one (deprecated).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the current flow is this one (deprecated).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowCondition {
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
}

impl PluginType for FlowCondition {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.FlowCondition";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.FlowCondition"];
    const CATEGORY: Category = Category::Condition;
}
