//! The contract suites on the embedded implementations, plus what only a
//! durable store must do: survive a killed process, and keep its tables
//! from growing without bound.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kite_embedded::{DiskStorage, Embedded};
use kite_ports::contract::{self, Fixture};
use kite_ports::{
    Document, DocumentStore, Expect, ManualClock, OutgoingMessage, Queue, QueueError, QueueSpec,
    Storage, StorageKey,
};
use tempfile::TempDir;

fn open(clock: ManualClock) -> (Embedded, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = Embedded::open(dir.path().join("kite.db"), Arc::new(clock)).expect("open db");
    (embedded, dir)
}

mod queue {
    use super::*;

    kite_ports::queue_contract_tests!(|clock: ManualClock| async move {
        let (embedded, dir) = open(clock);
        Fixture::with_guard(Arc::new(embedded.queue()) as Arc<dyn Queue>, dir)
    });
}

mod documents {
    use super::*;

    kite_ports::document_contract_tests!(|clock: ManualClock| async move {
        let (embedded, dir) = open(clock);
        Fixture::with_guard(
            Arc::new(embedded.documents()) as Arc<dyn DocumentStore>,
            dir,
        )
    });
}

mod storage {
    use super::*;

    kite_ports::storage_contract_tests!(|_clock: ManualClock| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = DiskStorage::open(dir.path()).await.expect("open storage");
        Fixture::with_guard(Arc::new(storage) as Arc<dyn Storage>, dir)
    });
}

const VT: Duration = Duration::from_secs(60);
const CHILD_ENV: &str = "KITE_EMBEDDED_CRASH_CHILD";
const READY: &str = "KITE_CRASH_CHILD_READY";

/// Writes acknowledged state, prints READY, then waits to be killed. Only
/// does anything when started by `killed_process_loses_nothing_acknowledged`.
#[tokio::test]
#[ignore = "helper process of killed_process_loses_nothing_acknowledged"]
async fn crash_child() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return;
    };
    let root = std::path::PathBuf::from(root);
    let clock = contract::clock();
    let embedded = Embedded::open(root.join("kite.db"), Arc::new(clock)).expect("open db");
    let queue = embedded.queue();
    queue
        .ensure_queue(&QueueSpec::fifo("work.fifo"))
        .await
        .expect("queue");
    for body in ["first", "second", "third"] {
        queue
            .send("work.fifo", OutgoingMessage::new(body).in_group(body))
            .await
            .expect("send");
    }
    let leased = queue
        .receive("work.fifo", 1, VT, Duration::ZERO)
        .await
        .expect("receive");
    assert_eq!(leased.len(), 1);
    embedded
        .documents()
        .put(
            "executions",
            "e1",
            Document::new(r#"{"state":"RUNNING"}"#),
            Expect::Absent,
        )
        .await
        .expect("put");
    let storage = DiskStorage::open(root.join("storage"))
        .await
        .expect("storage");
    storage
        .put(
            &StorageKey::new("ns/flow/out.txt").expect("key"),
            Bytes::from_static(b"output"),
        )
        .await
        .expect("put object");
    println!("{READY}");
    tokio::time::sleep(Duration::from_secs(60)).await;
    panic!("the crash child should have been killed");
}

/// Kills a process (SIGKILL, no shutdown of any kind) right after it was
/// acknowledged writes, reopens the same files: everything is there, and the
/// message it had in flight comes back after its visibility timeout.
#[test]
fn killed_process_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(READY));
    // SIGKILL: no destructor, no checkpoint, no flush of anything.
    let _ = child.kill();
    child.wait().expect("reap child");
    assert!(ready, "the child died before acknowledging its writes");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let clock = contract::clock();
        let embedded =
            Embedded::open(dir.path().join("kite.db"), Arc::new(clock.clone())).expect("reopen");
        let queue = embedded.queue();
        assert_eq!(queue.approximate_len("work.fifo").await.expect("len"), 3);
        let visible = queue
            .receive("work.fifo", 10, VT, Duration::ZERO)
            .await
            .expect("receive");
        let mut bodies: Vec<_> = visible.iter().map(|m| m.body.as_str()).collect();
        bodies.sort_unstable();
        assert_eq!(
            bodies,
            ["second", "third"],
            "the leased one is still in flight"
        );
        clock.advance(VT);
        let back = queue
            .receive("work.fifo", 10, VT, Duration::ZERO)
            .await
            .expect("receive");
        let first = back
            .iter()
            .find(|m| m.body == "first")
            .expect("the in-flight message reappears after its timeout");
        assert_eq!(first.receive_count, 2);

        let doc = embedded
            .documents()
            .get("executions", "e1")
            .await
            .expect("get")
            .expect("the acknowledged document survived");
        assert_eq!(doc.version, 1);

        let storage = DiskStorage::open(dir.path().join("storage"))
            .await
            .expect("storage");
        assert_eq!(
            storage
                .get(&StorageKey::new("ns/flow/out.txt").expect("key"))
                .await
                .expect("object survived"),
            Bytes::from_static(b"output")
        );
    });
}

