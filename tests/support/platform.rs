// A platform on in-memory ports for the function crates' handler tests (included with `include!`).

fn platform() -> (kite_engine::services::Platform, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let p = kite_engine::services::Platform::in_memory(
        kite_engine::services::QueueNames::with_prefix(""),
        work.path().to_owned(),
    );
    (p, work)
}
