//! The engine's repositories on [`DynamoDocuments`] (moto) hold an execution with 10,000
//! task runs: its body goes to storage (over the 300 KB inline limit), the DynamoDB item
//! keeps a reference; it reads back equal, updates under a version condition and is listed
//! by namespace and by flow. A record just under the inline limit round-trips inside one
//! DynamoDB item.

#![cfg(feature = "testing")]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use kite_aws::dynamo::create_table;
use kite_aws::resources::Resources;
use kite_aws::{DynamoDocuments, testing};
use kite_engine::executor::Record;
use kite_engine::model::execution::Metadata;
use kite_engine::model::{Attempt, Execution, State, StateHistory, TaskRun};
use kite_engine::repo::executions::INLINE_LIMIT;
use kite_engine::repo::{RepoError, Repos};
use kite_ports::{
    DocumentError, DocumentStore, Expect, MemoryStorage, Storage, StorageKey, SystemClock,
};
use serde_json::{Map, json};

async fn repos() -> (Repos, Arc<dyn DocumentStore>, Arc<MemoryStorage>) {
    let clients = testing::clients().await;
    let def = Resources::load().table;
    let name = clients.config.name(&def.name);
    create_table(&clients, &def, &name)
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e}"));
    let docs: Arc<dyn DocumentStore> =
        Arc::new(DynamoDocuments::new(&clients, name, Arc::new(SystemClock)));
    let storage = Arc::new(MemoryStorage::new());
    let repos = Repos::new(docs.clone(), storage.clone() as Arc<dyn Storage>);
    (repos, docs, storage)
}

fn start() -> DateTime<Utc> {
    kite_ports::contract::start_time()
}

fn task_run(execution_id: &str, i: usize) -> TaskRun {
    let at = start() + Duration::milliseconds(i as i64);
    let mut state = StateHistory::new(State::Created, at);
    state.set(State::Running, at);
    state.set(State::Success, at + Duration::milliseconds(5));
    let mut attempt = StateHistory::new(State::Running, at);
    attempt.set(State::Success, at + Duration::milliseconds(5));
    let mut outputs = Map::new();
    outputs.insert("index".into(), json!(i));
    outputs.insert("value".into(), json!(format!("item-{i}")));
    TaskRun {
        id: format!("tr{i:05}"),
        execution_id: execution_id.to_owned(),
        namespace: "company.team".into(),
        flow_id: "fan-out".into(),
        task_id: "each".into(),
        parent_task_run_id: Some("tr-parent".into()),
        value: Some(format!("\"item-{i}\"")),
        attempts: vec![Attempt { state: attempt }],
        outputs,
        state,
        iteration: None,
    }
}

fn record(id: &str, task_runs: usize) -> Record {
    let mut state = StateHistory::new(State::Created, start());
    state.set(State::Running, start());
    Record::new(Execution {
        id: id.to_owned(),
        namespace: "company.team".into(),
        flow_id: "fan-out".into(),
        flow_revision: 3,
        state,
        task_run_list: (0..task_runs).map(|i| task_run(id, i)).collect(),
        inputs: Map::new(),
        outputs: Map::new(),
        labels: Vec::new(),
        parent_id: None,
        original_id: Some(id.to_owned()),
        trigger: None,
        schedule_date: None,
        metadata: Metadata {
            attempt_number: 1,
            original_created_date: Some(start()),
        },
        index: Default::default(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_task_runs() {
    let (repos, docs, storage) = repos().await;
    let id = "5x2kE7mPqRs9tUvWxYz0ab";
    let mut rec = record(id, 10_000);
    let size = serde_json::to_string(&rec).map_or(0, |j| j.len());
    assert!(size > INLINE_LIMIT, "the record is {size} bytes");

    assert_eq!(
        repos.executions.put(&rec, Expect::Absent).await.ok(),
        Some(1)
    );
    let item = docs
        .get("executions", id)
        .await
        .unwrap_or_else(|e| panic!("get item: {e}"))
        .unwrap_or_else(|| panic!("no item"));
    assert!(
        item.value.contains("bodyRef") && item.value.len() < 1000,
        "the item holds a reference: {}",
        item.value
    );
    let (read, version) = repos
        .executions
        .get(id)
        .await
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("not found"));
    assert_eq!(version, 1);
    assert_eq!(read.execution.task_run_list.len(), 10_000);
    assert!(read == rec, "the record reads back equal");

    // Update under a version condition.
    rec.execution
        .state
        .set(State::Success, start() + Duration::seconds(60));
    rec.execution.task_run_list[9_999]
        .outputs
        .insert("last".into(), json!(true));
    assert_eq!(
        repos.executions.put(&rec, Expect::Version(1)).await.ok(),
        Some(2)
    );
    match repos.executions.put(&rec, Expect::Version(1)).await {
        Err(RepoError::Store(DocumentError::Conflict { actual, .. })) => {
            assert_eq!(actual, Some(2))
        }
        other => panic!("a stale write should conflict, got {other:?}"),
    }
    let (read, version) = repos
        .executions
        .get(id)
        .await
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("not found"));
    assert_eq!(version, 2);
    assert!(read == rec, "the update reads back equal");
    assert_eq!(read.execution.state.current, State::Success);

    // Listed by namespace and by flow.
    for flow in [None, Some("fan-out")] {
        let listed = repos
            .executions
            .list("company.team", flow, 10)
            .await
            .unwrap_or_else(|e| panic!("list: {e}"));
        assert_eq!(listed.len(), 1, "{flow:?}");
        assert!(listed[0] == rec, "the listed record is the latest");
    }
    assert!(
        repos
            .executions
            .list("company.other", None, 10)
            .await
            .unwrap_or_else(|e| panic!("list: {e}"))
            .is_empty()
    );

    // One body object per write.
    let prefix = StorageKey::new(format!("_executions/{id}")).unwrap_or_else(|e| panic!("{e}"));
    let bodies = storage
        .list(&prefix)
        .await
        .unwrap_or_else(|e| panic!("list storage: {e}"));
    assert_eq!(bodies.len(), 3, "{bodies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_just_under_the_inline_limit_stays_in_its_item() {
    let (repos, docs, storage) = repos().await;
    let id = "inline0000000000000001";
    let mut n = 100;
    let mut rec = record(id, n);
    let per_run = serde_json::to_string(&rec).map_or(1, |j| j.len()) / n;
    n = (INLINE_LIMIT - 5_000) / per_run;
    rec = record(id, n);
    let size = serde_json::to_string(&rec).map_or(0, |j| j.len());
    assert!(
        size <= INLINE_LIMIT && size > INLINE_LIMIT - 20_000,
        "{size} bytes"
    );
    assert_eq!(
        repos.executions.put(&rec, Expect::Absent).await.ok(),
        Some(1)
    );
    let item = docs
        .get("executions", id)
        .await
        .unwrap_or_else(|e| panic!("get item: {e}"))
        .unwrap_or_else(|| panic!("no item"));
    assert!(
        item.value.starts_with("{\"z\":") && item.value.len() < size / 4,
        "stored inline, deflated: {} bytes for {size}",
        item.value.len()
    );
    let (read, _) = repos
        .executions
        .get(id)
        .await
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("not found"));
    assert!(read == rec);
    let listed = repos
        .executions
        .list("company.team", Some("fan-out"), 10)
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(listed.len(), 1);
    assert!(listed[0] == rec);
    let root = StorageKey::new("_executions").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        storage
            .list(&root)
            .await
            .map(|l| l.is_empty())
            .unwrap_or(true),
        "nothing went to storage"
    );
}
