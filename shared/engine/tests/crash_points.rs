//! A handler may stop at any point between its state write and the last of its sends (a
//! Lambda timing out, a process killed): its message is delivered again and the redelivered
//! handler must finish the job. For each flow below, a clean run counts the sends; then, for
//! every n, a run whose n-th send fails once (the handler stops there) must end exactly as
//! the clean run did: subflows, scheduled retries, timers, concurrency hand-offs included.
//! And a caller whose execution cannot be started gets an error and no execution.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kite_engine::model::{Execution, ids};
use kite_engine::services::{CreateOptions, Platform, QueueNames, poller};
use kite_ports::faulty::{FaultyQueue, SendFault};
use kite_ports::{
    Clock, MemoryDocuments, MemoryQueue, MemoryStorage, OutgoingMessage, QueueError, SystemClock,
};

/// The `crash_at`-th send call (counted once armed) fails, once.
#[derive(Debug)]
struct CrashAt {
    crash_at: Option<u64>,
    armed: AtomicBool,
    calls: AtomicU64,
}

impl SendFault for CrashAt {
    fn before_send(&self, queue: &str, _msgs: &[&OutgoingMessage]) -> Result<(), QueueError> {
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.crash_at {
            return Err(QueueError::Backend {
                queue: queue.to_owned(),
                operation: "send",
                source: format!("injected crash at send {n}").into(),
            });
        }
        Ok(())
    }
}

/// A scenario: the flows to deploy, and the executions to start (flow id, how many).
struct Case {
    name: &'static str,
    flows: &'static [&'static str],
    start: &'static str,
    executions: usize,
}

const CASES: &[Case] = &[
    Case {
        name: "sequential worker tasks",
        flows: &[r#"id: seq
namespace: kite.crash
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
"#],
        start: "seq",
        executions: 1,
    },
    Case {
        name: "subflow",
        flows: &[
            r#"id: child
namespace: kite.crash
tasks:
  - id: hi
    type: io.kestra.plugin.core.debug.Return
    format: hi
"#,
            r#"id: parent
namespace: kite.crash
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: kite.crash
    flowId: child
    wait: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.call.executionId }}"
"#,
        ],
        start: "parent",
        executions: 1,
    },
    Case {
        name: "timers and ForEach",
        flows: &[r#"id: loop
namespace: kite.crash
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2, 3]
    concurrencyLimit: 2
    tasks:
      - id: item
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo {{ taskrun.value }}"]
"#],
        start: "loop",
        executions: 1,
    },
    Case {
        name: "retry in a new execution",
        flows: &[r#"id: renew
namespace: kite.crash
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 2
      behavior: CREATE_NEW_EXECUTION
"#],
        start: "renew",
        executions: 1,
    },
    Case {
        name: "concurrency hand-off",
        flows: &[r#"id: one-at-a-time
namespace: kite.crash
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - id: work
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo working"]
"#],
        start: "one-at-a-time",
        executions: 2,
    },
];

/// (state of each execution of the chain, sorted (task id, state, attempts))
type Outcome = Vec<(Vec<String>, Vec<(String, String, usize)>)>;

/// Runs `case` with the `crash_at`-th send failing; returns its outcome and the number of
/// sends made.
async fn run(case: &Case, crash_at: Option<u64>) -> (Outcome, u64) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let work = tempfile::tempdir().unwrap();
    let queue = Arc::new(FaultyQueue::new(
        Arc::new(MemoryQueue::new(clock.clone())),
        CrashAt {
            crash_at,
            armed: AtomicBool::new(false),
            calls: AtomicU64::new(0),
        },
    ));
    let platform = Arc::new(Platform::on_ports(
        queue.clone(),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryDocuments::new(clock.clone())),
        clock,
        QueueNames::with_prefix("c-"),
        work.path().to_owned(),
    ));
    platform.ensure_queues().await.unwrap();
    for yaml in case.flows {
        let flow = kite_flow::parse_flow(yaml).flow.expect("valid flow");
        platform.repos.flows.save(&flow, yaml).await.unwrap();
    }
    let flow = platform
        .load_flow("kite.crash", case.start, None)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..case.executions {
        let e = platform
            .create_execution(&flow, serde_json::Map::new(), CreateOptions::default())
            .await
            .unwrap();
        ids.push(e.id);
    }
    queue.fault.armed.store(true, Ordering::SeqCst);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            executors: 2,
            workers: 2,
            visibility: Duration::from_millis(500),
            wait: Duration::from_millis(50),
            tick: Duration::from_millis(200),
        },
        stop_rx,
    );
    let mut outcome = Vec::new();
    for id in ids {
        let mut chain = Vec::new();
        let mut id = id;
        let last = loop {
            let e = wait_end(&platform, &id, case, crash_at).await;
            chain.push(format!("{:?}", e.state.current));
            if e.state.current != kite_engine::model::State::Retried {
                break e;
            }
            id = ids::derived_id(&[&id, "retry"]);
        };
        let mut runs: Vec<(String, String, usize)> = last
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
        outcome.push((chain, runs));
    }
    let _ = stop.send(true);
    for h in handles {
        h.abort();
    }
    (outcome, queue.fault.calls.load(Ordering::SeqCst))
}

