//! The contract suites run against the in-memory twins.

use std::sync::Arc;

use kite_ports::contract::Fixture;
use kite_ports::{
    DocumentStore, ManualClock, MemoryDocuments, MemoryQueue, MemoryStorage, Queue, Storage,
};

mod queue {
    use super::*;

    kite_ports::queue_contract_tests!(|clock: ManualClock| async move {
        Fixture::new(Arc::new(MemoryQueue::new(Arc::new(clock))) as Arc<dyn Queue>)
    });
}

mod storage {
    use super::*;

    kite_ports::storage_contract_tests!(|_clock: ManualClock| async move {
        Fixture::new(Arc::new(MemoryStorage::new()) as Arc<dyn Storage>)
    });
}

mod documents {
    use super::*;

    kite_ports::document_contract_tests!(|clock: ManualClock| async move {
        Fixture::new(Arc::new(MemoryDocuments::new(Arc::new(clock))) as Arc<dyn DocumentStore>)
    });
}

/// The sequential runners cover the same cases (and keep them in sync with
/// the macros' lists: a case missing from either would show up here or in
/// the per-case tests above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_suites_sequentially() {
    kite_ports::contract::queue::run_all(|clock: ManualClock| async move {
        Fixture::new(Arc::new(MemoryQueue::new(Arc::new(clock))) as Arc<dyn Queue>)
    })
    .await;
    kite_ports::contract::storage::run_all(|_clock: ManualClock| async move {
        Fixture::new(Arc::new(MemoryStorage::new()) as Arc<dyn Storage>)
    })
    .await;
    kite_ports::contract::documents::run_all(|clock: ManualClock| async move {
        Fixture::new(Arc::new(MemoryDocuments::new(Arc::new(clock))) as Arc<dyn DocumentStore>)
    })
    .await;
}
