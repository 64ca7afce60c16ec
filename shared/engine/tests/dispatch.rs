//! Batch handling shared by pollers and Lambda functions: FIFO group order inside a batch,
//! poison messages dead-lettered with their error.

use std::sync::Arc;
use std::time::Duration;

use kite_engine::executor::Runtime;
use kite_engine::repo::Repos;
use kite_engine::services::dispatch::{DeadLetter, Delivery, Outcome, POISON_AFTER, handle_batch};
use kite_engine::services::host::PlatformHost;
use kite_engine::services::poller::Component;
use kite_engine::services::{Platform, QueueNames};
use kite_ports::{Clock, MemoryDocuments, MemoryQueue, MemoryStorage, SystemClock};

async fn platform() -> (Platform, tempfile::TempDir) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let storage = Arc::new(MemoryStorage::new());
    let repos = Repos::new(
        Arc::new(MemoryDocuments::new(clock.clone())),
        storage.clone(),
    );
    let host = PlatformHost::new(&[], storage.clone(), repos.clone(), clock.clone());
    let rt = Runtime::new(Arc::new(host), serde_json::Map::new(), &[]);
    let work = tempfile::tempdir().unwrap();
    let p = Platform::new(
        Arc::new(MemoryQueue::new(clock.clone())),
        storage,
        repos,
        clock,
        rt,
        QueueNames::with_prefix("t-"),
        work.path().to_owned(),
    );
    p.ensure_queues().await.unwrap();
    (p, work)
}

fn delivery(id: &str, body: &str, receive_count: u32, group: Option<&str>) -> Delivery {
    Delivery {
        id: id.into(),
        body: body.into(),
        receive_count,
        group_id: group.map(Into::into),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_holds_back_the_rest_of_its_group_only() {
    let (p, _work) = platform().await;
    let batch = [
        delivery("1", "not json", 1, Some("exec-a")),
        delivery("2", "not json either", 1, Some("exec-a")),
        delivery("3", "{}", 1, Some("exec-b")),
    ];
    let out = handle_batch(&p, Component::Executor, &batch, None).await;
    assert!(
        matches!(&out[0], Outcome::Retry(e) if e.contains("executor")),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], Outcome::Retry(e) if e.contains("earlier message of group exec-a")),
        "{out:?}"
    );
    // Group exec-b was handled (and failed on its own account, not skipped).
    assert!(
        matches!(&out[2], Outcome::Retry(e) if !e.contains("earlier message")),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_land_in_the_dead_letter_queue_with_their_error() {
    let (p, _work) = platform().await;
    let batch = [
        delivery("m1", "garbage", POISON_AFTER - 1, None),
        delivery("m2", "garbage", POISON_AFTER, None),
    ];
    let out = handle_batch(&p, Component::Worker, &batch, None).await;
    assert!(matches!(out[0], Outcome::Retry(_)), "{out:?}");
    assert!(matches!(out[1], Outcome::DeadLettered(_)), "{out:?}");
    let dlq = QueueNames::dead_letter_of(&p.names.worker);
    let got = p
        .queue
        .receive(&dlq, 10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let letter: DeadLetter = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(letter.message_id, "m2");
    assert_eq!(letter.queue, p.names.worker);
    assert_eq!(letter.body, "garbage");
    assert_eq!(letter.receive_count, POISON_AFTER);
    assert!(letter.error.contains("worker"), "{}", letter.error);

    // On the FIFO executor queue, the dead letter keeps the group.
    let batch = [delivery("m3", "garbage", POISON_AFTER, Some("exec-z"))];
    let out = handle_batch(&p, Component::Executor, &batch, None).await;
    assert!(matches!(out[0], Outcome::DeadLettered(_)), "{out:?}");
    let dlq = QueueNames::dead_letter_of(&p.names.executor);
    let got = p
        .queue
        .receive(&dlq, 10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got[0].group_id.as_deref(), Some("exec-z"));
}
