//! `io.kestra.plugin.core.trigger.ScheduleOnDates`: executions at listed dates.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};
use crate::triggers::schedule::RecoverMissedSchedules;

/// Starts an execution at each of `dates`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleOnDates {
    /// ISO-8601 date-times (or an expression producing them).
    pub dates: serde_json::Value,
    /// IANA time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Inputs of the executions.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Missed schedules policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_missed_schedules: Option<RecoverMissedSchedules>,
}

impl PluginType for ScheduleOnDates {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.ScheduleOnDates";
    const CATEGORY: Category = Category::Trigger;
}
