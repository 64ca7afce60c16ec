//! Embedded backends.
