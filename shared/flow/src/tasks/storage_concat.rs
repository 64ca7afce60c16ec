//! `io.kestra.plugin.core.storage.Concat`: concatenate files of internal storage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// concatenate files of internal storage.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageConcat {
    /// URIs (a list, or a JSON string of one).
    pub files: serde_json::Value,
    /// Written between files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Extension of the result (default `.tmp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

impl PluginType for StorageConcat {
    const TYPE: &'static str = "io.kestra.plugin.core.storage.Concat";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.storages.Concat"];
}
