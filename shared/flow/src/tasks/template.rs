//! `io.kestra.plugin.core.flow.Template` (removed from Kestra): parsed so that validation
//! refuses it with a message naming the replacement (a Subflow).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{PluginType, TaskKind};
use crate::tasks::legacy_flows;
use crate::validate::Validator;

/// Inlines the tasks of template `namespace`/`templateId`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// Namespace of the template.
    pub namespace: String,
    /// Id of the template.
    pub template_id: String,
    /// Arguments.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub args: IndexMap<String, String>,
    /// Tenant of the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl PluginType for Template {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Template";
    const ALIASES: &'static [&'static str] = &[legacy_flows!("Template")];
    const KIND: TaskKind = TaskKind::Flowable;

    /// Refused: Kestra removed templates (replaced by subflows) and Kite has no template
    /// store, so the task could only fail when it runs.
    fn validate(&self, v: &mut Validator<'_>) {
        v.task_error(format!(
            "{} is not supported: Kestra removed templates; call the flow `{}.{}` holding \
             these tasks with an io.kestra.plugin.core.flow.Subflow task instead",
            Self::TYPE,
            self.namespace,
            self.template_id
        ));
    }
}
