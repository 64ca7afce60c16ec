//! `io.kestra.plugin.core.condition.ExecutionNamespace`: the upstream execution is in this namespace.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the upstream execution is in this namespace.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionNamespace {
    /// Namespace.
    pub namespace: String,
    /// EQUALS (default), PREFIX or SUFFIX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<String>,
    /// Deprecated: PREFIX comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<bool>,
}

impl PluginType for ExecutionNamespace {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.ExecutionNamespace";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.ExecutionNamespaceCondition"];
    const CATEGORY: Category = Category::Condition;
}
