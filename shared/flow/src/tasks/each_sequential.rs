//! `io.kestra.plugin.core.flow.EachSequential` (deprecated): ForEach one value at a time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::tasks::{legacy_flows, require_tasks};
use crate::validate::Validator;

/// Runs `tasks` for each value, sequentially.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EachSequential {
    /// A list, a JSON string of a list, or an expression.
    pub value: serde_json::Value,
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

impl PluginType for EachSequential {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.EachSequential";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("EachSequential")];
    const KIND: TaskKind = TaskKind::Flowable;
    const DEPRECATED: Option<&'static str> = Some("use io.kestra.plugin.core.flow.ForEach");

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
