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
    let big = "x".repeat(60 * 1024);
    let lines: Vec<LogEntry> = (0..14).map(|i| line("e1", i, &big)).collect();
    logs.append(&lines).await.unwrap();
    let n = items(&docs, "e1").await;
    assert!(n >= 4, "840 KB of lines in {n} items");
    assert_eq!(logs.of_execution("e1").await.unwrap(), lines);
}

async fn item_sizes(docs: &MemoryDocuments, exec: &str) -> Vec<usize> {
    let q = Query::new("logs", "execution", exec)
        .range(RangeCond::All)
        .limit(1000);
    docs.query(&q)
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.doc.value.len() + i.key.len())
        .collect()
}

#[tokio::test]
async fn a_one_megabyte_line_is_truncated_with_a_marker_and_the_later_lines_are_kept() {
    let (docs, logs) = store();
    let huge = "x".repeat(1_048_576);
    logs.append(&[line("e1", 1, &huge), line("e1", 2, "after")])
        .await
        .expect("the append succeeds");
    logs.append(&[line("e1", 3, "later")]).await.unwrap();
    let back = logs.of_execution("e1").await.unwrap();
    let messages: Vec<&str> = back.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages.len(), 3);
    assert!(messages[0].starts_with(&"x".repeat(65_536)));
    assert_eq!(
        &messages[0][65_536..],
        " … [truncated: 1,048,576 bytes, first 65,536 kept]"
    );
    assert_eq!(&messages[1..], ["after", "later"]);
    for size in item_sizes(&docs, "e1").await {
        assert!(size < kite_ports::documents::MAX_ITEM_BYTES, "{size}");
    }
}

#[tokio::test]
async fn a_line_whose_json_escaping_grows_it_is_cut_to_fit_an_item() {
    let (docs, logs) = store();
    // 60 KiB of control characters: `\u0001` in JSON, six bytes each.
    let escaped = "\u{1}".repeat(60 * 1024);
    let lines: Vec<LogEntry> = (0..10).map(|i| line("e1", i, &escaped)).collect();
    logs.append(&lines).await.expect("stored");
    let back = logs.of_execution("e1").await.unwrap();
    assert_eq!(back.len(), 10);
    assert!(
        back[0].message.ends_with("kept]"),
        "{}",
        back[0].message.len()
    );
    for size in item_sizes(&docs, "e1").await {
        assert!(
            size <= kite_engine::repo::logs::CHUNK_BYTES + 1024,
            "{size}"
        );
    }
}

#[tokio::test]
async fn an_append_the_store_refuses_for_good_does_not_fail_forever() {
    let (_docs, logs) = store();
    // An id too long for an item key: every write of it is refused, and would be on every
    // retry; the append gives up on those lines instead of failing forever.
    let long_id = "e".repeat(1100);
    logs.append(&[line(&long_id, 1, "lost"), line("e2", 1, "kept")])
        .await
        .expect("not an error to retry");
    assert_eq!(logs.of_execution("e2").await.unwrap().len(), 1);
}

#[tokio::test]
async fn many_items_stream_back_in_time_order_across_pages() {
    let (_docs, logs) = store();
    // 300 appends whose lines overlap in time: each append has a line at its own second
    // and one 100 seconds later.
    let mut all = Vec::new();
    for i in 0..300u32 {
        let mut early = line("e1", 0, &format!("early {i}"));
        early.timestamp += chrono::Duration::seconds(i64::from(i));
        let mut late = line("e1", 0, &format!("late {i}"));
        late.timestamp += chrono::Duration::seconds(i64::from(i) + 100);
        logs.append(&[early.clone(), late.clone()]).await.unwrap();
        all.push(early);
        all.push(late);
    }
    all.sort_by_key(|l| l.timestamp);
    let back = logs.of_execution("e1").await.unwrap();
    assert_eq!(back.len(), 600);
    let times: Vec<_> = back.iter().map(|l| l.timestamp).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert_eq!(back, all);
}
