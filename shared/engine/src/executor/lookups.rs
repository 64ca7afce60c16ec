//! Values a decision looks up: `secret()`, `kv()`, `read()`, `fileSize()` and
//! `fileExists()` in expressions the executor renders (an `If` condition, a Switch value,
//! a Log message...).
//!
//! The decision function does no I/O: it renders with a [`RecordedHost`], which answers
//! from the values the service looked up for the event being applied
//! ([`Lookups`], in [`crate::executor::record::Internal::lookups`]). A value not known yet
//! makes its render fail with a [`NeedError`] and is collected; the decision then returns
//! only [`crate::executor::Action::Need`] naming every value it missed. The service looks
//! them up (outside the decision), records them with [`Lookups::record`] into the record it
//! had before deciding, and decides again (a bounded number of times: an answer may lead
//! the decision to a render that needs another value).
//!
//! Values other than secrets are stored with the record (only those of the last applied
//! event: a later event looks them up afresh, as Kestra reads the KV store each time), so
//! a replay of that event decides the same. Secret values are never stored: they live in
//! memory for the handling of one event ([`Lookups::secrets`] is skipped when the record is
//! serialised, redacted in `Debug`, and forgotten once the decision used them); a replay
//! looks them up again. A `read()` over [`MAX_READ_BYTES`] fails the render with a clear
//! error rather than growing the record towards the store's item limit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use kite_expr::Host;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest file a decision may `read()`: its content is stored with the record.
pub const MAX_READ_BYTES: usize = 64 * 1024;

/// One value a decision needs from the outside.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "fn")]
pub enum Lookup {
    /// `secret(key)`.
    Secret {
        /// The secret's key.
        key: String,
    },
    /// `kv(key, namespace, errorOnMissing)`, the namespace resolved.
    #[serde(rename_all = "camelCase")]
    Kv {
        /// The namespace.
        namespace: Option<String>,
        /// The key.
        key: String,
        /// Whether a missing key is an error.
        error_on_missing: bool,
    },
    /// `read(uri)`.
    Read {
        /// The file.
        uri: String,
    },
    /// `fileSize(uri)`.
    FileSize {
        /// The file.
        uri: String,
    },
    /// `fileExists(uri)`.
    FileExists {
        /// The file.
        uri: String,
    },
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Secret { key } => write!(f, "secret('{key}')"),
            Lookup::Kv { namespace, key, .. } => match namespace {
                Some(ns) => write!(f, "kv('{key}', '{ns}')"),
                None => write!(f, "kv('{key}')"),
            },
            Lookup::Read { uri } => write!(f, "read('{uri}')"),
            Lookup::FileSize { uri } => write!(f, "fileSize('{uri}')"),
            Lookup::FileExists { uri } => write!(f, "fileExists('{uri}')"),
        }
    }
}

impl Lookup {
    /// Answers this lookup with `host` (I/O: the service calls this, never a decision).
    /// Errors are answers too (a missing secret, a missing file): the decision sees them
    /// as the function's error, as when it called the host itself.
    pub fn answer(&self, host: &dyn Host) -> Looked {
        let got = match self {
            Lookup::Secret { key } => host.secret(key).map(Value::String),
            Lookup::Kv {
                namespace,
                key,
                error_on_missing,
            } => host.kv(namespace.as_deref(), key, *error_on_missing),
            Lookup::Read { uri } => host.read(uri).and_then(|content| {
                if content.len() > MAX_READ_BYTES {
                    Err(format!(
                        "read('{uri}'): the file is {} bytes; an expression the executor \
                         renders (an If condition, a Log message...) reads at most {} KiB: \
                         read it in a task, or pass its URI",
                        content.len(),
                        MAX_READ_BYTES / 1024
                    ))
                } else {
                    Ok(Value::String(content))
                }
            }),
            Lookup::FileSize { uri } => host.file_size(uri).map(Value::from),
            Lookup::FileExists { uri } => host.file_exists(uri).map(Value::Bool),
        };
        match got {
            Ok(v) => Looked::Ok(v),
            Err(e) => Looked::Err(e),
        }
    }
}

