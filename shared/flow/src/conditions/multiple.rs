//! `io.kestra.plugin.core.condition.MultipleCondition` (deprecated): several conditions
//! met within a time window.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, Condition, PluginType};
use crate::triggers::flow::TimeWindow;

/// Fires once every named condition was met within the window.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MultipleCondition {
    /// Id of the stored window state.
    pub id: String,
    /// Named conditions.
    pub conditions: IndexMap<String, Condition>,
    /// Deprecated window length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<IsoDuration>,
    /// Deprecated window offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_advance: Option<IsoDuration>,
    /// Window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
    /// Reset once fired (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_on_success: Option<bool>,
}

impl PluginType for MultipleCondition {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.MultipleCondition";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.MultipleCondition"];
    const CATEGORY: Category = Category::Condition;
    const DEPRECATED: Option<&'static str> = Some("use the Flow trigger `preconditions`");
}
