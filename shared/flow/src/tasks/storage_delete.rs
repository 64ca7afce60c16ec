//! `io.kestra.plugin.core.storage.Delete`: delete a file of internal storage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// delete a file of internal storage.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageDelete {
    /// The `kestra://` URI.
    pub uri: String,
    /// Fail when missing (default false).
    #[serde(default)]
    pub error_on_missing: bool,
}

impl PluginType for StorageDelete {
    const TYPE: &'static str = "io.kestra.plugin.core.storage.Delete";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.storages.Delete"];
}
