//! `io.kestra.plugin.core.condition.FlowNamespaceCondition`: the current flow is in this namespace (deprecated).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the current flow is in this namespace (deprecated).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowNamespace {
    /// Namespace.
    pub namespace: String,
    /// Match as a prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<bool>,
}

impl PluginType for FlowNamespace {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.FlowNamespace";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.FlowNamespaceCondition"];
    const CATEGORY: Category = Category::Condition;
}
