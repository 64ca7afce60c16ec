//! Execution and task-run states with their histories (Kestra's `State`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Just created.
    Created,
    /// Waiting for a concurrency slot.
    Queued,
    /// In progress.
    Running,
    /// Waiting (Pause, manual pause).
    Paused,
    /// Waiting for a retry delay.
    Retrying,
    /// Superseded by a new execution.
    Retried,
    /// Restart requested.
    Restarted,
    /// Kill requested.
    Killing,
    /// Ended well.
    Success,
    /// Ended with warnings.
    Warning,
    /// Ended in failure.
    Failed,
    /// Killed.
    Killed,
    /// Cancelled (concurrency, SLA).
    Cancelled,
    /// Not run (`runIf` false).
    Skipped,
}

impl State {
    /// Whether nothing more will happen.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            State::Success
                | State::Warning
                | State::Failed
                | State::Killed
                | State::Cancelled
                | State::Skipped
                | State::Retried
        )
    }

    /// Whether the state counts as a failure for branch selection.
    pub fn is_failed(self) -> bool {
        matches!(self, State::Failed | State::Killed)
    }

    /// Severity used to compute a parent's state from its children (worst wins).
    pub fn severity(self) -> u8 {
        match self {
            State::Killed => 6,
            State::Failed => 5,
            State::Cancelled => 4,
            State::Warning => 3,
            State::Paused => 2,
            _ => 1,
        }
    }

    /// Upper-case name.
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Queued => "QUEUED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Retrying => "RETRYING",
            State::Retried => "RETRIED",
            State::Restarted => "RESTARTED",
            State::Killing => "KILLING",
            State::Success => "SUCCESS",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
            State::Killed => "KILLED",
            State::Cancelled => "CANCELLED",
            State::Skipped => "SKIPPED",
        }
    }

    /// Parses an upper-case name (`CANCELED` accepted).
    pub fn parse(s: &str) -> Option<State> {
        let s = s.trim().to_ascii_uppercase();
        Some(match s.as_str() {
            "CREATED" => State::Created,
            "QUEUED" => State::Queued,
            "RUNNING" => State::Running,
            "PAUSED" => State::Paused,
            "RETRYING" => State::Retrying,
            "RETRIED" => State::Retried,
            "RESTARTED" => State::Restarted,
            "KILLING" => State::Killing,
            "SUCCESS" => State::Success,
            "WARNING" => State::Warning,
            "FAILED" => State::Failed,
            "KILLED" => State::Killed,
            "CANCELLED" | "CANCELED" => State::Cancelled,
            "SKIPPED" => State::Skipped,
            _ => return None,
        })
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The state entered.
    pub state: State,
    /// When.
    pub date: DateTime<Utc>,
}

/// The current state and how it got there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateHistory {
    /// The current state.
    pub current: State,
    /// Every transition, oldest first.
    pub histories: Vec<History>,
    /// Start date (first history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<DateTime<Utc>>,
    /// End date (when terminated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<DateTime<Utc>>,
    /// ISO-8601 duration from start to end (or to the last transition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

impl StateHistory {
    /// A new history starting in `state` at `now`.
    pub fn new(state: State, now: DateTime<Utc>) -> Self {
        let mut s = Self {
            current: state,
            histories: vec![History { state, date: now }],
            start_date: Some(now),
            end_date: None,
            duration: None,
        };
        s.refresh();
        s
    }

    /// Moves to `state` (no-op when already there).
    pub fn set(&mut self, state: State, now: DateTime<Utc>) {
        if self.current == state {
            return;
        }
        self.current = state;
        self.histories.push(History { state, date: now });
        self.refresh();
    }

    fn refresh(&mut self) {
        let start = self.histories.first().map(|h| h.date);
        let last = self.histories.last().map(|h| h.date);
        self.start_date = start;
        self.end_date = if self.current.is_terminated() {
            last
        } else {
            None
        };
        if let (Some(s), Some(e)) = (start, last) {
            let ms = (e - s).num_milliseconds();
            self.duration = Some(kite_flow::IsoDuration::from_millis(ms).to_string());
        }
    }

    /// How many times `state` was entered.
    pub fn count(&self, state: State) -> usize {
        self.histories.iter().filter(|h| h.state == state).count()
    }
}
