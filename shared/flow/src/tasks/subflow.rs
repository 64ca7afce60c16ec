//! `io.kestra.plugin.core.flow.Subflow`: run another flow as a child execution.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::label::Labels;
use crate::plugin::{PluginType, TaskKind};
use crate::property::Dyn;
use crate::tasks::legacy_flows;
use crate::validate::Validator;

/// Creates an execution of `namespace`/`flowId` and (by default) waits for it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subflow {
    /// Namespace of the flow to run.
    pub namespace: String,
    /// Id of the flow to run.
    pub flow_id: String,
    /// Revision to run (default: latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Dyn<u32>>,
    /// Inputs of the child execution (rendered).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Labels of the child execution.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Wait for the child to end (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// A failed child fails this task (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_failed: Option<bool>,
    /// Copy this execution's labels to the child.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inherit_labels: bool,
    /// Start the child at this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_date: Option<String>,
    /// Deprecated: outputs extracted from the child.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, serde_json::Value>,
    /// What a restart of the parent does to the child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_behavior: Option<String>,
}

impl PluginType for Subflow {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Subflow";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Subflow"), legacy_flows!("Flow")];
    const KIND: TaskKind = TaskKind::Executable;

    fn validate(&self, v: &mut Validator<'_>) {
        if let Some(b) = &self.restart_behavior
            && b != "NEW_EXECUTION"
        {
            v.task_property_warning(
                "restartBehavior",
                format!(
                    "`restartBehavior: {b}` is ignored: restarting the parent starts a new \
                     child execution (NEW_EXECUTION)"
                ),
            );
        }
        if self.namespace == v.flow.namespace && self.flow_id == v.flow.id {
            let uid = format!("{}.{}", self.namespace, self.flow_id);
            v.task_error(format!(
                "Recursive call to flow [{uid}]: a flow cannot run itself as a subflow"
            ));
        }
    }
}
