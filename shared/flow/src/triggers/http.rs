//! `io.kestra.plugin.core.http.Trigger`: executions started when polling an HTTP endpoint
//! matches a condition.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, PluginType};

/// Polls `uri` every `interval`; fires when `responseCondition` is truthy.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpTrigger {
    /// The URI.
    pub uri: String,
    /// Method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Headers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Fire when this renders truthy (default: status < 400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_condition: Option<String>,
    /// Polling interval (default PT60S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
    /// Encrypt the body in trigger variables.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypt_body: bool,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Client options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
}

impl PluginType for HttpTrigger {
    const TYPE: &'static str = "io.kestra.plugin.core.http.Trigger";
    const ALIASES: &'static [&'static str] = &["io.kestra.plugin.fs.http.Trigger"];
    const CATEGORY: Category = Category::Trigger;
}