/// The answer to a [`Lookup`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Looked {
    /// The value.
    Ok(Value),
    /// The function's error.
    Err(String),
}

impl std::fmt::Debug for Looked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Looked::Ok(_) => f.write_str("Ok(..)"),
            Looked::Err(e) => write!(f, "Err({e:?})"),
        }
    }
}

/// Secret answers: in memory only, never serialised, never shown.
#[derive(Clone, Default, PartialEq)]
pub struct Secrets(BTreeMap<String, Looked>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

/// The values looked up for the event being applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lookups {
    /// The event they were looked up for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Every answer but secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<(Lookup, Looked)>,
    /// Secret answers (never stored).
    #[serde(skip)]
    pub secrets: Secrets,
}

impl Lookups {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.event.is_none() && self.values.is_empty() && self.secrets.0.is_empty()
    }

    /// Records `answers` for event `event_id` (those of another event are dropped first).
    pub fn record(&mut self, event_id: &str, answers: Vec<(Lookup, Looked)>) {
        if self.event.as_deref() != Some(event_id) {
            *self = Lookups {
                event: Some(event_id.to_owned()),
                ..Lookups::default()
            };
        }
        for (lookup, looked) in answers {
            if let Lookup::Secret { key } = &lookup {
                self.secrets.0.insert(key.clone(), looked);
            } else if let Some(slot) = self.values.iter_mut().find(|(l, _)| *l == lookup) {
                slot.1 = looked;
            } else {
                self.values.push((lookup, looked));
            }
        }
    }

    /// The answers usable by a decision of event `event_id`.
    fn for_event(&self, event_id: &str) -> Lookups {
        if self.event.as_deref() == Some(event_id) {
            self.clone()
        } else {
            Lookups::default()
        }
    }

    /// After a decision of `event_id`: keeps its non-secret answers, forgets the rest.
    pub(crate) fn settle(&mut self, event_id: &str) {
        if self.event.as_deref() == Some(event_id) {
            self.secrets = Secrets::default();
        } else {
            *self = Lookups::default();
        }
    }
}

/// The error of a render that needs a value not looked up yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not known to this decision yet (the executor looks it up and decides again)")]
pub struct NeedError(pub Lookup);

/// What renders of one decision missed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Needs(Arc<Mutex<BTreeSet<Lookup>>>);

impl Needs {
    fn add(&self, lookup: Lookup) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(lookup);
        }
    }

    /// Everything missed, in order (empty: nothing).
    pub(crate) fn take(&self) -> Vec<Lookup> {
        self.0
            .lock()
            .map(|mut set| std::mem::take(&mut *set).into_iter().collect())
            .unwrap_or_default()
    }
}

/// The host of a decision: answers from recorded values, never does I/O.
#[derive(Debug)]
pub(crate) struct RecordedHost {
    known: Lookups,
    needs: Needs,
}

impl RecordedHost {
    /// A host answering from the values of `lookups` recorded for `event_id`; what it
    /// misses goes to `needs`.
    pub(crate) fn new(lookups: &Lookups, event_id: &str, needs: Needs) -> Self {
        Self {
            known: lookups.for_event(event_id),
            needs,
        }
    }

    fn answer(&self, lookup: Lookup) -> Result<Value, String> {
        let found = match &lookup {
            Lookup::Secret { key } => self.known.secrets.0.get(key),
            other => self
                .known
                .values
                .iter()
                .find(|(l, _)| l == other)
                .map(|(_, v)| v),
        };
        match found {
            Some(Looked::Ok(v)) => Ok(v.clone()),
            Some(Looked::Err(e)) => Err(e.clone()),
            None => {
                let message = NeedError(lookup.clone()).to_string();
                self.needs.add(lookup);
                Err(message)
            }
        }
    }
}

impl Host for RecordedHost {
    fn now(&self) -> DateTime<Utc> {
        // Rendering in a decision gets `now` from the decision (see `render_context`).
        DateTime::UNIX_EPOCH
    }

