//! `io.kestra.plugin.core.flow.ForEachItem`: one subflow execution per batch of a file's items.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::label::Labels;
use crate::parse::null_as_default;
use crate::plugin::{Branch, PluginType, Task, TaskKind};
use crate::property::Dyn;
use crate::tasks::legacy_flows;
use crate::validate::Validator;

/// How the items file is cut into batches.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Batch {
    /// Rows per batch (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Dyn<u32>>,
    /// Bytes per batch (e.g. `10MB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// Number of batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Dyn<u32>>,
    /// Row separator (default newline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// Splits `items` into batches and runs `namespace`/`flowId` once per batch.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForEachItem {
    /// A `kestra://` file URI (usually an expression).
    pub items: String,
    /// Batching.
    #[serde(default)]
    pub batch: Batch,
    /// Namespace of the subflow.
    pub namespace: String,
    /// Id of the subflow.
    pub flow_id: String,
    /// Revision of the subflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Dyn<u32>>,
    /// Inputs of each child (`{{ taskrun.items }}` is the batch file).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Labels of each child.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Wait for the children (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// A failed child fails this task (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_failed: Option<bool>,
    /// Copy labels to children.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inherit_labels: bool,
    /// Start the children at this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_date: Option<String>,
    /// Run when a child fails.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<Task>,
}

impl PluginType for ForEachItem {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.ForEachItem";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("ForEachItem")];
    const KIND: TaskKind = TaskKind::Executable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![Branch::new("errors", &self.errors)]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.namespace == v.flow.namespace && self.flow_id == v.flow.id {
            v.task_error(format!(
                "Recursive call to flow [{}.{}]",
                self.namespace, self.flow_id
            ));
        }
    }
}
