//! `io.kestra.plugin.core.flow.AllowFailure`: children whose failure is only a warning.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::tasks::{legacy_flows, require_tasks};
use crate::validate::Validator;

/// Runs its tasks in sequence; a failure ends WARNING and the flow goes on.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowFailure {
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
}

impl PluginType for AllowFailure {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.AllowFailure";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("AllowFailure")];
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