    fn secret(&self, key: &str) -> Result<String, String> {
        match self.answer(Lookup::Secret {
            key: key.to_owned(),
        })? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    fn read(&self, uri: &str) -> Result<String, String> {
        match self.answer(Lookup::Read {
            uri: uri.to_owned(),
        })? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    fn file_size(&self, uri: &str) -> Result<u64, String> {
        let v = self.answer(Lookup::FileSize {
            uri: uri.to_owned(),
        })?;
        v.as_u64()
            .ok_or_else(|| format!("fileSize('{uri}'): recorded value {v} is not a size"))
    }

    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        let v = self.answer(Lookup::FileExists {
            uri: uri.to_owned(),
        })?;
        v.as_bool()
            .ok_or_else(|| format!("fileExists('{uri}'): recorded value {v} is not a boolean"))
    }

    fn kv(
        &self,
        namespace: Option<&str>,
        key: &str,
        error_on_missing: bool,
    ) -> Result<Value, String> {
        self.answer(Lookup::Kv {
            namespace: namespace.map(str::to_owned),
            key: key.to_owned(),
            error_on_missing,
        })
    }

    fn error_logs(&self) -> Vec<Value> {
        Vec::new()
    }
}

/// Names of the expression functions whose values a decision looks up (and `render`,
/// which may render a template from data that calls them).
const LOOKUP_FUNCTIONS: &[&str] = &["secret", "kv", "read", "fileSize", "fileExists", "render"];

/// Whether a decision of `flow` may need a lookup: some string of the flow calls one of
/// the functions above. A decision that needs one leaves its record unusable (the service
/// decides again from a copy), so the service keeps a copy only for such flows.
pub fn may_look_up(flow: &kite_flow::Flow) -> bool {
    let Ok(text) = serde_json::to_string(flow) else {
        return true;
    };
    calls_any(&text, LOOKUP_FUNCTIONS)
}

/// Whether `text` has `name(` (spaces allowed before the parenthesis, the name not the
/// tail of a longer identifier) for one of `names`.
fn calls_any(text: &str, names: &[&str]) -> bool {
    let bytes = text.as_bytes();
    names.iter().any(|name| {
        text.match_indices(name).any(|(at, _)| {
            let before_ok = at == 0 || {
                let b = bytes[at - 1];
                !(b.is_ascii_alphanumeric() || b == b'_')
            };
            let rest = text[at + name.len()..].trim_start();
            before_ok && rest.starts_with('(')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_found_and_lookalikes_are_not() {
        assert!(calls_any("{{ kv('a') }}", LOOKUP_FUNCTIONS));
        assert!(calls_any("{{ secret ('a') }}", LOOKUP_FUNCTIONS));
        assert!(calls_any("x|fileExists(y)", LOOKUP_FUNCTIONS));
        assert!(!calls_any("io.kestra.plugin.core.kv.Set", LOOKUP_FUNCTIONS));
        assert!(!calls_any("thread(1) already", LOOKUP_FUNCTIONS));
        assert!(!calls_any("a secret", LOOKUP_FUNCTIONS));
    }

    #[test]
    fn secrets_are_never_serialised_nor_shown() {
        let mut l = Lookups::default();
        l.record(
            "e1",
            vec![
                (
                    Lookup::Secret { key: "PW".into() },
                    Looked::Ok(Value::String("hunter2".into())),
                ),
                (
                    Lookup::Read {
                        uri: "kestra:///a".into(),
                    },
                    Looked::Ok(Value::String("content".into())),
                ),
            ],
        );
        let json = serde_json::to_string(&l).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("content"), "{json}");
        assert!(!format!("{l:?}").contains("hunter2"));
        let host = RecordedHost::new(&l, "e1", Needs::default());
        assert_eq!(host.secret("PW").unwrap(), "hunter2");
        // Another event sees nothing and says what it needs.
        let needs = Needs::default();
        let host = RecordedHost::new(&l, "e2", needs.clone());
        assert!(host.read("kestra:///a").unwrap_err().contains("not known"));
        assert_eq!(
            needs.take(),
            vec![Lookup::Read {
                uri: "kestra:///a".into()
            }]
        );
        l.settle("e1");
        assert!(l.secrets.0.is_empty());
        assert_eq!(l.values.len(), 1);
        l.settle("e2");
        assert!(l.is_empty());
    }
}
