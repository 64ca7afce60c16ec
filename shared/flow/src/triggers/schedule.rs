//! `io.kestra.plugin.core.trigger.Schedule`: executions on a cron schedule.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, Condition, PluginType};
use crate::validate::Validator;

/// What to do with schedules missed while the trigger could not fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecoverMissedSchedules {
    /// Run every missed schedule.
    All,
    /// Run only the last one.
    Last,
    /// Skip them.
    None,
}

/// Starts an execution at each date of `cron` in `timezone`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// 5 fields (6 with `withSeconds`), or `@daily`, `@hourly`...
    pub cron: String,
    /// Whether `cron` has a seconds field.
    #[serde(default)]
    pub with_seconds: bool,
    /// IANA time zone (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Inputs of the executions.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Skip a date fired later than this after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_maximum_delay: Option<IsoDuration>,
    /// Missed schedules policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_missed_schedules: Option<RecoverMissedSchedules>,
    /// Deprecated backfill definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<serde_json::Value>,
    /// Deprecated schedule conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule_conditions: Vec<Condition>,
    /// Interval (rejected: use cron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
}

/// Parses a Kestra cron expression (nicknames, 5 or 6 fields).
pub fn parse_cron(cron: &str, with_seconds: bool) -> Result<croner::Cron, String> {
    use croner::parser::{CronParser, Seconds};
    let seconds = if with_seconds {
        Seconds::Required
    } else {
        Seconds::Disallowed
    };
    CronParser::builder()
        .seconds(seconds)
        .build()
        .parse(cron.trim())
        .map_err(|e| e.to_string())
}

impl PluginType for Schedule {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.Schedule";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.models.triggers.types.Schedule"];
    const CATEGORY: Category = Category::Trigger;

    /// The deprecated `scheduleConditions`, evaluated with `conditions`.
    fn conditions(&self) -> Vec<&Condition> {
        self.schedule_conditions.iter().collect()
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.interval.is_some() {
            v.trigger_error(
                "interval",
                "`interval` is not supported (Kestra removed it): write the schedule as a `cron`",
            );
        }
        if let Err(e) = parse_cron(&self.cron, self.with_seconds) {
            v.error(
                crate::Location::UNKNOWN,
                "cron",
                format!("invalid cron expression `{}`: {e}", self.cron),
            );
        }
        if let Some(tz) = &self.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            v.error(
                crate::Location::UNKNOWN,
                "timezone",
                format!("timezone: `{tz}` is not a valid time-zone ID (e.g. Europe/Paris, UTC)"),
            );
        }
    }
}
