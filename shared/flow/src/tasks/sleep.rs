//! `io.kestra.plugin.core.flow.Sleep`: wait for a duration.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// wait for a duration.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sleep {
    /// How long.
    pub duration: crate::property::Dyn<crate::duration::IsoDuration>,
}

impl PluginType for Sleep {
    const TYPE: &'static str = "io.kestra.plugin.core.flow.Sleep";
    const ALIASES: &'static [&'static str] = &[];
}
