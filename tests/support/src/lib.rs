//! Helpers shared by the test suites of several crates (dev-only; never a dependency of a
//! shipped crate): a [`Platform`] on in-memory ports for the Lambda function crates'
//! handler tests.

use kite_engine::services::{Platform, QueueNames};

/// A platform on in-memory ports (queue names without a prefix) and the temporary work
/// root its worker uses (kept alive by the caller).
pub fn platform() -> (Platform, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("a temporary work root");
    let p = Platform::in_memory(QueueNames::with_prefix(""), work.path().to_owned());
    (p, work)
}
