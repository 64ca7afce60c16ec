//! `io.kestra.plugin.core.flow.Template` (deprecated): inline a stored template's tasks.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{PluginType, TaskKind};
use crate::tasks::legacy_flows;

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
    const DEPRECATED: Option<&'static str> = Some("templates are replaced by subflows");
}
