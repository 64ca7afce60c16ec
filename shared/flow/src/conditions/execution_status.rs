//! `io.kestra.plugin.core.condition.ExecutionStatus`: the upstream execution state is (not) in a list.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the upstream execution state is (not) in a list.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionStatus {
    /// States accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#in: Vec<String>,
    /// States refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in: Vec<String>,
}

impl PluginType for ExecutionStatus {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.ExecutionStatus";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.ExecutionStatusCondition"];
    const CATEGORY: Category = Category::Condition;
}
