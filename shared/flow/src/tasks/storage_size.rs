//! `io.kestra.plugin.core.storage.Size`: size of a file in internal storage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// size of a file in internal storage.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSize {
    /// The `kestra://` URI.
    pub uri: String,
}

impl PluginType for StorageSize {
    const TYPE: &'static str = "io.kestra.plugin.core.storage.Size";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.storages.Size"];
}
