//! Message bodies of the executor and timer queues (JSON).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::executor::{Event, TimerKind};

/// A message of the executor queue (FIFO, group = execution id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorMessage {
    /// Unique id of the event (redeliveries keep it).
    pub id: String,
    /// The execution.
    pub execution_id: String,
    /// The event.
    pub event: Event,
}

/// A message of the timer queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerMessage {
    /// The execution.
    pub execution_id: String,
    /// When the timer is due.
    pub at: DateTime<Utc>,
    /// What it is for.
    pub timer: TimerKind,
}
