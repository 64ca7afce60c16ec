//! `io.kestra.plugin.core.condition.PublicHoliday`: the date is a public holiday.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the date is a public holiday.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicHoliday {
    /// Date (default `{{ trigger.date }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// ISO country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Subdivision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_division: Option<String>,
}

impl PluginType for PublicHoliday {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.PublicHoliday";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.PublicHolidayCondition"];
    const CATEGORY: Category = Category::Condition;

    /// Refused: Kite has no public holiday calendar, so the condition could only fail
    /// when evaluated.
    fn validate(&self, v: &mut crate::validate::Validator<'_>) {
        v.condition_error(format!(
            "{} is not supported: Kite has no public holiday calendar; list the days in an \
             io.kestra.plugin.core.condition.Expression condition instead",
            Self::TYPE
        ));
    }
}
