//! Kite flow language.
