//! Execution records in the document store: small ones as JSON, larger ones deflated (fewer
//! billed kilobytes per write), very large ones in internal storage; all read back equal.

use std::sync::Arc;

use kite_engine::executor::Record;
use kite_engine::model::Execution;
use kite_engine::repo::Repos;
use kite_ports::{DocumentStore, Expect, MemoryDocuments, MemoryStorage, SystemClock};
use serde_json::{Map, Value};

fn record(id: &str, input_bytes: usize) -> Record {
    let flow = kite_flow::parse_flow(
        "id: f\nnamespace: kite.repo\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .flow
    .expect("valid flow");
    let mut inputs = Map::new();
    inputs.insert(
        "text".into(),
        Value::String("kite ".repeat(input_bytes / 5)),
    );
    let now = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default();
    Record::new(Execution::new(
        id.to_owned(),
        &flow,
        inputs,
        Vec::new(),
        now,
    ))
}

#[tokio::test]
async fn records_round_trip_plain_deflated_and_in_storage() {
    let docs: Arc<dyn DocumentStore> = Arc::new(MemoryDocuments::new(Arc::new(SystemClock)));
    let repos = Repos::new(docs.clone(), Arc::new(MemoryStorage::new()));
    for (id, size, stored_as) in [
        ("small", 100, None),
        ("medium", 50_000, Some("{\"z\":")),
        ("large", 400_000, Some("{\"bodyRef\":")),
    ] {
        let rec = record(id, size);
        repos.executions.put(&rec, Expect::Absent).await.unwrap();
        let raw = docs.get("executions", id).await.unwrap().unwrap().value;
        let head = &raw[..raw.len().min(80)];
        match stored_as {
            Some(prefix) => assert!(raw.starts_with(prefix), "{id}: {head}"),
            None => assert!(raw.contains("\"execution\""), "{id} is plain JSON: {head}"),
        }
        if id == "medium" {
            assert!(
                raw.len() < 5_000,
                "50 KB of repetitive JSON deflates: {}",
                raw.len()
            );
        }
        let (back, version) = repos.executions.get(id).await.unwrap().unwrap();
        assert_eq!(back, rec, "{id}");
        assert_eq!(version, 1);
        let listed = repos
            .executions
            .list("kite.repo", Some("f"), 10)
            .await
            .unwrap();
        assert!(listed.iter().any(|r| r.execution.id == id), "{id} listed");
    }
}
