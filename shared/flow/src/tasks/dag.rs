//! `io.kestra.plugin.core.flow.Dag`: tasks started when their dependencies are done.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::legacy_flows;
use crate::validate::Validator;

/// One node of the graph.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DagNode {
    /// The task.
    pub task: Task,
    /// Ids of the nodes that must end first.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub depends_on: Vec<String>,
}

/// Runs a directed acyclic graph of tasks.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dag {
    /// The nodes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<DagNode>,
    /// How many tasks at once (0 = all).
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
    /// Child tasks, for branch walking (derived from `tasks`).
    #[serde(skip)]
    #[schemars(skip)]
    children: std::sync::OnceLock<Vec<Task>>,
}

impl Dag {
    fn children(&self) -> &[Task] {
        self.children
            .get_or_init(|| self.tasks.iter().map(|n| n.task.clone()).collect())
    }
}

impl PluginType for Dag {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Dag";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Dag")];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("tasks", self.children()),
            Branch::new("errors", &self.errors),
            Branch::new("finally", &self.finally),
        ]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.tasks.is_empty() {
            v.task_error("`tasks` must not be empty: add at least one task");
            return;
        }
        let ids: Vec<&str> = self.tasks.iter().map(|n| n.task.id.as_str()).collect();
        let mut missing: Vec<&str> = self
            .tasks
            .iter()
            .flat_map(|n| n.depends_on.iter().map(String::as_str))
            .filter(|d| !ids.contains(d))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            v.task_error(format!(
                "Not existing task id in dependency: {}",
                missing.join(", ")
            ));
        }
        let deps: HashMap<&str, Vec<&str>> = self
            .tasks
            .iter()
            .map(|n| {
                (
                    n.task.id.as_str(),
                    n.depends_on.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        if let Some(cycle) = crate::graph::find_cycle(&deps) {
            v.task_error(format!("Cyclic dependency detected: {}", cycle.join(", ")));
        }
    }
}
