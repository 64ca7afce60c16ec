//! `io.kestra.plugin.core.debug.Echo`: log a rendered message (deprecated: use Log).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// log a rendered message (deprecated: use Log).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Echo {
    /// The message.
    pub format: String,
    /// Level (default INFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<crate::plugin::LogLevel>,
}

impl PluginType for Echo {
    const TYPE: &'static str = "io.kestra.plugin.core.debug.Echo";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.debugs.Echo"];
    const DEPRECATED: Option<&'static str> = Some("use io.kestra.plugin.core.log.Log");
}
