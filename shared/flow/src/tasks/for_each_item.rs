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
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
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
    /// The hidden steps `<id>_split`, `<id>_items`, `<id>_merge` (derived).
    #[serde(skip)]
    #[schemars(skip)]
    pub steps: Vec<Task>,
}

/// Hidden step 1: cut the items file into batch files (output `uris`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForEachItemSplit {
    /// The items URI (expression).
    pub items: String,
    /// Batching.
    pub batch: Batch,
}

/// Hidden step 2: one subflow execution per batch (outputs `numberOfBatches`, `iterations`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForEachItemItems {
    /// Namespace of the subflow.
    pub namespace: String,
    /// Subflow id.
    pub flow_id: String,
    /// Revision.
    pub revision: Option<Dyn<u32>>,
    /// Inputs of each child.
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Labels of each child.
    pub labels: Labels,
    /// Wait for the children.
    pub wait: bool,
    /// A failed child fails the step.
    pub transmit_failed: bool,
    /// Copy labels to children.
    pub inherit_labels: bool,
}

/// Hidden step 3: merge the children's outputs into a file (output `subflowOutputs`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ForEachItemMerge {}

impl PluginType for ForEachItemSplit {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit";
}

impl PluginType for ForEachItemItems {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemExecutable";
    const KIND: TaskKind = TaskKind::Executable;
}

impl PluginType for ForEachItemMerge {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemMergeOutputs";
}

fn step<T: PluginType>(id: String, path: &str, kind: TaskKind, spec: T) -> Task {
    Task {
        id,
        type_name: T::TYPE,
        written_type: T::TYPE.to_owned(),
        kind,
        common: crate::plugin::TaskCommon::default(),
        spec: std::sync::Arc::new(spec),
        loc: crate::Location::UNKNOWN,
        path: path.to_owned(),
    }
}

impl PluginType for ForEachItem {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.ForEachItem";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("ForEachItem")];
    const KIND: TaskKind = TaskKind::Flowable;

    fn branches(&self) -> Vec<Branch<'_>> {
        vec![
            Branch::new("steps", &self.steps),
            Branch::new("errors", &self.errors),
        ]
    }

    fn expand(&mut self, id: &str, path: &str) {
        let items = ForEachItemItems {
            namespace: self.namespace.clone(),
            flow_id: self.flow_id.clone(),
            revision: self.revision.clone(),
            inputs: self.inputs.clone(),
            labels: self.labels.clone(),
            wait: self.wait.unwrap_or(true),
            transmit_failed: self.transmit_failed.unwrap_or(true),
            inherit_labels: self.inherit_labels,
        };
        let split = ForEachItemSplit {
            items: self.items.clone(),
            batch: self.batch.clone(),
        };
        self.steps = vec![
            step(format!("{id}_split"), path, TaskKind::Runnable, split),
            step(format!("{id}_items"), path, TaskKind::Executable, items),
            step(
                format!("{id}_merge"),
                path,
                TaskKind::Runnable,
                ForEachItemMerge {},
            ),
        ];
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
