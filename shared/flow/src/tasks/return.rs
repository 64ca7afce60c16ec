//! `io.kestra.plugin.core.debug.Return`: render `format` into the output `value`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// render `format` into the output `value`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Return {
    /// The template rendered into `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

impl PluginType for Return {
    const TYPE: &'static str = "io.kestra.plugin.core.debug.Return";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.tasks.debugs.Return"];
}
