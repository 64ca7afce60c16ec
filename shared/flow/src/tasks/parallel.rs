//! `io.kestra.plugin.core.flow.Parallel`: children at the same time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::{legacy_flows, require_tasks};
use crate::validate::Validator;

/// Starts its tasks together (at most `concurrent` at once; 0 = no limit).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parallel {
    /// The tasks.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
    /// How many may run at once (0 = all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<Dyn<u32>>,
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

impl PluginType for Parallel {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Parallel";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Parallel")];
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
