//! `io.kestra.plugin.core.storage.LocalFiles`: write files into a working directory and collect others (deprecated).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// write files into a working directory and collect others (deprecated).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalFiles {
    /// Files to create: name → content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Value>,
    /// Globs of files to upload to internal storage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
}

impl PluginType for LocalFiles {
    const TYPE: &'static str = "io.kestra.plugin.core.storage.LocalFiles";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.storages.LocalFiles"];
    const DEPRECATED: Option<&'static str> = Some("use WorkingDirectory inputFiles/outputFiles");
}
