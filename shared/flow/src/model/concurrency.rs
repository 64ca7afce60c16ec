//! Flow-level concurrency limit.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `concurrency: {limit, behavior}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Concurrency {
    /// Maximum RUNNING + PAUSED executions of the flow (≥ 1).
    pub limit: u32,
    /// What happens to an execution over the limit.
    #[serde(default)]
    pub behavior: ConcurrencyBehavior,
}

/// What happens to an execution over the concurrency limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConcurrencyBehavior {
    /// Wait (QUEUED) until a slot frees.
    #[default]
    Queue,
    /// End CANCELLED at once.
    Cancel,
    /// End FAILED at once.
    Fail,
}
