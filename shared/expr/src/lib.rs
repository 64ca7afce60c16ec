//! Pebble-compatible expressions.
