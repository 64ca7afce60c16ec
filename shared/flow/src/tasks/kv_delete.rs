//! `io.kestra.plugin.core.kv.Delete`: delete a key of the namespace key-value store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// delete a key of the namespace key-value store.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KvDelete {
    /// Key.
    pub key: String,
    /// Namespace (default: the flow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Fail when the key is missing (default false).
    #[serde(default)]
    pub error_on_missing: bool,
}

impl PluginType for KvDelete {
    const TYPE: &'static str = "io.kestra.plugin.core.kv.Delete";
    const ALIASES: &'static [&'static str] = &[];
}
