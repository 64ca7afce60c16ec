//! `io.kestra.plugin.core.condition.TimeBetween`: the time of day is in a range.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the time of day is in a range.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeBetween {
    /// Date (default `{{ trigger.date }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// After this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl PluginType for TimeBetween {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.TimeBetween";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.TimeBetweenCondition"];
    const CATEGORY: Category = Category::Condition;
}
