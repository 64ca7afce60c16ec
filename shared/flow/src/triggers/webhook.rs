//! `io.kestra.plugin.core.trigger.Webhook`: executions started by an HTTP call.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};
use crate::validate::Validator;

/// Starts an execution on `/api/v1/executions/webhook/{namespace}/{flowId}/{key}`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// The secret part of the URL (≤ 256 characters; may be an expression).
    pub key: String,
    /// Wait for the execution to end before answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
    /// With `wait`, answer with the flow outputs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub return_outputs: bool,
}

impl PluginType for Webhook {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.Webhook";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.models.triggers.types.Webhook"];
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        if self.key.chars().count() > 256 {
            v.error(
                crate::Location::UNKNOWN,
                "key",
                "webhook `key` is limited to 256 characters",
            );
        }
        let multiple = v.flow.triggers.iter().any(|t| {
            t.type_name == Self::TYPE
                && t.common
                    .conditions
                    .iter()
                    .any(|c| c.type_name == crate::conditions::multiple::MultipleCondition::TYPE)
        });
        if multiple {
            v.error(
                crate::Location::UNKNOWN,
                "conditions",
                "conditions of type MultipleCondition are not supported on a Webhook trigger",
            );
        }
    }
}
