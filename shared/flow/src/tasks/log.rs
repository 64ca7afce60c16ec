//! `io.kestra.plugin.core.log.Log`: log a message (or several) at a level.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// log a message (or several) at a level.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Log {
    /// The message, or a list of messages.
    pub message: crate::property::StringOrList,
    /// Level (default INFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<crate::plugin::LogLevel>,
}

impl PluginType for Log {
    const TYPE: &'static str = "io.kestra.plugin.core.log.Log";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.log.Log"];
}
