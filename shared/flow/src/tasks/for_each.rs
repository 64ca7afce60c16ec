//! `io.kestra.plugin.core.flow.ForEach`: the same tasks for each value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::require_tasks;
use crate::validate::Validator;

/// Runs `tasks` once per distinct value, `concurrencyLimit` value groups at a time (0 = all).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForEach {
    /// A list, or a JSON string of a list, or an expression producing one.
    pub values: serde_json::Value,
    /// Value groups running at once (default 1; 0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<Dyn<u32>>,
    /// The tasks.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
    /// Run when a child fails.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<Task>,
    /// Always run at the end.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub finally: Vec<Task>,
}

impl PluginType for ForEach {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.ForEach";
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("tasks", &self.tasks),
            Branch::new("errors", &self.errors),
            Branch::new("finally", &self.finally),
        ]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        require_tasks(v, "tasks", &self.tasks);
    }
}
