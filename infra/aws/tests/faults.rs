//! Faults on the AWS path (moto): every message delivered twice, and handlers "killed"
//! between their state write and their sends (every other send fails, so the handler stops
//! there and its message is redelivered), end in the same final executions as a clean run:
//! same states, same task runs, same attempts. The handlers run through the engine's
//! pollers, whose batch dispatch is the one the Lambda functions use.
//!
//! Run with `cargo test -p kite-aws --features testing --test faults`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kite_aws::testing;
use kite_aws::{DynamoDocuments, S3Storage, SqsQueue};
use kite_engine::services::{CreateOptions, Platform, QueueNames, poller};
use kite_ports::faulty::{FaultyQueue, SendFault};
use kite_ports::{Clock, OutgoingMessage, Queue, QueueError, SystemClock};

/// What the test queue does to sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Every message is sent twice (FIFO: under a second deduplication id).
    Duplicate,
    /// The handler is killed after its state write, before a send: every other distinct
    /// message fails the first time it is sent (the handler stops there and its message is
    /// redelivered), and goes through when the redelivered handler sends it again.
    CrashBeforeSend,
}

#[derive(Debug)]
struct Faults {
    fault: Fault,
    armed: AtomicBool,
    sends: AtomicU64,
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl SendFault for Faults {
    fn before_send(&self, queue: &str, msgs: &[&OutgoingMessage]) -> Result<(), QueueError> {
        if self.fault != Fault::CrashBeforeSend || !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut seen = self.seen.lock().unwrap();
        let mut crash = false;
        for m in msgs {
            if seen.insert(m.body.clone())
                && self.sends.fetch_add(1, Ordering::SeqCst).is_multiple_of(2)
            {
                crash = true;
            }
        }
        if crash {
            return Err(QueueError::Backend {
                queue: queue.to_owned(),
                operation: "send",
                source: "injected crash before the send".into(),
            });
        }
        Ok(())
    }

    fn duplicate(&self, msg: &OutgoingMessage) -> Option<OutgoingMessage> {
        if self.fault != Fault::Duplicate {
            return None;
        }
        let mut twin = msg.clone();
        if let Some(d) = &msg.dedup_id {
            twin.dedup_id = Some(format!("{d}-dup"));
        }
        Some(twin)
    }
}

const FLOWS: &[&str] = &[
    r#"id: seq
namespace: kite.faults
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: start
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo '::{\"outputs\":{\"n\":7}}::'"]
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.shell.vars.n * 6 }}"
"#,
    r#"id: par
namespace: kite.faults
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo a"]
      - id: b
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.5S
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: c
"#,
    r#"id: each
namespace: kite.faults
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2, 3, 4, 5, 6]
    concurrencyLimit: 3
    tasks:
      - id: item
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo {{ taskrun.value }}"]
"#,
    r#"id: child
namespace: kite.faults
tasks:
  - id: hi
    type: io.kestra.plugin.core.debug.Return
    format: hi
"#,
    r#"id: parent
namespace: kite.faults
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: kite.faults
    flowId: child
    wait: true
"#,
    r#"id: flaky
namespace: kite.faults
tasks:
  - id: fails
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["exit 1"]
    retry:
      type: constant
      interval: PT0.2S
      maxAttempt: 2
errors:
  - id: handled
    type: io.kestra.plugin.core.log.Log
    message: failed as expected
"#,
];

/// (flow, final state, sorted (task id, state, attempts) of every task run)
type Outcome = Vec<(String, String, Vec<(String, String, usize)>)>;

/// A platform on the AWS adapters of `clients`, sending through `queue`.
fn platform_on(
    clients: &kite_aws::Clients,
    queue: Arc<dyn Queue>,
) -> (Arc<Platform>, tempfile::TempDir) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let work = tempfile::tempdir().unwrap();
    let platform = Arc::new(Platform::on_ports(
        queue,
        Arc::new(S3Storage::new(clients, clients.config.name("storage"))),
        Arc::new(DynamoDocuments::new(
            clients,
            clients.config.name("documents"),
            clock.clone(),
        )),
        clock,
        QueueNames::with_prefix(""),
        work.path().to_owned(),
    ));
    (platform, work)
}

