//! `io.kestra.plugin.core.kv.Set`: store a value in the namespace key-value store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// store a value in the namespace key-value store.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KvSet {
    /// Key.
    pub key: String,
    /// Value.
    pub value: serde_json::Value,
    /// Namespace (default: the flow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Overwrite an existing key (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<bool>,
    /// Time to live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<crate::property::Dyn<crate::duration::IsoDuration>>,
    /// Type of the value (STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_type: Option<String>,
}

impl PluginType for KvSet {
    const TYPE: &'static str = "io.kestra.plugin.core.kv.Set";
    const ALIASES: &'static [&'static str] = &[];
}