async fn wait_end(platform: &Platform, id: &str, case: &Case, crash_at: Option<u64>) -> Execution {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let e = platform.execution(id).await.unwrap();
        if let Some(e) = &e
            && e.state.current.is_terminated()
        {
            return e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{}: with send {crash_at:?} failing, execution {id} did not end: {:?}",
            case.name,
            e.map(|e| (
                e.state.current,
                e.task_run_list
                    .iter()
                    .map(|r| (r.task_id.clone(), r.state.current))
                    .collect::<Vec<_>>()
            ))
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_stopped_at_any_send_is_finished_by_its_redelivery() {
    for case in CASES {
        let (clean, sends) = run(case, None).await;
        assert!(sends > 0, "{}: the clean run sent nothing", case.name);
        let runs = (0..sends).map(|n| async move { (n, run(case, Some(n)).await.0) });
        for (n, outcome) in futures::future::join_all(runs).await {
            assert_eq!(
                outcome, clean,
                "{}: the run whose send {n} failed ended differently",
                case.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_whose_start_cannot_be_sent_is_not_left_behind() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let work = tempfile::tempdir().unwrap();
    let queue = Arc::new(FaultyQueue::new(
        Arc::new(MemoryQueue::new(clock.clone())),
        CrashAt {
            crash_at: Some(0),
            armed: AtomicBool::new(true),
            calls: AtomicU64::new(0),
        },
    ));
    let platform = Platform::on_ports(
        queue,
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryDocuments::new(clock.clone())),
        clock,
        QueueNames::with_prefix("s-"),
        work.path().to_owned(),
    );
    platform.ensure_queues().await.unwrap();
    let yaml = CASES[0].flows[0];
    let flow = kite_flow::parse_flow(yaml).flow.unwrap();
    platform.repos.flows.save(&flow, yaml).await.unwrap();
    let opts = CreateOptions {
        id: Some("startLost00000000000001".into()),
        ..Default::default()
    };
    let err = platform
        .create_execution(&flow, serde_json::Map::new(), opts.clone())
        .await
        .expect_err("the start send fails");
    assert!(err.to_string().contains("injected crash"), "{err}");
    assert!(
        platform
            .execution("startLost00000000000001")
            .await
            .unwrap()
            .is_none(),
        "the caller got an error: no execution stays CREATED behind it"
    );
    // Called again (the send works now), it is created and started.
    let e = platform
        .create_execution(&flow, serde_json::Map::new(), opts)
        .await
        .unwrap();
    assert_eq!(e.id, "startLost00000000000001");
}
