//! `io.kestra.plugin.core.condition.HasRetryAttempt`: the upstream execution had retried attempts in these states.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};

/// the upstream execution had retried attempts in these states.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HasRetryAttempt {
    /// States accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#in: Vec<String>,
    /// States refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in: Vec<String>,
}

impl PluginType for HasRetryAttempt {
    const TYPE: &'static str = "io.kestra.plugin.core.condition.HasRetryAttempt";
    const ALIASES: &'static [&'static str] =
        &["io.kestra.core.models.conditions.types.HasRetryAttemptCondition"];
    const CATEGORY: Category = Category::Condition;
}
