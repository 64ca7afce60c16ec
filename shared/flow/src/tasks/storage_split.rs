//! `io.kestra.plugin.core.storage.Split`: split a file of internal storage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// split a file of internal storage.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSplit {
    /// The `kestra://` URI.
    pub from: String,
    /// Bytes per part (e.g. `10MB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// Number of parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<crate::property::Dyn<u32>>,
    /// Rows per part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<crate::property::Dyn<u32>>,
    /// Row separator (default newline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

impl PluginType for StorageSplit {
    const TYPE: &'static str = "io.kestra.plugin.core.storage.Split";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.storages.Split"];
}
