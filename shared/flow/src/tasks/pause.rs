//! `io.kestra.plugin.core.flow.Pause`: wait for a delay, a timeout or a manual resume.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::model::input::Input;
use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::legacy_flows;

/// Pauses the execution until resumed, or until `delay` passes (then resumes), or until
/// `timeout` passes (then fails).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pause {
    /// Resume automatically after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dyn<IsoDuration>>,
    /// Inputs asked for on resume.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub on_resume: Vec<Input>,
    /// Deprecated: tasks run after the pause.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tasks: Vec<Task>,
    /// Run when a child fails.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<Task>,
    /// What happens when the pause times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
}

impl PluginType for Pause {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Pause";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Pause")];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("tasks", &self.tasks),
            Branch::new("errors", &self.errors),
        ]
    }

    fn validate(&self, v: &mut crate::validate::Validator<'_>) {
        if let Some(b) = &self.behavior
            && b != "FAIL"
        {
            v.task_property_warning(
                "behavior",
                format!(
                    "`behavior: {b}` is ignored: a pause still paused when its `timeout` \
                     passes ends FAILED"
                ),
            );
        }
    }
}
