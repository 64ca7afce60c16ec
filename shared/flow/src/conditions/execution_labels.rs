//! `io.kestra.plugin.core.condition.ExecutionLabels`: the upstream execution carries these labels.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the upstream execution carries these labels.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionLabels {
    /// Labels required.
    pub labels: crate::model::label::Labels,
}

impl PluginType for ExecutionLabels {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.ExecutionLabels";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.ExecutionLabelsCondition"];
    const CATEGORY: Category = Category::Condition;
}
