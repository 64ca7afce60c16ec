//! The flow: Kestra's top-level document.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::concurrency::Concurrency;
use crate::model::input::Input;
use crate::model::label::Labels;
use crate::model::output::Output;
use crate::model::plugin_defaults::PluginDefault;
use crate::model::retry::Retry;
use crate::model::sla::Sla;
use crate::parse::null_as_default;
use crate::plugin::{Condition, Task, Trigger};

/// A flow.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flow {
    /// Flow id: letters, digits, `.`, `_`, `-`; unique in its namespace.
    #[serde(default)]
    pub id: String,
    /// Namespace: lower-case, dot-separated (`company.team`).
    #[serde(default)]
    pub namespace: String,
    /// Revision, managed by the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// Markdown description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Labels copied onto every execution.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Declared inputs.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub inputs: Vec<Input>,
    /// Static values, `{{ vars.x }}` (not rendered recursively).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub variables: IndexMap<String, serde_json::Value>,
    /// The main task list, run in sequence.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
    /// Run when a task of the main list fails.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<Task>,
    /// Always run at the end, whatever the outcome.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub finally: Vec<Task>,
    /// Run after the execution reached its final state.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub after_execution: Vec<Task>,
    /// Deprecated listeners.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub listeners: Vec<Listener>,
    /// Triggers that start executions.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub triggers: Vec<Trigger>,
    /// Default plugin properties (already merged into the tasks).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub plugin_defaults: Vec<PluginDefault>,
    /// Legacy name of `pluginDefaults`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub task_defaults: Vec<PluginDefault>,
    /// Concurrency limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// Outputs rendered when the execution ends.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub outputs: Vec<Output>,
    /// Flow-level retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Service-level assertions.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sla: Vec<Sla>,
    /// A disabled flow cannot be executed.
    #[serde(default)]
    pub disabled: bool,
    /// Soft-delete marker.
    #[serde(default)]
    pub deleted: bool,
    /// Tenant (accepted, unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// A deprecated listener: tasks run after the execution when conditions hold.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Conditions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub conditions: Vec<Condition>,
    /// Tasks.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
}

impl Flow {
    /// `namespace.id`.
    pub fn uid(&self) -> String {
        format!("{}.{}", self.namespace, self.id)
    }

    /// Every task of the flow, depth-first, in every branch (tasks, errors, finally,
    /// afterExecution, listeners).
    pub fn all_tasks(&self) -> Vec<&Task> {
        let mut out = Vec::new();
        for t in self.roots() {
            collect(t, &mut out);
        }
        out
    }

    /// Finds a task anywhere in the flow (depth-first, without collecting the tree).
    pub fn find_task(&self, id: &str) -> Option<&Task> {
        self.roots().find_map(|t| find(t, id))
    }

    fn roots(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .chain(&self.errors)
            .chain(&self.finally)
            .chain(&self.after_execution)
            .chain(self.listeners.iter().flat_map(|l| &l.tasks))
    }
}

fn collect<'a>(t: &'a Task, out: &mut Vec<&'a Task>) {
    out.push(t);
    for b in t.branches() {
        for c in b.tasks {
            collect(c, out);
        }
    }
}

fn find<'a>(t: &'a Task, id: &str) -> Option<&'a Task> {
    if t.id == id {
        return Some(t);
    }
    t.branches()
        .into_iter()
        .find_map(|b| b.tasks.iter().find_map(|c| find(c, id)))
}
