//! `io.kestra.plugin.core.kv.Get`: read a value of the namespace key-value store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// read a value of the namespace key-value store.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KvGet {
    /// Key.
    pub key: String,
    /// Namespace (default: the flow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Fail when the key is missing (default false).
    #[serde(default)]
    pub error_on_missing: bool,
}

impl PluginType for KvGet {
    const TYPE: &'static str = "io.kestra.plugin.core.kv.Get";
    const ALIASES: &'static [&'static str] = &[];
}
