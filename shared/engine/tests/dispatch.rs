//! Batch handling shared by pollers and Lambda functions: FIFO group order inside a batch,
//! poison messages dead-lettered with their error.

use std::sync::Arc;
use std::time::Duration;

use kite_engine::services::dispatch::{DeadLetter, Delivery, Outcome, POISON_AFTER, handle_batch};
use kite_engine::services::poller::Component;
use kite_engine::services::{Platform, QueueNames};
use kite_ports::{Clock, MemoryDocuments, MemoryQueue, MemoryStorage, SystemClock};

async fn platform() -> (Platform, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let p = Platform::in_memory(QueueNames::with_prefix("t-"), work.path().to_owned());
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

/// Counts the writes of execution records.
#[derive(Debug)]
struct CountingDocs {
    inner: MemoryDocuments,
    execution_puts: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl kite_ports::DocumentStore for CountingDocs {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<kite_ports::Versioned<String>>, kite_ports::DocumentError> {
        self.inner.get(table, key).await
    }
    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: kite_ports::Document,
        expected: kite_ports::Expect,
    ) -> Result<u64, kite_ports::DocumentError> {
        if table == "executions" {
            self.execution_puts
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.put(table, key, doc, expected).await
    }
    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: kite_ports::Expect,
    ) -> Result<bool, kite_ports::DocumentError> {
        self.inner.delete(table, key, expected).await
    }
    async fn transact(
        &self,
        ops: Vec<kite_ports::WriteOp>,
    ) -> Result<Vec<Option<u64>>, kite_ports::DocumentError> {
        self.inner.transact(ops).await
    }
    async fn query(
        &self,
        query: &kite_ports::Query,
    ) -> Result<kite_ports::Page, kite_ports::DocumentError> {
        self.inner.query(query).await
    }
    async fn sweep_expired(&self) -> Result<usize, kite_ports::DocumentError> {
        self.inner.sweep_expired().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_of_one_execution_in_a_batch_cost_one_state_write() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let docs = Arc::new(CountingDocs {
        inner: MemoryDocuments::new(clock.clone()),
        execution_puts: Default::default(),
    });
    let work = tempfile::tempdir().unwrap();
    let p = Platform::on_ports(
        Arc::new(MemoryQueue::new(clock.clone())),
        Arc::new(MemoryStorage::new()),
        docs.clone(),
        clock,
        QueueNames::with_prefix("b-"),
        work.path().to_owned(),
    );
    p.ensure_queues().await.unwrap();
    let yaml = r#"id: fan
namespace: kite.batch
tasks:
  - id: all
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo a"]
      - id: b
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo b"]
      - id: c
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo c"]
"#;
    let flow = kite_flow::parse_flow(yaml).flow.unwrap();
    p.repos.flows.save(&flow, yaml).await.unwrap();
    let e = p
        .create_execution(&flow, serde_json::Map::new(), Default::default())
        .await
        .unwrap();
    let receive = |queue: String| {
        let q = p.queue.clone();
        async move {
            q.receive(&queue, 10, Duration::from_secs(30), Duration::ZERO)
                .await
                .unwrap()
        }
    };
    // Start: the three jobs are dispatched.
    let start = receive(p.names.executor.clone()).await;
    assert_eq!(start.len(), 1);
    let out = p.handle_executor_messages(&[start[0].body.as_str()]).await;
    assert!(out.error.is_none(), "{:?}", out.error);
    p.queue
        .delete(&p.names.executor, &start[0].receipt_handle)
        .await
        .unwrap();
    let jobs = receive(p.names.worker.clone()).await;
    assert_eq!(jobs.len(), 3, "three jobs, sent in one batch");
    for job in &jobs {
        p.handle_worker_message(&job.body).await.unwrap();
    }
    // The three results arrive in one batch of the execution's group: one write.
    let results = receive(p.names.executor.clone()).await;
    assert_eq!(results.len(), 3);
    let batch: Vec<Delivery> = results
        .iter()
        .map(|m| delivery(m.id.as_str(), &m.body, 1, m.group_id.as_deref()))
        .collect();
    let before = docs
        .execution_puts
        .load(std::sync::atomic::Ordering::SeqCst);
    let out = handle_batch(&p, Component::Executor, &batch, None).await;
    assert!(out.iter().all(|o| *o == Outcome::Done), "{out:?}");
    let writes = docs
        .execution_puts
        .load(std::sync::atomic::Ordering::SeqCst)
        - before;
    assert_eq!(writes, 1, "one state write for the three events");
    let done = p.execution(&e.id).await.unwrap().unwrap();
    assert_eq!(done.state.current, kite_engine::model::State::Success);

    // Delivered again (the batch's deletes were lost): the same outcome, nothing written.
    let out = handle_batch(&p, Component::Executor, &batch, None).await;
    assert!(out.iter().all(|o| *o == Outcome::Done), "{out:?}");
    assert_eq!(
        docs.execution_puts
            .load(std::sync::atomic::Ordering::SeqCst)
            - before,
        1
    );
}
