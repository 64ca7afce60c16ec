//! The log repository: one item per append, idempotent appends, large appends split, lines
//! read back in time order.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use kite_engine::model::LogEntry;
use kite_engine::repo::LogRepo;
use kite_ports::{Clock, DocumentStore, MemoryDocuments, Query, RangeCond, SystemClock};

fn line(exec: &str, second: u32, message: &str) -> LogEntry {
    LogEntry {
        namespace: "kite.logs".into(),
        flow_id: "f".into(),
        task_id: Some("t".into()),
        execution_id: exec.into(),
        task_run_id: Some("run".into()),
        attempt_number: Some(0),
        timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second).unwrap(),
        level: kite_flow::plugin::LogLevel::Info,
        thread: "worker".into(),
        message: message.into(),
    }
}

fn store() -> (Arc<MemoryDocuments>, LogRepo) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let docs = Arc::new(MemoryDocuments::new(clock));
    (docs.clone(), LogRepo::new(docs))
}

async fn items(docs: &MemoryDocuments, exec: &str) -> usize {
    let q = Query::new("logs", "execution", exec)
        .range(RangeCond::All)
        .limit(1000);
    docs.query(&q).await.unwrap().items.len()
}

#[tokio::test]
async fn an_append_is_one_item_and_appending_it_again_stores_nothing() {
    let (docs, logs) = store();
    let lines = [
        line("e1", 1, "one"),
        line("e1", 2, "two"),
        line("e1", 3, "three"),
    ];
    logs.append(&lines).await.unwrap();
    assert_eq!(items(&docs, "e1").await, 1);
    logs.append(&lines).await.unwrap();
    assert_eq!(
        items(&docs, "e1").await,
        1,
        "the same lines again: no new item"
    );
    let back = logs.of_execution("e1").await.unwrap();
    assert_eq!(back, lines);
}

#[tokio::test]
async fn lines_of_several_appends_and_executions_come_back_in_time_order() {
    let (docs, logs) = store();
    logs.append(&[line("e1", 5, "late"), line("e2", 1, "other")])
        .await
        .unwrap();
    logs.append(&[line("e1", 1, "early"), line("e1", 9, "last")])
        .await
        .unwrap();
    assert_eq!(items(&docs, "e1").await, 2);
    assert_eq!(items(&docs, "e2").await, 1);
    let messages: Vec<String> = logs
        .of_execution("e1")
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert_eq!(messages, ["early", "late", "last"]);
}

#[tokio::test]
async fn a_large_append_is_split_into_items_under_the_limit() {
    let (docs, logs) = store();
    let big = "x".repeat(100 * 1024);
    let lines: Vec<LogEntry> = (0..8).map(|i| line("e1", i, &big)).collect();
    logs.append(&lines).await.unwrap();
    let n = items(&docs, "e1").await;
    assert!(n >= 4, "800 KB of lines in {n} items");
    assert_eq!(logs.of_execution("e1").await.unwrap(), lines);
}
