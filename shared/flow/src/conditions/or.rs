//! `io.kestra.plugin.core.condition.Or`: one of the conditions holds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// one of the conditions holds.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Or {
    /// Conditions.
    pub conditions: Vec<crate::plugin::Condition>,
}

impl PluginType for Or {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.Or";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.OrCondition"];
    const CATEGORY: Category = Category::Condition;

    fn conditions(&self) -> Vec<&crate::plugin::Condition> {
        self.conditions.iter().collect()
    }
}
