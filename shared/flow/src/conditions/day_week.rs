//! `io.kestra.plugin.core.condition.DayWeek`: the date is on a given day of the week.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the date is on a given day of the week.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DayWeek {
    /// Date (default `{{ trigger.date }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// MONDAY..SUNDAY.
    pub day_of_week: String,
}

impl PluginType for DayWeek {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.DayWeek";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.DayWeekCondition"];
    const CATEGORY: Category = Category::Condition;
}
