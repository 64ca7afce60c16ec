//! Bounded executions (issue 8, item 2): decisions cost time linear in the work they
//! create, run off the async threads, stop at configurable ceilings, and a message whose
//! handler keeps timing out is dead-lettered with its execution failed.
//!
//! No test here measures wall-clock time: linearity is checked on a deterministic count
//! (task runs looked at, [`kite_engine::model::execution::visits`]). Responsiveness while a
//! decision runs is tested in `shared/webserver/tests/busy_decision.rs`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use kite_engine::executor::limits::Limits;
use kite_engine::executor::{self, Action, Event, Expressions, Record};
use kite_engine::model::{Execution, LogEntry, State};
use kite_engine::services::dispatch::{DeadLetter, Delivery, MAX_RECEIVES, Outcome, handle_batch};
use kite_engine::services::poller::{Component, PollerConfig};
use kite_engine::services::{CreateOptions, Platform, QueueNames};
use kite_ports::{Clock, ManualClock};
use serde_json::{Map, json};
use support::{Setup, deploy, parse};

const NS: &str = "company.team";

/// A ForEach over `n` values, `concurrencyLimit` `limit`, a Return inside.
fn for_each(n: usize, limit: u32) -> String {
    format!(
        "id: each_{n}\nnamespace: {NS}\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: {limit}\n    values: \"{{{{ range(1, {n}) }}}}\"\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
    )
}

fn runtime(limits: Limits) -> Expressions {
    with_limits(
        Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]),
        limits,
    )
}

fn with_limits(mut rt: Expressions, limits: Limits) -> Expressions {
    rt.limits = limits;
    rt
}

/// Decides a Start of `source` (pure, in this thread); returns the record, the actions and
/// the task runs looked at.
fn decide(source: &str, limits: Limits) -> (Record, Vec<Action>, u64) {
    let flow = parse(source);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let exec = Execution::new("exec1".into(), &flow, Map::new(), Vec::new(), now);
    let mut rec = Record::new(exec);
    let rt = runtime(limits);
    let before = kite_engine::model::execution::visits();
    let actions = executor::handle(&flow, &mut rec, &Event::Start, "start", &rt, now);
    let work = kite_engine::model::execution::visits() - before;
    (rec, actions, work)
}

fn error_lines(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Logs { entries } => Some(entries),
            _ => None,
        })
        .flatten()
        .filter(|l| l.level == kite_flow::plugin::LogLevel::Error)
        .map(|l| l.message.clone())
        .collect()
}

// =======================================================================================
// Linear decisions
// =======================================================================================

fn assert_linear(limit: u32) {
    let n = 500;
    let (small, _, w1) = decide(&for_each(n, limit), Limits::default());
    let (big, _, w4) = decide(&for_each(4 * n, limit), Limits::default());
    assert_eq!(small.execution.current(), State::Success);
    assert_eq!(big.execution.current(), State::Success);
    assert_eq!(small.execution.task_run_list.len(), n + 1);
    assert_eq!(big.execution.task_run_list.len(), 4 * n + 1);
    eprintln!(
        "concurrencyLimit {limit}: {n} values: {w1} task runs looked at; {}: {w4}",
        4 * n
    );
    // Linear work grows 4 times for 4 times the values; quadratic work 16 times.
    let ratio = w4 as f64 / w1 as f64;
    assert!(
        ratio < 6.0,
        "concurrencyLimit {limit}: {n} values looked at {w1} task runs, {} values {w4} (x{ratio:.1}): not linear",
        4 * n
    );
}

#[test]
fn a_foreach_without_concurrency_limit_decides_in_linear_work() {
    assert_linear(0);
}

#[test]
fn a_sequential_foreach_decides_in_linear_work() {
    assert_linear(1);
}

// =======================================================================================
// Ceilings
// =======================================================================================

#[test]
fn the_task_run_ceiling_fails_the_execution_naming_it() {
    let limits = Limits {
        max_task_runs: 50,
        ..Limits::default()
    };
    let (rec, actions, _) = decide(&for_each(100, 0), limits);
    assert_eq!(rec.execution.current(), State::Failed);
    assert!(rec.execution.task_run_list.len() <= 50);
    let errors = error_lines(&actions);
    assert!(
        errors
            .iter()
            .any(|m| m.contains("50 task runs per execution")
                && m.contains("--max-task-runs")
                && m.contains("KITE_MAX_TASK_RUNS")),
        "{errors:#?}"
    );
    assert!(actions.contains(&Action::Ended {
        state: State::Failed
    }));
}

