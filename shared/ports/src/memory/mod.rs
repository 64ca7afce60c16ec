//! In-memory twins of the ports.
//!
//! They implement the exact semantics of the contract suites (they are the
//! reference the other implementations are compared with), keep everything
//! in process memory behind a `std::sync::Mutex` that is never held across
//! an `.await`, and read time only through the injected [`Clock`](crate::Clock).
//! Nothing survives the process: use them for unit tests of the engine.

mod documents;
mod queue;
mod storage;

pub use documents::MemoryDocuments;
pub use queue::MemoryQueue;
pub use storage::MemoryStorage;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering the data if another thread panicked while
/// holding it (every critical section leaves the state consistent before
/// anything can panic).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
