//! The stored state of Flow-trigger windows (table `trigger_windows`): per listener flow,
//! trigger, window id and bucket, which requirement was met by which upstream change, the
//! changes already counted, and the firings decided.
//!
//! Key `namespace|flowId|triggerId|windowId|bucket`; the item expires a day after its
//! bucket closes (TTL), so old windows go by themselves.
//!
//! Every change is applied with a read-modify-write under a version condition (retried on
//! conflict): two executors applying the two last missing changes at once are serialised,
//! and exactly one of them sees the window complete. A firing is recorded in the same
//! write as the change that completed the window (and the reset), under a key made of the
//! window and the set of changes that met it; the execution id derives from that key. A
//! change delivered again is recognised (`seen`) and only fires again what it fired the
//! first time, which finds its execution there: the delivery that recorded it may have
//! stopped before creating it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use kite_ports::{Document, DocumentError, Expect};
use serde::{Deserialize, Serialize};

use super::TriggerError;
use super::preconditions::Bucket;
use crate::repo::RepoError;
use crate::services::Platform;

const TABLE: &str = "trigger_windows";
/// Tries of a read-modify-write that lost a race.
const ATTEMPTS: usize = 16;
/// Changes remembered per window.
const SEEN: usize = 256;
/// Firings remembered per window.
const FIRED: usize = 64;
/// How long a window's state outlives its end.
const KEEP_AFTER_END: i64 = 24;

/// Which change met a requirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    /// The upstream execution.
    pub execution_id: String,
    /// The change (`executionId/historyIndex`).
    pub change: String,
    /// When it happened.
    pub date: DateTime<Utc>,
}

/// A firing decided by a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fired {
    /// The change that completed the window.
    pub by: String,
    /// The occurrence key of the execution.
    pub key: String,
}

/// One window's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowState {
    /// Requirement name → the change that met it.
    #[serde(default)]
    pub results: BTreeMap<String, Mark>,
    /// The changes applied (oldest first, at most [`SEEN`]).
    #[serde(default)]
    pub seen: Vec<String>,
    /// The firings decided (oldest first, at most [`FIRED`]).
    #[serde(default)]
    pub fired: Vec<Fired>,
}

/// One change to apply to a window.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// `executionId/historyIndex`.
    pub key: &'a str,
    /// The upstream execution.
    pub execution_id: &'a str,
    /// When.
    pub date: DateTime<Utc>,
    /// The requirements it meets.
    pub met: &'a [String],
}

impl WindowState {
    /// Applies `change` (pure): marks what it meets and returns the occurrence keys to fire.
    /// `all` names every requirement; `window_key` names the window; `sliding` drops marks
    /// older than that before `change.date`.
    pub fn apply(
        &mut self,
        change: &Change<'_>,
        all: &[String],
        window_key: &str,
        sliding: Option<Duration>,
        reset_on_success: bool,
    ) -> Vec<String> {
        if self.seen.iter().any(|s| s == change.key) {
            return self
                .fired
                .iter()
                .filter(|f| f.by == change.key)
                .map(|f| f.key.clone())
                .collect();
        }
        for name in change.met {
            self.results.insert(
                name.clone(),
                Mark {
                    execution_id: change.execution_id.to_owned(),
                    change: change.key.to_owned(),
                    date: change.date,
                },
            );
        }
        self.results.retain(|name, _| all.contains(name));
        if let Some(window) = sliding {
            let from = change.date - window;
            self.results.retain(|_, m| m.date >= from);
        }
        self.seen.push(change.key.to_owned());
        if self.seen.len() > SEEN {
            let extra = self.seen.len() - SEEN;
            self.seen.drain(..extra);
        }
        if change.met.is_empty() || !all.iter().all(|n| self.results.contains_key(n)) {
            return Vec::new();
        }
        let set: Vec<String> = self
            .results
            .iter()
            .map(|(n, m)| format!("{n}={}", m.change))
            .collect();
        let key = format!(
            "window|{window_key}|{}",
            crate::model::ids::derived_id(&set.iter().map(String::as_str).collect::<Vec<_>>())
        );
        self.fired.push(Fired {
            by: change.key.to_owned(),
            key: key.clone(),
        });
        if self.fired.len() > FIRED {
            let extra = self.fired.len() - FIRED;
            self.fired.drain(..extra);
        }
        if reset_on_success {
            self.results.clear();
        }
        vec![key]
    }
}

/// Where a window's state is stored.
#[derive(Debug, Clone)]
pub struct WindowRef<'a> {
    /// Listener namespace.
    pub namespace: &'a str,
    /// Listener flow.
    pub flow_id: &'a str,
    /// Its trigger.
    pub trigger_id: &'a str,
    /// The window id (`preconditions.id`, the MultipleCondition's id).
    pub window_id: &'a str,
}

impl WindowRef<'_> {
    fn key(&self, bucket: &str) -> String {
        format!(
            "{}|{}|{}|{}|{bucket}",
            self.namespace, self.flow_id, self.trigger_id, self.window_id
        )
    }
}

