//! `io.kestra.plugin.core.kv.GetKeys`: list keys of the namespace key-value store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// list keys of the namespace key-value store.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KvGetKeys {
    /// Only keys with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Namespace (default: the flow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl PluginType for KvGetKeys {
    const TYPE: &'static str = "io.kestra.plugin.core.kv.GetKeys";
    const ALIASES: &'static [&'static str] = &[];
}