async fn run(fault: Fault) -> Outcome {
    let clients = testing::clients().await;
    kite_aws::infra::up(&clients, &kite_aws::resources::Resources::load())
        .await
        .expect("infra up");
    let queue = Arc::new(FaultyQueue::new(
        Arc::new(SqsQueue::new(&clients)),
        Faults {
            fault,
            armed: AtomicBool::new(false),
            sends: AtomicU64::new(0),
            seen: Default::default(),
        },
    ));
    let (platform, _work) = platform_on(&clients, queue.clone());
    let mut ids = Vec::new();
    for yaml in FLOWS {
        let flow = kite_flow::parse_flow(yaml).flow.expect("valid flow");
        platform.repos.flows.save(&flow, yaml).await.unwrap();
    }
    for name in ["seq", "par", "each", "parent", "flaky"] {
        let flow = platform.load_flow("kite.faults", name, None).await.unwrap();
        let e = platform
            .create_execution(&flow, serde_json::Map::new(), CreateOptions::default())
            .await
            .unwrap();
        ids.push((name.to_owned(), e.id));
    }
    queue.fault.armed.store(true, Ordering::SeqCst);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            visibility: Duration::from_secs(5),
            wait: Duration::from_secs(1),
            ..Default::default()
        },
        stop_rx,
    );
    let mut out = Vec::new();
    for (name, id) in ids {
        let deadline = Instant::now() + Duration::from_secs(120);
        let e = loop {
            let e = platform.execution(&id).await.unwrap().unwrap();
            if e.state.current.is_terminated() {
                break e;
            }
            if Instant::now() >= deadline {
                for q in [
                    "executor.fifo",
                    "executor-dlq.fifo",
                    "worker",
                    "worker-dlq",
                    "timers",
                    "timers-dlq",
                ] {
                    eprintln!("queue {q}: {:?}", queue.approximate_len(q).await);
                }
                for q in ["executor-dlq.fifo", "worker-dlq"] {
                    if let Ok(msgs) = queue
                        .receive(q, 10, Duration::from_secs(30), Duration::ZERO)
                        .await
                    {
                        for m in msgs {
                            eprintln!(
                                "dead letter in {q}: {}",
                                m.body.chars().take(600).collect::<String>()
                            );
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "{fault:?}: {name} did not end: {:?}; task runs: {:?}",
                e.state.current,
                e.task_run_list
                    .iter()
                    .map(|r| (
                        &r.task_id,
                        r.value.clone(),
                        r.state.current,
                        r.attempts.len()
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut runs: Vec<(String, String, usize)> = e
            .task_run_list
            .iter()
            .map(|r| {
                (
                    r.task_id.clone(),
                    format!("{:?}", r.state.current),
                    r.attempts.len(),
                )
            })
            .collect();
        runs.sort();
        out.push((name, format!("{:?}", e.state.current), runs));
    }
    let _ = stop.send(true);
    for h in handles {
        h.abort();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicates_and_crashes_end_in_the_same_executions() {
    if std::env::var("KITE_FAULT_ONLY_CRASH").is_ok() {
        run(Fault::CrashBeforeSend).await;
        return;
    }
    let clean = run(Fault::None).await;
    // Sanity: the clean run is what the flows say.
    let states: Vec<(&str, &str)> = clean
        .iter()
        .map(|(n, s, _)| (n.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("seq", "Success"),
            ("par", "Success"),
            ("each", "Success"),
            ("parent", "Success"),
            ("flaky", "Failed"),
        ]
    );
    let duplicated = run(Fault::Duplicate).await;
    assert_eq!(duplicated, clean, "every message delivered twice");
    let crashed = run(Fault::CrashBeforeSend).await;
    assert_eq!(crashed, clean, "handlers stopped between write and send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_lands_in_the_sqs_dead_letter_queue_with_its_error() {
    let clients = testing::clients().await;
    kite_aws::infra::up(&clients, &kite_aws::resources::Resources::load())
        .await
        .expect("infra up");
    let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(&clients));
    let (platform, _work) = platform_on(&clients, queue.clone());
    queue
        .send("worker", OutgoingMessage::new("this is not a job"))
        .await
        .unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            visibility: Duration::from_secs(5),
            wait: Duration::from_secs(1),
            workers: 1,
            ..Default::default()
        },
        stop_rx,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let letter = loop {
        let got = queue
            .receive(
                "worker-dlq",
                1,
                Duration::from_secs(30),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
        if let Some(m) = got.into_iter().next() {
            break m;
        }
        assert!(Instant::now() < deadline, "no dead letter within 60 s");
    };
    let _ = stop.send(true);
    for h in handles {
        h.abort();
    }
    let letter: kite_engine::services::dispatch::DeadLetter =
        serde_json::from_str(&letter.body).expect("a dead letter");
    assert_eq!(letter.queue, "worker");
    assert_eq!(letter.body, "this is not a job");
    assert_eq!(
        letter.receive_count,
        kite_engine::services::dispatch::POISON_AFTER
    );
    assert!(
        letter.error.contains("malformed worker message"),
        "{}",
        letter.error
    );
}
