//! `io.kestra.plugin.core.flow.If`: `then` or `else` by a condition.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::tasks::{legacy_flows, require_tasks};
use crate::validate::Validator;

/// Runs `then` when `condition` renders truthy, else `else`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct If {
    /// The condition (rendered, then truthiness applied).
    pub condition: String,
    /// Tasks when true.
    #[serde(default, deserialize_with = "null_as_default")]
    pub then: Vec<Task>,
    /// Tasks when false.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        rename = "else",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub otherwise: Vec<Task>,
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

impl PluginType for If {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.If";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("If")];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("then", &self.then),
            Branch::new("else", &self.otherwise),
            Branch::new("errors", &self.errors),
            Branch::new("finally", &self.finally),
        ]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        require_tasks(v, "then", &self.then);
    }
}
