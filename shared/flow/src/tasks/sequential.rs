//! `io.kestra.plugin.core.flow.Sequential`: children one after another.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::tasks::{legacy_flows, require_tasks};
use crate::validate::Validator;

/// Runs its tasks in sequence; `errors` runs if one fails.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sequential {
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

impl PluginType for Sequential {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Sequential";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Sequential")];
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
