//! `io.kestra.plugin.core.flow.WaitFor` (also `LoopUntil`): repeat tasks until a condition holds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::require_tasks;
use crate::validate::Validator;

/// How often and how long to loop.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckFrequency {
    /// Most iterations (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<Dyn<u32>>,
    /// Longest total duration (default PT1H).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Dyn<IsoDuration>>,
    /// Delay between iterations (default PT1S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dyn<IsoDuration>>,
}

/// Runs `tasks` repeatedly until `condition` renders truthy.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitFor {
    /// Stop looping once this is truthy.
    pub condition: String,
    /// The tasks of one iteration.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
    /// Limits and interval.
    #[serde(default)]
    pub check_frequency: CheckFrequency,
    /// Fail when a limit is reached (default false).
    #[serde(default)]
    pub fail_on_max_reached: bool,
    /// Run when a child fails.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<Task>,
}

impl PluginType for WaitFor {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.WaitFor";
    const ALIASES: &'static [&'static str] = &["io.kestra.plugin.core.flow.LoopUntil"];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("tasks", &self.tasks),
            Branch::new("errors", &self.errors),
        ]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        require_tasks(v, "tasks", &self.tasks);
    }
}
