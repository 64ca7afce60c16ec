//! `io.kestra.plugin.core.flow.WorkingDirectory`: runnable children sharing a directory.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::tasks::legacy_flows;
use crate::validate::Validator;

/// Files cached between executions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cache {
    /// Glob patterns of cached files.
    pub patterns: Vec<String>,
    /// How long the cache lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<IsoDuration>,
}

/// Which namespace files to copy in.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceFiles {
    /// Copy them (default true, as in Kestra: writing the block enables it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Globs to include.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Globs to exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// Runs runnable tasks one after another in one temporary directory on one worker.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkingDirectory {
    /// The tasks (runnable only).
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
    /// Cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Cache>,
    /// Namespace files to copy in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_files: Option<NamespaceFiles>,
    /// Files written before the tasks run: name → content (or a JSON map as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_files: Option<serde_json::Value>,
    /// Globs of files saved to internal storage after the tasks.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_files: Vec<String>,
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
    /// Unused map kept for compatibility.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
}

impl PluginType for WorkingDirectory {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.WorkingDirectory";
    const ALIASES: &'static [&'static str] =
        &[legacy_flows!("WorkingDirectory"), legacy_flows!("Worker")];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("tasks", &self.tasks),
            Branch::new("errors", &self.errors),
            Branch::new("finally", &self.finally),
        ]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.tasks.is_empty() {
            v.task_error("The 'tasks' property cannot be empty");
        }
        if self
            .tasks
            .iter()
            .any(|t| !t.type_name.is_empty() && t.kind != TaskKind::Runnable)
        {
            v.task_error("Only runnable tasks are allowed as children of a WorkingDirectory task");
        }
        if self.tasks.iter().any(|t| t.common.worker_group.is_some()) {
            v.task_error("Cannot set a Worker Group in any WorkingDirectory sub-tasks, it is only supported at the WorkingDirectory level");
        }
        if self
            .namespace_files
            .as_ref()
            .is_some_and(|nf| nf.enabled.unwrap_or(true))
        {
            v.task_property_error(
                "namespaceFiles",
                crate::tasks::script_commands::NAMESPACE_FILES_UNSUPPORTED,
            );
        }
        if !self.env.is_empty() {
            v.task_property_warning(
                "env",
                "`env` is ignored (Kestra keeps it unused for compatibility): set `env` on \
                 the script tasks inside",
            );
        }
    }
}
