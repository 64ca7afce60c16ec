//! `io.kestra.plugin.core.condition.Expression`: an expression renders truthy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// an expression renders truthy.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expression {
    /// The expression.
    pub expression: String,
}

impl PluginType for Expression {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.Expression";
    const ALIASES: &'static [&'static str] = &[
        "io.kestra.core.models.conditions.types.VariableCondition",
        "io.kestra.core.models.conditions.types.ExpressionCondition",
        "io.kestra.plugin.core.condition.ExpressionCondition",
    ];
    const CATEGORY: Category = Category::Condition;
}
