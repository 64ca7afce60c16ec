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

/// Largest message of one log line, in bytes: a longer message keeps its first bytes and
/// ends with a marker saying how long it was ([`truncate_message`]).
pub const MAX_LOG_MESSAGE_BYTES: usize = 64 * 1024;

/// Room for the marker [`truncate_message`] adds: a message at most this much over
/// [`MAX_LOG_MESSAGE_BYTES`] was already cut.
pub const MARKER_SLACK_BYTES: usize = 128;

/// Most log lines one task attempt keeps (stdout, stderr and the task's own lines): the
/// lines past it are dropped and counted in one final marker line.
pub const MAX_ATTEMPT_LOG_LINES: u64 = 10_000;

/// Most message bytes one task attempt keeps (see [`MAX_ATTEMPT_LOG_LINES`]).
pub const MAX_ATTEMPT_LOG_BYTES: u64 = 10 * 1024 * 1024;

/// `1048576` as `1,048,576`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The largest index `<= at` that is a char boundary of `s`.
pub fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Truncates `message` to at most `max` bytes of its start (on a char boundary) followed by
/// ` … [truncated: <size> bytes, first <kept> kept]`; returns whether it did.
pub fn truncate_to(message: &mut String, max: usize) -> bool {
    if message.len() <= max {
        return false;
    }
    let total = message.len();
    let kept = floor_char_boundary(message, max);
    message.truncate(kept);
    message.push_str(&marker(total, kept));
    true
}

/// `message` cut as by [`truncate_to`] (a copy of at most `max` bytes and the marker).
pub fn truncated(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_owned();
    }
    let kept = floor_char_boundary(message, max);
    format!("{}{}", &message[..kept], marker(message.len(), kept))
}

/// The marker ending a message of `total` bytes of which the first `kept` were kept.
pub fn marker(total: usize, kept: usize) -> String {
    format!(
        " … [truncated: {} bytes, first {} kept]",
        thousands(total as u64),
        thousands(kept as u64)
    )
}

/// Truncates a message over [`MAX_LOG_MESSAGE_BYTES`] + [`MARKER_SLACK_BYTES`] to
/// [`MAX_LOG_MESSAGE_BYTES`] and the marker (see [`truncate_to`]); a message already cut
/// (its marker within the slack) is left alone.
pub fn truncate_message(message: &mut String) -> bool {
    if message.len() <= MAX_LOG_MESSAGE_BYTES + MARKER_SLACK_BYTES {
        return false;
    }
    truncate_to(message, MAX_LOG_MESSAGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_keep_their_start_and_say_so() {
        assert_eq!(thousands(1_048_576), "1,048,576");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        let mut m = "x".repeat(1_048_576);
        assert!(truncate_message(&mut m));
        assert!(m.starts_with(&"x".repeat(MAX_LOG_MESSAGE_BYTES)));
        assert!(m.ends_with(" … [truncated: 1,048,576 bytes, first 65,536 kept]"));
        let mut short = "short".to_owned();
        assert!(!truncate_message(&mut short));
        assert_eq!(short, "short");
        // Cut once only.
        let again = m.clone();
        assert!(!truncate_message(&mut m));
        assert_eq!(m, again);
        // Never splits a character.
        let mut e = "é".repeat(10);
        assert!(truncate_to(&mut e, 5));
        assert!(e.starts_with("éé …"), "{e}");
    }
}
