//! `io.kestra.plugin.core.condition.DayWeekInMonth`: the date is the first/last/... given weekday of its month.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the date is the first/last/... given weekday of its month.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DayWeekInMonth {
    /// Date (default `{{ trigger.date }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// MONDAY..SUNDAY.
    pub day_of_week: String,
    /// FIRST, SECOND, THIRD, FOURTH, LAST.
    pub day_in_month: String,
}

impl PluginType for DayWeekInMonth {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.DayWeekInMonth";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.DayWeekInMonthCondition"];
    const CATEGORY: Category = Category::Condition;
}
