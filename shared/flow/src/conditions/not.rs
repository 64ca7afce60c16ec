//! `io.kestra.plugin.core.condition.Not`: none of the conditions hold.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// none of the conditions hold.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Not {
    /// Conditions.
    pub conditions: Vec<crate::plugin::Condition>,
}

impl PluginType for Not {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.Not";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.NotCondition"];
    const CATEGORY: Category = Category::Condition;

    fn conditions(&self) -> Vec<&crate::plugin::Condition> {
        self.conditions.iter().collect()
    }
}
