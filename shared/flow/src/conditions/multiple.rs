//! `io.kestra.plugin.core.condition.MultipleCondition` (deprecated): several conditions
//! met within a time window.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, Condition, PluginType};
use crate::triggers::flow::{TimeWindow, WindowKind, window_kind};

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

impl MultipleCondition {
    /// The window: `timeWindow` when given, else the deprecated `window` and
    /// `windowAdvance` (a duration window, 24 hours by default).
    pub fn window_kind(&self) -> Result<WindowKind, String> {
        if self.time_window.is_some() {
            return window_kind(self.time_window.as_ref());
        }
        window_kind(Some(&TimeWindow {
            kind: None,
            window: self.window,
            window_advance: self.window_advance,
            deadline: None,
            start_time: None,
            end_time: None,
        }))
    }

    /// What makes this condition impossible to meet.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.id.trim().is_empty() {
            out.push("a MultipleCondition needs an `id` (its window is stored under it)".into());
        }
        if self.conditions.is_empty() {
            out.push("a MultipleCondition can never be met without `conditions`".into());
        }
        if let Err(e) = self.window_kind() {
            out.push(e);
        }
        out
    }
}

impl PluginType for MultipleCondition {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.MultipleCondition";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.MultipleCondition"];
    const CATEGORY: Category = Category::Condition;

    fn conditions(&self) -> Vec<&crate::plugin::Condition> {
        self.conditions.values().collect()
    }
    const DEPRECATED: Option<&'static str> = Some("use the Flow trigger `preconditions`");
}
