//! Cross-crate end-to-end suites live in `tests/tests/`.
