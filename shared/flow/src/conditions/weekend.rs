//! `io.kestra.plugin.core.condition.Weekend`: the date is a Saturday or Sunday.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the date is a Saturday or Sunday.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Weekend {
    /// Date (default `{{ trigger.date }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

impl PluginType for Weekend {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.Weekend";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.WeekendCondition"];
    const CATEGORY: Category = Category::Condition;
}
