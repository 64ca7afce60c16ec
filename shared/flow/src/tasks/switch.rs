//! `io.kestra.plugin.core.flow.Switch`: one branch by value.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::tasks::legacy_flows;
use crate::validate::Validator;

/// Runs the case whose key equals the rendered `value`, else `defaults`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Switch {
    /// The value to switch on.
    pub value: String,
    /// Tasks by value.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub cases: IndexMap<String, Vec<Task>>,
    /// Tasks when no case matches.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub defaults: Vec<Task>,
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

impl PluginType for Switch {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Switch";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Switch")];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        let mut out: Vec<Branch<'_>> = self
            .cases
            .iter()
            .map(|(k, tasks)| Branch {
                name: "cases",
                key: Some(k.as_str()),
                tasks,
            })
            .collect();
        out.push(Branch::new("defaults", &self.defaults));
        out.push(Branch::new("errors", &self.errors));
        out.push(Branch::new("finally", &self.finally));
        out
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.cases.values().all(Vec::is_empty) && self.defaults.is_empty() {
            v.task_error("No task defined, neither cases or default have any tasks");
        }
    }
}