#[test]
fn the_loop_value_ceiling_fails_the_execution_naming_it() {
    let limits = Limits {
        max_loop_values: 10,
        ..Limits::default()
    };
    let (rec, actions, _) = decide(&for_each(11, 0), limits);
    assert_eq!(rec.execution.current(), State::Failed);
    // The loop never started its values.
    assert_eq!(rec.execution.task_run_list.len(), 1);
    let errors = error_lines(&actions);
    assert!(
        errors.iter().any(|m| m.contains("`each` has 11 values")
            && m.contains("10 values per loop")
            && m.contains("KITE_MAX_LOOP_VALUES")),
        "{errors:#?}"
    );
    // At the ceiling exactly, it runs.
    let (rec, _, _) = decide(&for_each(10, 0), limits);
    assert_eq!(rec.execution.current(), State::Success);
}

/// Log lines of `id`, waiting (60 s at most) until one satisfies `pred`.
async fn log_matching(p: &Platform, id: &str, pred: impl Fn(&LogEntry) -> bool) -> LogEntry {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let logs = p.repos.logs.of_execution(id).await.expect("logs");
        if let Some(l) = logs.iter().find(|l| pred(l)) {
            return l.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching log line for {id}: {logs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_size_ceiling_fails_the_execution_naming_it() {
    let limits = Limits {
        max_record_bytes: 20_000,
        ..Limits::default()
    };
    let kite = Setup::new()
        .runtime(move |rt| with_limits(rt, limits))
        .pollers(Some(PollerConfig {
            executors: 1,
            workers: 1,
            visibility: Duration::from_secs(60),
            wait: Duration::from_millis(100),
            tick: Duration::from_secs(1),
        }))
        .start()
        .await;
    let p = &kite.platform;
    // The loop's runs make the record pass the ceiling while a Sleep keeps it running.
    let source = format!(
        "{}  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1H\n",
        for_each(200, 0)
    );
    let flow = kite.deploy(&source).await;
    let created = kite.create(&flow, json!({})).await;
    let e = kite.wait_end(&created.id).await;
    assert_eq!(e.current(), State::Failed);
    let nap = e.task_run_list.iter().find(|r| r.task_id == "nap");
    assert_eq!(nap.map(|r| r.current()), Some(State::Killed), "{nap:?}");
    let line = log_matching(p, &created.id, |l| {
        l.message.contains("bytes per execution record")
    })
    .await;
    assert!(
        line.message.contains("20000 bytes per execution record")
            && line.message.contains("KITE_MAX_RECORD_BYTES"),
        "{}",
        line.message
    );
}

// =======================================================================================
// Messages that keep timing out
// =======================================================================================

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_timing_out_is_dead_lettered_and_fails_its_execution() {
    let manual = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(manual.clone());
    let (p, _work) = Setup::new().clock(clock).pollers(None).platform().await;
    let flow = deploy(&p, &for_each(3, 0)).await;
    let created = p
        .create_execution(&flow, Map::new(), CreateOptions::default())
        .await
        .expect("create");
    let lease = Duration::from_secs(30);
    // Each receive's handler "never returns": the lease expires and the queue hands the
    // message over again, its receive count one higher.
    let mut last = None;
    for expected in 1..=MAX_RECEIVES + 1 {
        let got = p
            .queue
            .receive(&p.names.executor, 10, lease, Duration::ZERO)
            .await
            .expect("receive");
        assert_eq!(got.len(), 1, "receive {expected}");
        assert_eq!(got[0].receive_count, expected);
        last = Some(got[0].clone());
        manual.advance(lease + Duration::from_secs(1));
    }
    let m = last.expect("received");
    let d = Delivery {
        id: m.id.to_string(),
        body: m.body.clone(),
        receive_count: m.receive_count,
        group_id: m.group_id.clone(),
    };
    let out = handle_batch(&p, Component::Executor, &[d], None).await;
    assert!(
        matches!(&out[0], Outcome::DeadLettered(e) if e.contains("timing out")),
        "{out:?}"
    );
    // The dead letter carries the reason.
    let dlq = QueueNames::dead_letter_of(&p.names.executor);
    let letters = p
        .queue
        .receive(&dlq, 10, lease, Duration::ZERO)
        .await
        .expect("receive dlq");
    assert_eq!(letters.len(), 1);
    let letter: DeadLetter = serde_json::from_str(&letters[0].body).expect("letter");
    assert_eq!(letter.receive_count, MAX_RECEIVES + 1);
    assert!(letter.error.contains("timing out"), "{}", letter.error);
    // The execution is not left behind: FAILED, with the reason in its logs.
    let e = p
        .execution(&created.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(e.current(), State::Failed);
    let line = log_matching(&p, &created.id, |l| l.message.contains("dead-lettered")).await;
    assert!(line.message.contains("timing out"), "{}", line.message);
    // The handler did not run: the loop never started.
    assert!(e.task_run_list.is_empty(), "{:?}", e.task_run_list);
}
