//! Helpers shared by the integration tests of kite-flow.

#![allow(dead_code)]

use kite_flow::{Diagnostic, Parsed, parse_flow};

/// Parses `body` wrapped in a minimal valid flow header.
pub fn flow(body: &str) -> Parsed {
    parse_flow(&format!("id: test\nnamespace: kite.tests\n{body}"))
}

/// The error diagnostics of `source`, asserting there is at least one.
pub fn errors(source: &str) -> Vec<Diagnostic> {
    let parsed = parse_flow(source);
    let errs: Vec<Diagnostic> = parsed.errors().cloned().collect();
    assert!(!errs.is_empty(), "expected errors for:\n{source}");
    assert!(parsed.flow.is_none());
    errs
}

/// Asserts that some error of `source` contains every word (case-sensitive).
pub fn assert_error(source: &str, words: &[&str]) -> Diagnostic {
    let errs = errors(source);
    errs.iter()
        .find(|d| words.iter().all(|w| d.message.contains(w)))
        .cloned()
        .unwrap_or_else(|| panic!("no error mentions {words:?}; got {errs:#?}"))
}

/// Asserts that `source` is valid; returns the parse.
pub fn assert_valid(source: &str) -> Parsed {
    let parsed = parse_flow(source);
    assert!(
        parsed.is_valid(),
        "expected a valid flow, got {:#?}",
        parsed.diagnostics
    );
    parsed
}

/// A log task with `id`.
pub fn log(id: &str) -> String {
    format!("  - id: {id}\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
}
