//! Diagnostics: what is wrong, where (`file:line:col` and a `tasks[0].type` style path), how to fix it.

use std::fmt;

use serde::Serialize;

/// A 1-based position in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Location {
    /// Line, starting at 1 (0 when unknown).
    pub line: u32,
    /// Column, starting at 1 (0 when unknown).
    pub col: u32,
}

impl Location {
    /// An unknown position (line 0).
    pub const UNKNOWN: Location = Location { line: 0, col: 0 };

    /// A position.
    pub const fn new(line: u32, col: u32) -> Self {
        Self { line, col }
    }

    /// Whether the position is known.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow is rejected.
    Error,
    /// The flow is accepted but uses something deprecated.
    Warning,
    /// The flow is accepted; something worth knowing (an alias was used).
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem (or remark) about a flow source.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{loc}: {message}")]
pub struct Diagnostic {
    /// Error, warning or info.
    pub severity: Severity,
    /// Where in the source.
    pub loc: Location,
    /// The property path, e.g. `tasks[0].type` (empty for the whole document).
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(loc: Location, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            loc,
            path: path.into(),
            message: message.into(),
        }
    }

    /// A deprecation warning.
    pub fn warning(loc: Location, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(loc, path, message)
        }
    }

    /// An info.
    pub fn info(loc: Location, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Info,
            ..Self::error(loc, path, message)
        }
    }

    /// Sets the location if it is not known yet.
    pub fn or_at(mut self, loc: Location) -> Self {
        if !self.loc.is_known() {
            self.loc = loc;
        }
        self
    }

    /// Sets the path if it is empty.
    pub fn or_path(mut self, path: &str) -> Self {
        if self.path.is_empty() {
            self.path = path.to_owned();
        }
        self
    }

    /// Whether this diagnostic rejects the flow.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: severity: message` as printed by `kite flow validate`.
    pub fn render(&self, file: &str) -> String {
        let loc = if self.loc.is_known() {
            self.loc
        } else {
            Location::new(1, 1)
        };
        if self.severity == Severity::Error {
            format!("{file}:{loc}: {}", self.message)
        } else {
            format!("{file}:{loc}: {}: {}", self.severity, self.message)
        }
    }
}

/// The closest of `candidates` to `word`, if one is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 5).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` Did you mean `x`?` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!(" Did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(closest("mesage", ["message", "level"]), Some("message"));
        assert_eq!(closest("zzzzzz", ["message", "level"]), None);
        assert_eq!(
            did_you_mean(
                "io.kestra.plugin.core.log.Logg",
                ["io.kestra.plugin.core.log.Log"]
            ),
            " Did you mean `io.kestra.plugin.core.log.Log`?"
        );
    }

    #[test]
    fn renders_with_file_and_position() {
        let d = Diagnostic::error(Location::new(3, 7), "tasks[0]", "bad");
        assert_eq!(d.render("f.yaml"), "f.yaml:3:7: bad");
        let w = Diagnostic::warning(Location::UNKNOWN, "", "old");
        assert_eq!(w.render("f.yaml"), "f.yaml:1:1: warning: old");
    }
}