/// Applies `change` to the stored window `at`/`bucket` and returns the occurrence keys to
/// fire (see the module docs).
pub async fn record(
    platform: &Platform,
    at: &WindowRef<'_>,
    bucket: &Bucket,
    change: &Change<'_>,
    all: &[String],
    reset_on_success: bool,
) -> Result<Vec<String>, TriggerError> {
    let docs = platform.repos.documents();
    let key = at.key(&bucket.key);
    let scoped_key = format!("{}|{}", at.window_id, bucket.key);
    for attempt in 0..ATTEMPTS {
        let (mut state, expect) = match docs.get(TABLE, &key).await.map_err(RepoError::from)? {
            Some(v) => {
                let state: WindowState =
                    serde_json::from_str(&v.value).map_err(|source| RepoError::Corrupt {
                        what: "trigger window",
                        key: key.clone(),
                        source,
                    })?;
                (state, Expect::Version(v.version))
            }
            None => (WindowState::default(), Expect::Absent),
        };
        let before = state.clone();
        let fire = state.apply(change, all, &scoped_key, bucket.sliding, reset_on_success);
        if state == before {
            return Ok(fire);
        }
        let json = serde_json::to_string(&state).map_err(|e| RepoError::Invalid(e.to_string()))?;
        let expires = bucket.end.max(change.date) + Duration::hours(KEEP_AFTER_END);
        match docs
            .put(TABLE, &key, Document::new(json).expires_at(expires), expect)
            .await
        {
            Ok(_) => return Ok(fire),
            Err(DocumentError::Conflict { .. }) if attempt + 1 < ATTEMPTS => continue,
            Err(e) => return Err(RepoError::from(e).into()),
        }
    }
    Err(TriggerError::Service(Box::new(
        crate::services::ServiceError::Other(format!(
            "trigger window {key}: could not be updated, it kept changing"
        )),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change<'a>(key: &'a str, met: &'a [String], minute: u32) -> Change<'a> {
        Change {
            key,
            execution_id: key.split('/').next().unwrap_or(key),
            date: chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 5, 1, 10, minute, 0).unwrap(),
            met,
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn fires_once_when_every_requirement_is_met_then_resets() {
        let all = names(&["a", "b"]);
        let mut w = WindowState::default();
        assert!(
            w.apply(&change("x/4", &names(&["a"]), 0), &all, "w", None, true)
                .is_empty()
        );
        let fired = w.apply(&change("y/4", &names(&["b"]), 1), &all, "w", None, true);
        assert_eq!(fired.len(), 1);
        assert!(w.results.is_empty(), "reset");
        // Delivered again: the same firing, nothing new.
        assert_eq!(
            w.apply(&change("y/4", &names(&["b"]), 1), &all, "w", None, true),
            fired
        );
        assert!(
            w.apply(&change("x/4", &names(&["a"]), 0), &all, "w", None, true)
                .is_empty()
        );
        assert!(
            w.results.is_empty(),
            "a redelivered change does not count again"
        );
        // A new pair fires again, under another key.
        w.apply(&change("x2/4", &names(&["a"]), 2), &all, "w", None, true);
        let again = w.apply(&change("y2/4", &names(&["b"]), 3), &all, "w", None, true);
        assert_eq!(again.len(), 1);
        assert_ne!(again, fired);
    }

    #[test]
    fn without_reset_every_new_change_fires() {
        let all = names(&["a", "b"]);
        let mut w = WindowState::default();
        w.apply(&change("x/4", &names(&["a"]), 0), &all, "w", None, false);
        let first = w.apply(&change("y/4", &names(&["b"]), 1), &all, "w", None, false);
        let second = w.apply(&change("z/4", &names(&["b"]), 2), &all, "w", None, false);
        assert_eq!(first.len(), 1);
        assert_eq!(second.len(), 1);
        assert_ne!(first, second);
    }

    #[test]
    fn sliding_windows_forget_old_marks() {
        let all = names(&["a", "b"]);
        let mut w = WindowState::default();
        let window = Some(Duration::minutes(5));
        w.apply(&change("x/4", &names(&["a"]), 0), &all, "w", window, true);
        assert!(
            w.apply(&change("y/4", &names(&["b"]), 10), &all, "w", window, true)
                .is_empty(),
            "a was met 10 minutes before: outside the sliding window"
        );
        assert_eq!(
            w.apply(&change("x2/4", &names(&["a"]), 12), &all, "w", window, true)
                .len(),
            1
        );
    }

    #[test]
    fn one_change_meeting_everything_fires() {
        let all = names(&["a", "b"]);
        let mut w = WindowState::default();
        let fired = w.apply(
            &change("x/4", &names(&["a", "b"]), 0),
            &all,
            "w",
            None,
            true,
        );
        assert_eq!(fired.len(), 1);
    }
}
