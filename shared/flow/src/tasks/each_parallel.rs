//! `io.kestra.plugin.core.flow.EachParallel` (deprecated): ForEach with all values at once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::{legacy_flows, require_tasks};
use crate::validate::Validator;

/// Runs `tasks` for each value, in parallel (at most `concurrent`; 0 = all).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EachParallel {
    /// A list, a JSON string of a list, or an expression.
    pub value: serde_json::Value,
    /// How many values at once (0 = all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<Dyn<u32>>,
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

impl PluginType for EachParallel {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.EachParallel";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("EachParallel")];
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
