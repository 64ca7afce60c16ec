//! Log entries of executions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One log line (Kestra's `LogEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Namespace of the flow.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
    /// Task id, if the line comes from a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Execution id.
    pub execution_id: String,
    /// Task run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_run_id: Option<String>,
    /// Attempt number (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_number: Option<u32>,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    pub level: kite_flow::plugin::LogLevel,
    /// Where it was emitted (`executor`, `worker`).
    #[serde(default)]
    pub thread: String,
    /// The message.
    pub message: String,
}
