//! Masking of secret values (Kestra's `RunContextLogger` masking, extended to outputs).
//!
//! A [`Masks`] set collects, during one render scope (one executor step, one worker
//! attempt), every value that came from `secret()` and every SECRET input decrypted into a
//! render context. The set lives in memory only; it is rebuilt by each scope from what it
//! renders (a redelivered job renders again), so the values are never written anywhere.
//! Before log lines, task outputs, flow outputs and error messages leave the scope, every
//! occurrence of a collected value is replaced by `******`, inside longer text too.
//!
//! What is masked: the value verbatim, and its standard base64 encoding (with padding, as
//! `base64encode` writes it). What is not: other derived forms (upper-cased, sliced,
//! hashed, URL-encoded, split across lines), files written by a task, and values a task
//! obtains without rendering them (a script reading a secret by itself); Kestra masks
//! verbatim values only.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::Value;

/// The replacement text.
pub const MASK: &str = "******";

/// The secret values seen in one scope. Cloning shares the set.
#[derive(Clone, Default)]
pub struct Masks {
    patterns: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Masks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masks")
            .field("count", &self.patterns().len())
            .finish()
    }
}

impl Masks {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value (and its base64 form). Empty values and values made only of
    /// `*` are ignored (masking them would garble every line, or the mask itself).
    pub fn add(&self, value: &str) {
        if value.is_empty() || value.chars().all(|c| c == '*') {
            return;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        let Ok(mut p) = self.patterns.lock() else {
            return;
        };
        for v in [value.to_owned(), encoded] {
            if !p.contains(&v) {
                p.push(v);
            }
        }
        // Longest first: a secret containing another one is masked whole.
        p.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.patterns().is_empty()
    }

    fn patterns(&self) -> Vec<String> {
        self.patterns.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// `text` with every collected value replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        self.mask_in_place(&mut out);
        out
    }

    /// Replaces every collected value in `text` by [`MASK`].
    pub fn mask_in_place(&self, text: &mut String) {
        for p in self.patterns() {
            if text.contains(p.as_str()) {
                *text = text.replace(p.as_str(), MASK);
            }
        }
    }

    /// Whether some string inside `value` holds a collected value.
    pub fn touches(&self, value: &Value) -> bool {
        let patterns = self.patterns();
        !patterns.is_empty() && touches(value, &patterns)
    }

    /// Masks every string inside `value` (object keys included).
    pub fn mask_value(&self, value: &mut Value) {
        let patterns = self.patterns();
        if patterns.is_empty() {
            return;
        }
        mask_json(value, &patterns);
    }
}

fn touches(value: &Value, patterns: &[String]) -> bool {
    let hit = |s: &str| patterns.iter().any(|p| s.contains(p.as_str()));
    match value {
        Value::String(s) => hit(s),
        Value::Array(a) => a.iter().any(|v| touches(v, patterns)),
        Value::Object(m) => m.iter().any(|(k, v)| hit(k) || touches(v, patterns)),
        _ => false,
    }
}

fn mask_str(s: &mut String, patterns: &[String]) {
    for p in patterns {
        if s.contains(p.as_str()) {
            *s = s.replace(p.as_str(), MASK);
        }
    }
}

fn mask_json(value: &mut Value, patterns: &[String]) {
    match value {
        Value::String(s) => mask_str(s, patterns),
        Value::Array(a) => a.iter_mut().for_each(|v| mask_json(v, patterns)),
        Value::Object(m) => {
            let needs_key = m
                .keys()
                .any(|k| patterns.iter().any(|p| k.contains(p.as_str())));
            if needs_key {
                let old = std::mem::take(m);
                for (mut k, mut v) in old {
                    mask_str(&mut k, patterns);
                    mask_json(&mut v, patterns);
                    m.insert(k, v);
                }
            } else {
                m.values_mut().for_each(|v| mask_json(v, patterns));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_verbatim_and_base64_inside_longer_text() {
        let m = Masks::new();
        m.add("hunter2");
        m.add("");
        m.add("**");
        assert_eq!(m.mask("pw=hunter2;again hunter2"), "pw=******;again ******");
        assert_eq!(m.mask("basic aHVudGVyMg=="), "basic ******");
        assert_eq!(m.mask("HUNTER2 hunt"), "HUNTER2 hunt", "derived forms stay");
        let mut v = json!({"a": ["x hunter2"], "hunter2": 1, "n": 3});
        m.mask_value(&mut v);
        assert_eq!(v, json!({"a": ["x ******"], "******": 1, "n": 3}));
    }

    #[test]
    fn longer_secrets_win_and_clones_share_the_set() {
        let m = Masks::new();
        let shared = m.clone();
        shared.add("abc");
        m.add("abcdef");
        assert_eq!(m.mask("abcdef abc"), "****** ******");
        assert!(!shared.is_empty());
    }
}
