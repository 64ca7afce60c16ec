// A platform on in-memory ports for the function crates' handler tests (included with `include!`).

fn platform() -> (kite_engine::services::Platform, tempfile::TempDir) {
    use std::sync::Arc;
    let clock: Arc<dyn kite_ports::Clock> = Arc::new(kite_ports::SystemClock);
    let storage = Arc::new(kite_ports::MemoryStorage::new());
    let repos = kite_engine::repo::Repos::new(
        Arc::new(kite_ports::MemoryDocuments::new(clock.clone())),
        storage.clone(),
    );
    let host = kite_engine::services::host::PlatformHost::new(
        &[],
        storage.clone(),
        repos.clone(),
        clock.clone(),
    );
    let rt = kite_engine::executor::Runtime::new(Arc::new(host), serde_json::Map::new(), &[]);
    let work = tempfile::tempdir().unwrap();
    let p = kite_engine::services::Platform::new(
        Arc::new(kite_ports::MemoryQueue::new(clock.clone())),
        storage,
        repos,
        clock,
        rt,
        kite_engine::services::QueueNames::with_prefix(""),
        work.path().to_owned(),
    );
    (p, work)
}
