//! `io.kestra.plugin.core.condition.DateTimeBetween`: the date-time is in a range.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the date-time is in a range.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DateTimeBetween {
    /// Date (default `{{ trigger.date }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// After this date-time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Before this date-time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl PluginType for DateTimeBetween {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.DateTimeBetween";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.DateTimeBetweenCondition"];
    const CATEGORY: Category = Category::Condition;
}
