//! Flow outputs, rendered when the execution ends.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::input::InputType;

/// One flow output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    /// Id, unique among outputs.
    pub id: String,
    /// Type the rendered value is parsed to.
    #[serde(rename = "type")]
    pub kind: InputType,
    /// The value (usually an expression).
    pub value: serde_json::Value,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether a null value is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}