/// Dropping every handle without any shutdown and reopening keeps state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_drop_keeps_queues_and_documents() {
    let clock = contract::clock();
    let (embedded, dir) = open(clock.clone());
    let path = embedded.path().to_owned();
    let queue = embedded.queue();
    queue
        .ensure_queue(&QueueSpec::standard("jobs"))
        .await
        .expect("queue");
    queue
        .send("jobs", OutgoingMessage::new("a"))
        .await
        .expect("send");
    queue
        .send("jobs", OutgoingMessage::new("b"))
        .await
        .expect("send");
    let leased = queue
        .receive("jobs", 1, VT, Duration::ZERO)
        .await
        .expect("receive");
    embedded
        .documents()
        .put("flows", "f", Document::new("{}"), Expect::Absent)
        .await
        .expect("put");
    drop((queue, embedded));

    let reopened = Embedded::open(&path, Arc::new(clock.clone())).expect("reopen");
    let queue = reopened.queue();
    assert_eq!(queue.approximate_len("jobs").await.expect("len"), 2);
    let visible = queue
        .receive("jobs", 10, VT, Duration::ZERO)
        .await
        .expect("receive");
    assert_eq!(visible.len(), 1, "only the unleased message is visible");
    queue
        .delete("jobs", &leased[0].receipt_handle)
        .await
        .expect("receipts survive a reopen");
    assert_eq!(
        reopened
            .documents()
            .get("flows", "f")
            .await
            .expect("get")
            .map(|v| v.version),
        Some(1)
    );
    drop(dir);
}

/// The local implementations' strict stale-receipt semantics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_receipts_are_refused_and_leave_the_message() {
    let clock = contract::clock();
    let (embedded, _dir) = open(clock.clone());
    let queue = embedded.queue();
    queue
        .ensure_queue(&QueueSpec::standard("q"))
        .await
        .expect("queue");
    queue
        .send("q", OutgoingMessage::new("m"))
        .await
        .expect("send");
    let first = queue
        .receive("q", 1, VT, Duration::ZERO)
        .await
        .expect("receive");
    clock.advance(VT);
    let second = queue
        .receive("q", 1, VT, Duration::ZERO)
        .await
        .expect("receive");
    let (old, new) = (&first[0].receipt_handle, &second[0].receipt_handle);
    assert!(matches!(
        queue.delete("q", old).await,
        Err(QueueError::StaleReceipt { .. })
    ));
    assert!(matches!(
        queue.change_visibility("q", old, Duration::ZERO).await,
        Err(QueueError::StaleReceipt { .. })
    ));
    assert_eq!(queue.approximate_len("q").await.expect("len"), 1);
    queue
        .delete("q", new)
        .await
        .expect("the current receipt deletes");
    assert!(matches!(
        queue.change_visibility("q", new, Duration::ZERO).await,
        Err(QueueError::MessageNotInFlight { .. })
    ));
}

/// Deleted messages and expired deduplication ids leave the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_do_not_grow_without_bound() {
    let clock = contract::clock();
    let (embedded, _dir) = open(clock.clone());
    let queue = embedded.queue();
    queue
        .ensure_queue(&QueueSpec::fifo("churn.fifo"))
        .await
        .expect("queue");
    for round in 0..10 {
        let msgs = (0..10)
            .map(|i| {
                OutgoingMessage::new(format!("m{round}-{i}"))
                    .in_group(format!("g{i}"))
                    .with_dedup_id(format!("d{round}-{i}"))
            })
            .collect();
        queue.send_batch("churn.fifo", msgs).await.expect("send");
        let got = queue
            .receive("churn.fifo", 10, VT, Duration::ZERO)
            .await
            .expect("receive");
        let receipts: Vec<_> = got.into_iter().map(|m| m.receipt_handle).collect();
        let results = queue
            .delete_batch("churn.fifo", &receipts)
            .await
            .expect("delete");
        assert!(results.iter().all(Result::is_ok));
    }
    let count = |sql: &str| -> i64 {
        let conn = rusqlite::Connection::open(embedded.path()).expect("reader");
        conn.query_row(sql, [], |row| row.get(0)).expect("count")
    };
    assert_eq!(
        count("SELECT count(*) FROM messages"),
        0,
        "rows are deleted"
    );
    assert_eq!(
        count("SELECT count(*) FROM dedup"),
        100,
        "within the window"
    );
    clock.advance(kite_ports::queue::DEDUP_WINDOW);
    queue
        .send(
            "churn.fifo",
            OutgoingMessage::new("last")
                .in_group("g")
                .with_dedup_id("last"),
        )
        .await
        .expect("send");
    assert_eq!(
        count("SELECT count(*) FROM dedup"),
        1,
        "expired deduplication ids are pruned"
    );
}

/// Many tasks on one database at once: every operation completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_database() {
    let clock = contract::clock();
    let (embedded, _dir) = open(clock);
    let queue = Arc::new(embedded.queue());
    let documents = Arc::new(embedded.documents());
    queue
        .ensure_queue(&QueueSpec::standard("busy"))
        .await
        .expect("queue");
    let mut tasks = Vec::new();
    for task in 0..16 {
        let (queue, documents) = (Arc::clone(&queue), Arc::clone(&documents));
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                queue
                    .send("busy", OutgoingMessage::new(format!("{task}-{i}")))
                    .await
                    .expect("send");
                documents
                    .put(
                        "items",
                        &format!("{task}-{i}"),
                        Document::new("{}"),
                        Expect::Absent,
                    )
                    .await
                    .expect("put");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(queue.approximate_len("busy").await.expect("len"), 160);
}
