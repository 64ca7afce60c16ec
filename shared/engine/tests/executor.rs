//! The executor test suite: flows written for these tests, checked at two levels.
//!
//! 1. End to end in memory: a [`Platform`] over the in-memory ports with the executor,
//!    worker and scheduler pollers running; flows are saved, executions created through
//!    the services, and the final execution is inspected (task runs, order, parents,
//!    values, states, attempts, outputs).
//! 2. The pure decision function [`executor::handle`]: the actions it emits (dispatched
//!    jobs, timers with their due dates, subflow requests, parent notifications, end),
//!    idempotency, stale worker results and id stability.
//!
//! Semantics follow the Kestra reference (§3–§5), in particular §4.3 (how the executor
//! decides) and §4.7 (the worked lifecycle).

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use kite_engine::executor::{
    self, Action, Event, Record, Runtime, SubflowRequest, TimerKind, WorkerJob, WorkerResult,
};
use kite_engine::model::{Execution, ExecutionTrigger, LogEntry, State, TaskRun};
use kite_engine::services::{CreateOptions, ServiceError};
use kite_flow::Flow;
use kite_flow::plugin::LogLevel;
use kite_ports::{Clock, ManualClock};
use serde_json::{Map, Value, json};
use support::{Kite, Setup, obj, parse};

// =======================================================================================
// Shared helpers
// =======================================================================================

const NS: &str = "company.team";

/// How long an end-to-end test waits for an execution before failing: generous, so a
/// loaded 2-core machine does not fail a correct run (a correct run never waits this long).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A flow source: `id`, the test namespace, then `body` (YAML at column 0).
fn flow_yaml(id: &str, body: &str) -> String {
    format!(
        "id: {id}\nnamespace: {NS}\n{}",
        body.trim_start_matches('\n')
    )
}

fn history(h: &kite_engine::model::StateHistory) -> Vec<State> {
    h.histories.iter().map(|x| x.state).collect()
}

/// Read access to an execution's task runs by task id.
trait Runs {
    fn runs_of(&self, task: &str) -> Vec<&TaskRun>;
    fn one(&self, task: &str) -> &TaskRun;
    fn task_ids(&self) -> Vec<&str>;
    fn out(&self, task: &str, key: &str) -> Value;
    fn state_of(&self, task: &str) -> State;
    fn run_by_id(&self, id: &str) -> &TaskRun;
    fn label(&self, key: &str) -> Option<&str>;
}

impl Runs for Execution {
    fn runs_of(&self, task: &str) -> Vec<&TaskRun> {
        self.task_run_list
            .iter()
            .filter(|r| r.task_id == task)
            .collect()
    }

    #[track_caller]
    fn one(&self, task: &str) -> &TaskRun {
        let runs = self.runs_of(task);
        assert_eq!(
            runs.len(),
            1,
            "expected exactly one run of `{task}`, task runs: {:?}",
            self.task_ids()
        );
        runs[0]
    }

    fn task_ids(&self) -> Vec<&str> {
        self.task_run_list
            .iter()
            .map(|r| r.task_id.as_str())
            .collect()
    }

    #[track_caller]
    fn out(&self, task: &str, key: &str) -> Value {
        self.one(task)
            .outputs
            .get(key)
            .cloned()
            .unwrap_or(Value::Null)
    }

    #[track_caller]
    fn state_of(&self, task: &str) -> State {
        self.one(task).state.current
    }

    #[track_caller]
    fn run_by_id(&self, id: &str) -> &TaskRun {
        self.task_run(id)
            .unwrap_or_else(|| panic!("no task run {id}"))
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.value.as_str())
    }
}

#[track_caller]
fn assert_state(e: &Execution, state: State) {
    assert_eq!(
        e.state.current,
        state,
        "execution state; task runs: {:#?}",
        e.task_run_list
            .iter()
            .map(|r| (r.task_id.as_str(), r.value.as_deref(), r.state.current))
            .collect::<Vec<_>>()
    );
}

// =======================================================================================
// Level 1: end to end through the services, in memory
// =======================================================================================

/// How long an end-to-end test waits for the log lines it expects (generous, as above).
const LOG_WAIT_LIMIT: Duration = Duration::from_secs(60);

/// This suite's installations: pollers running, the wait limits above.
impl Kite {
    async fn start() -> Self {
        Self::start_with_env(&[]).await
    }

    /// `env` feeds `envs` (`KESTRA_*`) and `secret()` (`SECRET_*`, base64).
    async fn start_with_env(env: &[(&str, &str)]) -> Self {
        Setup::new()
            .env(env)
            .wait_limits(WAIT_LIMIT, LOG_WAIT_LIMIT)
            .start()
            .await
    }
}

/// Runs `source` with `inputs` on a fresh in-memory installation.
async fn run(source: &str, inputs: Value) -> Execution {
    Kite::start().await.run(source, inputs).await
}

// ---------------------------------------------------------------------------------------
// Sequential, Parallel
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequential_runs_children_in_order_and_chains_outputs() {
    let src = flow_yaml(
        "sequential",
        r#"
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: second
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.first.value }}-two"
      - id: third
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.second.value }}-three"
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: "last saw {{ outputs.third.value }}"
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["first", "seq", "second", "third", "last"]);
    assert_eq!(
        history(&e.state),
        [State::Created, State::Running, State::Success]
    );
    let seq = e.one("seq");
    assert_eq!(e.one("first").parent_task_run_id, None);
    assert_eq!(seq.parent_task_run_id, None);
    assert_eq!(
        e.one("second").parent_task_run_id.as_deref(),
        Some(seq.id.as_str())
    );
    assert_eq!(
        e.one("third").parent_task_run_id.as_deref(),
        Some(seq.id.as_str())
    );
    assert_eq!(e.one("last").parent_task_run_id, None);
    assert_eq!(e.out("second", "value"), json!("one-two"));
    assert_eq!(e.out("third", "value"), json!("one-two-three"));
    for r in &e.task_run_list {
        assert_eq!(r.state.current, State::Success, "{}", r.task_id);
        assert_eq!(r.execution_id, e.id);
        assert_eq!(r.flow_id, "sequential");
        assert_eq!(r.namespace, NS);
        assert_eq!(r.id.len(), 22, "task run ids are 22-character base62 ids");
        assert_eq!(r.value, None);
    }
    for t in ["first", "second", "third", "last"] {
        let r = e.one(t);
        assert_eq!(r.attempts.len(), 1, "{t}");
        assert_eq!(r.attempts[0].state.current, State::Success);
        assert_eq!(
            history(&r.state),
            [State::Created, State::Running, State::Success],
            "{t}"
        );
    }
    let mut ids: Vec<&str> = e.task_run_list.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "task run ids are distinct");
    let last_id = e.one("last").id.clone();
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter()
                .any(|x| x.task_run_id.as_deref() == Some(last_id.as_str()))
        })
        .await;
    let line = logs
        .iter()
        .find(|l| l.task_id.as_deref() == Some("last"))
        .expect("a log line of `last`");
    assert_eq!(line.message, "last saw one-two-three");
    assert_eq!(line.level, LogLevel::Info);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_runs_every_child_under_the_parallel_run() {
    let src = flow_yaml(
        "parallel",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.debug.Return
        format: A
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: B
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: C
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.a.value }}{{ outputs.b.value }}{{ outputs.c.value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["par", "a", "b", "c", "after"]);
    let par = e.one("par").id.clone();
    for t in ["a", "b", "c"] {
        assert_eq!(e.one(t).parent_task_run_id.as_deref(), Some(par.as_str()));
        assert_eq!(e.state_of(t), State::Success);
    }
    assert_eq!(e.state_of("par"), State::Success);
    assert_eq!(e.out("after", "value"), json!("ABC"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_with_worker_tasks_and_concurrency_limit_succeeds() {
    let src = flow_yaml(
        "parallel-kv",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
      - id: k1
        type: io.kestra.plugin.core.kv.Set
        key: k1
        value: one
      - id: k2
        type: io.kestra.plugin.core.kv.Set
        key: k2
        value: two
      - id: k3
        type: io.kestra.plugin.core.kv.Set
        key: k3
        value: three
  - id: read
    type: io.kestra.plugin.core.kv.Get
    key: k3
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["par", "k1", "k2", "k3", "read"]);
    assert_eq!(e.out("read", "value"), json!("three"));
    // With `concurrent: 2`, k3 starts only after one of k1/k2 ended.
    let k3_start = e.one("k3").state.start_date.expect("start");
    let first_end = ["k1", "k2"]
        .iter()
        .map(|t| e.one(t).state.end_date.expect("end"))
        .min()
        .expect("ends");
    assert!(
        k3_start >= first_end,
        "k3 created at {k3_start} before k1/k2 ended ({first_end})"
    );
}

// ---------------------------------------------------------------------------------------
// If, Switch
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_runs_then_or_else_by_truthiness() {
    let src = flow_yaml(
        "if",
        r#"
inputs:
  - id: param
    type: STRING
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.param }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.debug.Return
        format: "yes"
    else:
      - id: when_false
        type: io.kestra.plugin.core.debug.Return
        format: "no"
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;
    for (param, branch, result) in [
        ("true", "when_true", true),
        ("anything", "when_true", true),
        ("false", "when_false", false),
        ("0", "when_false", false),
    ] {
        let e = kite.execute(&flow, json!({"param": param})).await;
        assert_state(&e, State::Success);
        assert_eq!(e.task_ids(), ["check", branch], "param {param}");
        assert_eq!(
            e.out("check", "evaluationResult"),
            json!(result),
            "param {param}"
        );
        assert_eq!(
            e.one(branch).parent_task_run_id.as_deref(),
            Some(e.one("check").id.as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switch_runs_the_matching_case_or_defaults() {
    let src = flow_yaml(
        "switch",
        r#"
inputs:
  - id: choice
    type: STRING
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.choice }}"
    cases:
      FIRST:
        - id: t1
          type: io.kestra.plugin.core.debug.Return
          format: first
      SECOND:
        - id: t2
          type: io.kestra.plugin.core.debug.Return
          format: second
        - id: t2_sub
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.t2.value }} again"
    defaults:
      - id: fallback
        type: io.kestra.plugin.core.debug.Return
        format: "default for {{ inputs.choice }}"
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;

    let e = kite.execute(&flow, json!({"choice": "FIRST"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["pick", "t1"]);
    assert_eq!(e.out("pick", "value"), json!("FIRST"));
    assert_eq!(e.out("pick", "defaults"), json!(false));

    let e = kite.execute(&flow, json!({"choice": "SECOND"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["pick", "t2", "t2_sub"]);
    assert_eq!(e.out("t2_sub", "value"), json!("second again"));

    let e = kite.execute(&flow, json!({"choice": "other"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["pick", "fallback"]);
    assert_eq!(e.out("pick", "value"), json!("other"));
    assert_eq!(e.out("pick", "defaults"), json!(true));
    assert_eq!(e.out("fallback", "value"), json!("default for other"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switch_without_match_nor_defaults_fails() {
    let src = flow_yaml(
        "switch-impossible",
        r#"
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "nothing matches"
    cases:
      A:
        - id: a
          type: io.kestra.plugin.core.debug.Return
          format: a
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["pick"]);
    assert_eq!(e.state_of("pick"), State::Failed);
}

// ---------------------------------------------------------------------------------------
// ForEach
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_over_a_list_keys_outputs_by_value() {
    let src = flow_yaml(
        "foreach-list",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "value {{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.r['b'].value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["each", "r", "r", "r", "after"]);
    let each = e.one("each").id.clone();
    let values: Vec<Option<&str>> = e.runs_of("r").iter().map(|r| r.value.as_deref()).collect();
    assert_eq!(values, [Some("a"), Some("b"), Some("c")]);
    for r in e.runs_of("r") {
        assert_eq!(r.parent_task_run_id.as_deref(), Some(each.as_str()));
        assert_eq!(
            r.outputs["value"],
            json!(format!("value {}", r.value.as_deref().unwrap_or_default()))
        );
    }
    assert_eq!(e.out("after", "value"), json!("value b"));
    assert_eq!(e.state_of("each"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_over_a_json_string_serialises_non_string_values() {
    let src = flow_yaml(
        "foreach-json",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '[{"k": "x"}, {"k": "y"}, 3]'
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    let values: Vec<Option<&str>> = e.runs_of("r").iter().map(|r| r.value.as_deref()).collect();
    assert_eq!(
        values,
        [Some(r#"{"k":"x"}"#), Some(r#"{"k":"y"}"#), Some("3")]
    );
    let outs: Vec<&Value> = e.runs_of("r").iter().map(|r| &r.outputs["value"]).collect();
    assert_eq!(
        outs,
        [&json!(r#"{"k":"x"}"#), &json!(r#"{"k":"y"}"#), &json!("3")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_map_items_are_readable_with_from_json() {
    let src = flow_yaml(
        "foreach-maps",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values:
      - name: alice
      - name: bob
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "hello {{ fromJson(taskrun.value).name }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    let outs: Vec<&Value> = e.runs_of("r").iter().map(|r| &r.outputs["value"]).collect();
    assert_eq!(outs, [&json!("hello alice"), &json!("hello bob")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_concurrency_limit_orders_value_groups() {
    let body = |limit: u32| {
        flow_yaml(
            &format!("foreach-limit-{limit}"),
            &format!(
                r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: {limit}
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "r{{{{ taskrun.value }}}}"
      - id: s
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ outputs.r[taskrun.value].value }}}}s"
"#
            ),
        )
    };
    let kite = Kite::start().await;
    let order = |e: &Execution| -> Vec<(String, String)> {
        e.task_run_list
            .iter()
            .filter(|r| r.task_id != "each")
            .map(|r| (r.task_id.clone(), r.value.clone().unwrap_or_default()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };

    let e = kite.run(&body(1), json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        order(&e),
        pairs(&[("r", "a"), ("s", "a"), ("r", "b"), ("s", "b")])
    );

    let e = kite.run(&body(0), json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        order(&e),
        pairs(&[("r", "a"), ("r", "b"), ("s", "a"), ("s", "b")])
    );
    let s_outs: Vec<&Value> = e.runs_of("s").iter().map(|r| &r.outputs["value"]).collect();
    assert_eq!(s_outs, [&json!("ras"), &json!("rbs")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nested_foreach_addresses_outputs_by_both_values() {
    let src = flow_yaml(
        "foreach-nested",
        r#"
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: [1, 2]
        tasks:
          - id: r
            type: io.kestra.plugin.core.debug.Return
            format: "{{ parents[0].taskrun.value }}-{{ taskrun.value }}"
          - id: again
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.r[parents[0].taskrun.value][taskrun.value].value }}!"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.r['b']['1'].value }}|{{ outputs.again['a']['2'].value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    // outer + 2 inner + 4 r + 4 again + after
    assert_eq!(e.task_run_list.len(), 12, "{:?}", e.task_ids());
    let outer = e.one("outer").id.clone();
    let inners = e.runs_of("inner");
    assert_eq!(inners.len(), 2);
    for (inner, v) in inners.iter().zip(["a", "b"]) {
        assert_eq!(inner.value.as_deref(), Some(v));
        assert_eq!(inner.parent_task_run_id.as_deref(), Some(outer.as_str()));
    }
    let mut rs: Vec<(String, String, String)> = e
        .runs_of("r")
        .iter()
        .map(|r| {
            let parent = e.run_by_id(r.parent_task_run_id.as_deref().expect("parent"));
            (
                parent.value.clone().unwrap_or_default(),
                r.value.clone().unwrap_or_default(),
                r.outputs["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rs.sort();
    assert_eq!(
        rs,
        [
            ("a".into(), "1".into(), "a-1".into()),
            ("a".into(), "2".into(), "a-2".into()),
            ("b".into(), "1".into(), "b-1".into()),
            ("b".into(), "2".into(), "b-2".into()),
        ]
    );
    let mut agains: Vec<&str> = e
        .runs_of("again")
        .iter()
        .filter_map(|r| r.outputs["value"].as_str())
        .collect();
    agains.sort_unstable();
    assert_eq!(agains, ["a-1!", "a-2!", "b-1!", "b-2!"]);
    assert_eq!(e.out("after", "value"), json!("b-1|a-2!"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_with_a_null_value_fails_without_children() {
    let src = flow_yaml(
        "foreach-null",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["a", null]'
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["each"]);
    assert_eq!(e.state_of("each"), State::Failed);
    let logs = kite
        .logs_until(&e.id, |l| l.iter().any(|x| x.level == LogLevel::Error))
        .await;
    assert!(
        logs.iter()
            .any(|l| l.level == LogLevel::Error && l.message.to_lowercase().contains("null")),
        "an ERROR log about null values: {logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_over_an_empty_list_succeeds_without_children() {
    let src = flow_yaml(
        "foreach-empty",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: []
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["each", "after"]);
    assert_eq!(e.state_of("each"), State::Success);
}

// ---------------------------------------------------------------------------------------
// Dag
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dag_follows_depends_on() {
    let src = flow_yaml(
        "dag",
        r#"
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: d
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.b.value }}+{{ outputs.c.value }}"
        dependsOn: [b, c]
      - task:
          id: b
          type: io.kestra.plugin.core.debug.Return
          format: "b({{ outputs.a.value }})"
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.debug.Return
          format: "c({{ outputs.a.value }})"
        dependsOn: [a]
      - task:
          id: a
          type: io.kestra.plugin.core.debug.Return
          format: a
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["dag", "a", "b", "c", "d"]);
    let dag = e.one("dag").id.clone();
    for t in ["a", "b", "c", "d"] {
        assert_eq!(
            e.one(t).parent_task_run_id.as_deref(),
            Some(dag.as_str()),
            "{t}"
        );
    }
    assert_eq!(e.out("d", "value"), json!("b(a)+c(a)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dag_failure_stops_dependents() {
    let src = flow_yaml(
        "dag-fail",
        r#"
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: a
          type: io.kestra.plugin.core.execution.Fail
        dependsOn: []
      - task:
          id: b
          type: io.kestra.plugin.core.debug.Return
          format: b
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.debug.Return
          format: c
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["dag", "a", "c"]);
    assert_eq!(e.state_of("a"), State::Failed);
    assert_eq!(e.state_of("c"), State::Success);
    assert_eq!(e.state_of("dag"), State::Failed);
}

// ---------------------------------------------------------------------------------------
// AllowFailure, allowFailure / allowWarning, runIf, disabled
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn allow_failure_flowable_turns_child_failure_into_warning() {
    let src = flow_yaml(
        "allow-failure-flowable",
        r#"
tasks:
  - id: tolerant
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: not_reached
        type: io.kestra.plugin.core.debug.Return
        format: no
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["tolerant", "boom", "after"]);
    assert_eq!(e.state_of("boom"), State::Failed);
    assert_eq!(e.state_of("tolerant"), State::Warning);
    assert_eq!(e.state_of("after"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_allow_failure_and_allow_warning() {
    let src = flow_yaml(
        "task-allow",
        r#"
tasks:
  - id: tolerated
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["tolerated", "after"]);
    assert_eq!(e.state_of("tolerated"), State::Warning);
    assert_eq!(e.one("tolerated").attempts.len(), 1);
    assert_eq!(e.state_of("after"), State::Success);

    // FAILED -> WARNING (allowFailure) -> SUCCESS (allowWarning), on a runnable and a
    // flowable whose child ended in WARNING.
    let src = flow_yaml(
        "task-allow-warning",
        r#"
tasks:
  - id: runnable
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    allowWarning: true
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    allowWarning: true
    tasks:
      - id: inner
        type: io.kestra.plugin.core.execution.Fail
        allowFailure: true
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["runnable", "seq", "inner"]);
    assert_eq!(e.state_of("runnable"), State::Success);
    assert_eq!(e.state_of("inner"), State::Warning);
    assert_eq!(e.state_of("seq"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_if_false_skips_and_run_if_error_fails() {
    let src = flow_yaml(
        "run-if",
        r#"
tasks:
  - id: executed
    type: io.kestra.plugin.core.debug.Return
    format: ran
    runIf: "{{ 1 == 1 }}"
  - id: skipped
    type: io.kestra.plugin.core.debug.Return
    format: never
    runIf: "{{ outputs.executed.value == 'other' }}"
  - id: after_skip
    type: io.kestra.plugin.core.debug.Return
    format: "{{ tasks.skipped.state }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["executed", "skipped", "after_skip"]);
    assert_eq!(e.state_of("skipped"), State::Skipped);
    assert!(e.one("skipped").outputs.is_empty());
    assert_eq!(e.out("after_skip", "value"), json!("SKIPPED"));

    let src = flow_yaml(
        "run-if-error",
        r#"
tasks:
  - id: broken
    type: io.kestra.plugin.core.debug.Return
    format: never
    runIf: "{{ inputs.undefined_input }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["broken"]);
    assert_eq!(e.state_of("broken"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disabled_tasks_get_no_task_run() {
    let src = flow_yaml(
        "disabled",
        r#"
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: a
  - id: off
    type: io.kestra.plugin.core.execution.Fail
    disabled: true
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: off_child
        type: io.kestra.plugin.core.execution.Fail
        disabled: true
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: c
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["a", "seq", "c"]);
    assert_eq!(e.state_of("seq"), State::Success);
}

// ---------------------------------------------------------------------------------------
// errors, finally
// ---------------------------------------------------------------------------------------

/// Reference §4.7, step by step: the final execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worked_lifecycle_of_the_reference() {
    let src = flow_yaml(
        "lifecycle",
        r#"
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: a
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: b
      - id: c
        type: io.kestra.plugin.core.execution.Fail
  - id: d
    type: io.kestra.plugin.core.log.Log
    message: d
errors:
  - id: e
    type: io.kestra.plugin.core.log.Log
    message: e
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["a", "p", "b", "c", "e"]);
    let p = e.one("p").id.clone();
    assert_eq!(e.one("b").parent_task_run_id.as_deref(), Some(p.as_str()));
    assert_eq!(e.one("c").parent_task_run_id.as_deref(), Some(p.as_str()));
    assert_eq!(e.one("e").parent_task_run_id, None);
    assert_eq!(e.state_of("a"), State::Success);
    assert_eq!(e.state_of("b"), State::Success);
    assert_eq!(e.state_of("c"), State::Failed);
    assert_eq!(e.state_of("p"), State::Failed);
    assert_eq!(e.state_of("e"), State::Success);
    assert_eq!(
        history(&e.state),
        [State::Created, State::Running, State::Failed]
    );
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter().any(|x| x.message.contains("Flow completed"))
        })
        .await;
    assert!(
        logs.iter()
            .any(|l| l.message.contains("Flow completed with state FAILED")),
        "{logs:#?}"
    );

    // Variation: allowFailure on c.
    let src = src.replace(
        "type: io.kestra.plugin.core.execution.Fail",
        "type: io.kestra.plugin.core.execution.Fail\n        allowFailure: true",
    );
    let src = src.replace("id: lifecycle", "id: lifecycle-allow");
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["a", "p", "b", "c", "d"]);
    assert_eq!(e.state_of("c"), State::Warning);
    assert_eq!(e.state_of("p"), State::Warning);
    assert_eq!(e.state_of("d"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flowable_errors_and_finally_run_before_the_flow_errors() {
    let src = flow_yaml(
        "flowable-errors",
        r#"
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: not_reached
        type: io.kestra.plugin.core.debug.Return
        format: no
    errors:
      - id: local_error
        type: io.kestra.plugin.core.debug.Return
        format: "handled {{ tasks.boom.state }}"
    finally:
      - id: local_finally
        type: io.kestra.plugin.core.debug.Return
        format: cleanup
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
errors:
  - id: global_error
    type: io.kestra.plugin.core.debug.Return
    format: global
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(
        e.task_ids(),
        [
            "seq",
            "boom",
            "local_error",
            "local_finally",
            "global_error"
        ]
    );
    let seq = e.one("seq").id.clone();
    assert_eq!(
        e.one("local_error").parent_task_run_id.as_deref(),
        Some(seq.as_str())
    );
    assert_eq!(
        e.one("local_finally").parent_task_run_id.as_deref(),
        Some(seq.as_str())
    );
    assert_eq!(e.one("global_error").parent_task_run_id, None);
    assert_eq!(e.state_of("seq"), State::Failed);
    assert_eq!(e.out("local_error", "value"), json!("handled FAILED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_finally_always_runs_last() {
    let kite = Kite::start().await;
    let ok = flow_yaml(
        "finally-ok",
        r#"
tasks:
  - id: work
    type: io.kestra.plugin.core.debug.Return
    format: ok
finally:
  - id: cleanup
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ outputs.work.value }}"
"#,
    );
    let e = kite.run(&ok, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["work", "cleanup"]);
    assert_eq!(e.out("cleanup", "value"), json!("after ok"));

    let failing = flow_yaml(
        "finally-failed",
        r#"
tasks:
  - id: work
    type: io.kestra.plugin.core.execution.Fail
  - id: skipped
    type: io.kestra.plugin.core.debug.Return
    format: never
errors:
  - id: on_error
    type: io.kestra.plugin.core.debug.Return
    format: error
finally:
  - id: cleanup
    type: io.kestra.plugin.core.debug.Return
    format: cleanup
"#,
    );
    let e = kite.run(&failing, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["work", "on_error", "cleanup"]);
    assert_eq!(e.state_of("cleanup"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_logs_are_available_in_the_errors_branch() {
    let src = flow_yaml(
        "error-logs",
        r#"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke: {{ flow.id }}"
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{% for l in errorLogs() %}[{{ l.taskId }}: {{ l.message }}]{% endfor %}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["boom", "report"]);
    assert_eq!(
        e.out("report", "value"),
        json!("[boom: it broke: error-logs]")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_logs_include_worker_task_errors() {
    let src = flow_yaml(
        "error-logs-worker",
        r#"
tasks:
  - id: missing
    type: io.kestra.plugin.core.kv.Get
    key: no-such-key
    errorOnMissing: true
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs() | length }} {{ errorLogs()[0].taskId }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["missing", "report"]);
    assert_eq!(e.state_of("missing"), State::Failed);
    let v = e.out("report", "value");
    let v = v.as_str().unwrap_or_default();
    assert!(
        v.ends_with(" missing") && !v.starts_with("0 "),
        "errorLogs(): {v}"
    );
}

// ---------------------------------------------------------------------------------------
// Retry
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_constant_makes_max_attempt_attempts_then_fails() {
    let src = flow_yaml(
        "retry-constant",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 3
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["flaky"]);
    let r = e.one("flaky");
    assert_eq!(r.state.current, State::Failed);
    assert_eq!(r.attempts.len(), 3);
    assert!(r.attempts.iter().all(|a| a.state.current == State::Failed));
    assert_eq!(r.state.count(State::Retrying), 2, "{:?}", history(&r.state));
    // Each retry waits the interval after the previous attempt ended.
    for pair in r.attempts.windows(2) {
        let prev_end = pair[0].state.end_date.expect("end");
        let next_start = pair[1].state.start_date.expect("start");
        assert!(
            next_start - prev_end >= chrono::Duration::milliseconds(50),
            "retry came too early: {prev_end} -> {next_start}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_success_with_warning_on_retry_ends_warning() {
    let src = flow_yaml(
        "retry-warning",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 5
      warningOnRetry: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ tasks.flaky.state }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["flaky", "after"]);
    let r = e.one("flaky");
    assert_eq!(r.state.current, State::Warning);
    let attempts: Vec<State> = r.attempts.iter().map(|a| a.state.current).collect();
    assert_eq!(attempts, [State::Failed, State::Failed, State::Success]);
    assert_eq!(e.out("after", "value"), json!("after WARNING"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_exhausted_with_allow_failure_ends_warning() {
    let src = flow_yaml(
        "retry-allow-failure",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["flaky", "after"]);
    assert_eq!(e.one("flaky").attempts.len(), 2);
    assert_eq!(e.state_of("flaky"), State::Warning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_of_a_flowable_applies_to_its_children() {
    let src = flow_yaml(
        "retry-flowable",
        r#"
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
    tasks:
      - id: child
        type: io.kestra.plugin.core.execution.Fail
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["seq", "child"]);
    assert_eq!(e.one("child").attempts.len(), 2);
    assert_eq!(e.state_of("seq"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_level_retry_applies_to_tasks_without_their_own() {
    let src = flow_yaml(
        "retry-flow",
        r#"
retry:
  type: constant
  interval: PT0.05S
  maxAttempt: 3
tasks:
  - id: inherits
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 1 }}"
  - id: own
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["inherits", "own"]);
    assert_eq!(e.one("inherits").attempts.len(), 2);
    assert_eq!(e.state_of("inherits"), State::Success);
    assert_eq!(
        e.one("own").attempts.len(),
        2,
        "the task's own retry wins over the flow's"
    );
}

// ---------------------------------------------------------------------------------------
// Fail, Labels, OutputValues, flow outputs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_with_condition() {
    let src = flow_yaml(
        "fail-condition",
        r#"
inputs:
  - id: fail
    type: BOOLEAN
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: before
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
    errorMessage: "refused because fail={{ inputs.fail }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;
    let e = kite.execute(&flow, json!({"fail": false})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["before", "check", "after"]);

    let e = kite.execute(&flow, json!({"fail": true})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["before", "check"]);
    assert_eq!(e.state_of("check"), State::Failed);
    let check = e.one("check").id.clone();
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter()
                .any(|x| x.task_run_id.as_deref() == Some(check.as_str()))
        })
        .await;
    assert!(
        logs.iter().any(|l| l.level == LogLevel::Error
            && l.task_id.as_deref() == Some("check")
            && l.message == "refused because fail=true"),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labels_task_updates_execution_labels() {
    let src = flow_yaml(
        "labels",
        r#"
labels:
  team: data
  keep: me
inputs:
  - id: env
    type: STRING
    defaults: prod
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.team }}"
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      team: platform
      env: "{{ inputs.env }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.team }}/{{ labels.env }}/{{ labels.keep }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["before", "set", "after"]);
    assert_eq!(e.out("before", "value"), json!("data"));
    assert_eq!(e.out("after", "value"), json!("platform/prod/me"));
    assert_eq!(e.label("team"), Some("platform"));
    assert_eq!(e.label("env"), Some("prod"));
    assert_eq!(e.label("keep"), Some("me"));
    assert_eq!(e.label("system.correlationId"), Some(e.id.as_str()));
    assert_eq!(e.labels.iter().filter(|l| l.key == "team").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labels_task_rejects_system_labels() {
    let src = flow_yaml(
        "labels-system",
        r#"
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      system.readOnly: "true"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("set"), State::Failed);
    assert_eq!(e.label("system.readOnly"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn output_values_are_rendered_recursively() {
    let src = flow_yaml(
        "output-values",
        r#"
tasks:
  - id: ov
    type: io.kestra.plugin.core.output.OutputValues
    values:
      sum: "{{ 1 + 1 }}"
      nested:
        flow: "{{ flow.id }}"
      list:
        - "{{ 'x' | upper }}"
        - plain
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.ov.values.nested.flow }} {{ outputs.ov.values.list[0] }} {{ outputs.ov.values.sum }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        e.out("ov", "values"),
        json!({"sum": "2", "nested": {"flow": "output-values"}, "list": ["X", "plain"]})
    );
    assert_eq!(e.out("read", "value"), json!("output-values X 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_outputs_are_typed_and_a_failing_one_fails_the_execution() {
    let src = flow_yaml(
        "flow-outputs",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: hello
outputs:
  - id: text
    type: STRING
    value: "{{ outputs.r.value }} world"
  - id: number
    type: INT
    value: "{{ 40 + 2 }}"
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        Value::Object(e.outputs.clone()),
        json!({"text": "hello world", "number": 42})
    );

    let src = flow_yaml(
        "flow-outputs-failed",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: hello
outputs:
  - id: broken
    type: STRING
    value: "{{ outputs.missing_task.value }}"
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("r"), State::Success);
    assert!(e.outputs.is_empty(), "{:?}", e.outputs);
}

// ---------------------------------------------------------------------------------------
// Pause, Sleep, WaitFor
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_with_delay_resumes_by_itself() {
    let src = flow_yaml(
        "pause-delay",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: resumed
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["wait", "after"]);
    assert_eq!(
        history(&e.state),
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
    let w = e.one("wait");
    assert_eq!(
        history(&w.state),
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
    let paused_at = w.state.histories[2].date;
    let resumed_at = w.state.histories[3].date;
    assert!(
        resumed_at - paused_at >= chrono::Duration::milliseconds(100),
        "{paused_at} -> {resumed_at}"
    );
    assert!(e.one("after").state.start_date.expect("start") >= resumed_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_with_timeout_fails() {
    let src = flow_yaml(
        "pause-timeout",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["wait"]);
    let w = e.one("wait");
    assert_eq!(w.state.current, State::Failed);
    assert!(history(&w.state).contains(&State::Paused));
    assert!(history(&e.state).contains(&State::Paused));
    let paused_at = w
        .state
        .histories
        .iter()
        .find(|h| h.state == State::Paused)
        .expect("paused")
        .date;
    assert!(w.state.end_date.expect("end") - paused_at >= chrono::Duration::milliseconds(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_pause_resumes_with_on_resume_inputs() {
    let src = flow_yaml(
        "pause-manual",
        r#"
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
      - id: amount
        type: INT
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.approve.onResume.reason }} x{{ outputs.approve.onResume.amount }}"
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;
    let created = kite.create(&flow, json!({})).await;
    let paused = kite
        .wait_until(&created.id, "PAUSED", |e| e.state.current == State::Paused)
        .await;
    assert_eq!(paused.task_ids(), ["approve"]);
    assert_eq!(paused.state_of("approve"), State::Paused);

    kite.platform
        .send_event(
            &created.id,
            Event::Resume {
                inputs: obj(json!({"reason": "lgtm", "amount": "3"})),
            },
        )
        .await
        .expect("resume");
    let e = kite.wait_end(&created.id).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["approve", "after"]);
    assert_eq!(
        e.out("approve", "onResume"),
        json!({"reason": "lgtm", "amount": 3})
    );
    assert_eq!(e.out("after", "value"), json!("lgtm x3"));
    assert_eq!(
        history(&e.state),
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sleep_waits_its_duration() {
    let src = flow_yaml(
        "sleep",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: awake
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["nap", "after"]);
    let nap = e.one("nap");
    assert_eq!(nap.state.current, State::Success);
    assert_eq!(nap.attempts.len(), 1);
    let took = nap.state.end_date.expect("end") - nap.state.start_date.expect("start");
    assert!(
        took >= chrono::Duration::milliseconds(100),
        "slept only {took}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_loops_until_the_condition_holds() {
    let src = flow_yaml(
        "wait-for",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.count.values.n == '3' }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: count
        type: io.kestra.plugin.core.output.OutputValues
        values:
          n: "{{ outputs.loop.iterationCount + 1 }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.loop.iterationCount }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["loop", "count", "count", "count", "after"]);
    assert_eq!(e.out("loop", "iterationCount"), json!(3));
    let counts: Vec<&Value> = e
        .runs_of("count")
        .iter()
        .map(|r| &r.outputs["values"]["n"])
        .collect();
    assert_eq!(counts, [&json!("1"), &json!("2"), &json!("3")]);
    let iterations: Vec<Option<u32>> = e.runs_of("count").iter().map(|r| r.iteration).collect();
    assert_eq!(iterations, [Some(0), Some(1), Some(2)]);
    assert_eq!(e.out("after", "value"), json!("3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_max_iterations() {
    let body = |id: &str, fail: bool| {
        flow_yaml(
            id,
            &format!(
                r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{{{ outputs.count.values.n == 'never' }}}}"
    failOnMaxReached: {fail}
    checkFrequency:
      maxIterations: 3
      interval: PT0.05S
    tasks:
      - id: count
        type: io.kestra.plugin.core.output.OutputValues
        values:
          n: "{{{{ outputs.loop.iterationCount }}}}"
"#
            ),
        )
    };
    let kite = Kite::start().await;
    let e = kite.run(&body("wait-for-max-fail", true), json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("loop"), State::Failed);
    assert_eq!(e.runs_of("count").len(), 3);

    let e = kite.run(&body("wait-for-max-ok", false), json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.state_of("loop"), State::Success);
    assert_eq!(e.runs_of("count").len(), 3);
}

// ---------------------------------------------------------------------------------------
// Subflow, Kill
// ---------------------------------------------------------------------------------------

const CHILD: &str = r#"
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }} x{{ inputs.times }} from {{ trigger.flowId }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_waits_for_the_child_and_exposes_its_outputs() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml("child", CHILD)).await;
    let src = flow_yaml(
        "parent",
        r#"
inputs:
  - id: who
    type: STRING
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      name: "{{ inputs.who }}"
      times: 3
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.sub.outputs.greeting }} ({{ outputs.sub.state }})"
"#,
    );
    let e = kite.run(&src, json!({"who": "ada"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["sub", "after"]);
    let sub = e.one("sub");
    assert_eq!(sub.state.current, State::Success);
    assert_eq!(sub.outputs["state"], json!("SUCCESS"));
    assert_eq!(
        sub.outputs["outputs"],
        json!({"greeting": "hello ada x3 from parent"})
    );
    assert_eq!(
        e.out("after", "value"),
        json!("hello ada x3 from parent (SUCCESS)")
    );

    let child_id = sub.outputs["executionId"]
        .as_str()
        .expect("executionId")
        .to_owned();
    let child = kite.get(&child_id).await.expect("child execution");
    assert_state(&child, State::Success);
    assert_eq!(child.flow_id, "child");
    assert_eq!(
        Value::Object(child.inputs.clone()),
        json!({"name": "ada", "times": 3})
    );
    assert_eq!(
        Value::Object(child.outputs.clone()),
        json!({"greeting": "hello ada x3 from parent"})
    );
    assert_eq!(child.label("system.correlationId"), Some(e.id.as_str()));
    let trigger = child.trigger.as_ref().expect("trigger");
    assert_eq!(trigger.variables["executionId"], json!(e.id));
    assert_eq!(trigger.variables["namespace"], json!(NS));
    assert_eq!(trigger.variables["flowId"], json!("parent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_transmit_failed_and_wait() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml(
        "failing-child",
        r#"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"#,
    ))
    .await;
    let parent = |id: &str, extra: &str| {
        flow_yaml(
            id,
            &format!(
                r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: failing-child{extra}
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"#
            ),
        )
    };

    let e = kite.run(&parent("transmit", ""), json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["sub"]);
    assert_eq!(e.state_of("sub"), State::Failed);
    assert_eq!(e.out("sub", "state"), json!("FAILED"));

    let e = kite
        .run(
            &parent("no-transmit", "\n    transmitFailed: false"),
            json!({}),
        )
        .await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["sub", "after"]);
    assert_eq!(e.state_of("sub"), State::Success);
    assert_eq!(e.out("sub", "state"), json!("FAILED"));

    let e = kite
        .run(&parent("no-wait", "\n    wait: false"), json!({}))
        .await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["sub", "after"]);
    assert_eq!(e.state_of("sub"), State::Success);
    let child_id = e
        .out("sub", "executionId")
        .as_str()
        .expect("executionId")
        .to_owned();
    let child = kite.wait_end(&child_id).await;
    assert_state(&child, State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_to_a_missing_flow_or_with_bad_inputs_fails() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml("child", CHILD)).await;
    let src = flow_yaml(
        "missing-child",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: does-not-exist
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["sub"]);
    assert_eq!(e.state_of("sub"), State::Failed);

    // `child` requires `name`.
    let src = flow_yaml(
        "bad-inputs",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      times: 2
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("sub"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_ends_the_execution_and_its_subflows_killed() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml(
        "sleepy-child",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"#,
    ))
    .await;
    let flow = kite
        .deploy(&flow_yaml(
            "killed-parent",
            r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: sleepy-child
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
        ))
        .await;
    let parent = kite.create(&flow, json!({})).await;
    let running = kite
        .wait_until(&parent.id, "running its subflow", |e| {
            e.runs_of("sub")
                .first()
                .is_some_and(|r| r.outputs.contains_key("executionId"))
        })
        .await;
    let child_id = running
        .out("sub", "executionId")
        .as_str()
        .expect("child id")
        .to_owned();
    kite.wait_until(&child_id, "sleeping", |c| {
        c.runs_of("nap")
            .first()
            .is_some_and(|r| r.state.current == State::Running)
    })
    .await;

    kite.platform
        .send_event(&parent.id, Event::Kill)
        .await
        .expect("kill");
    let e = kite.wait_end(&parent.id).await;
    assert_state(&e, State::Killed);
    assert_eq!(e.task_ids(), ["sub"]);
    assert_eq!(e.state_of("sub"), State::Killed);
    assert!(
        history(&e.state).contains(&State::Killing),
        "{:?}",
        history(&e.state)
    );

    let child = kite.wait_end(&child_id).await;
    assert_state(&child, State::Killed);
    assert_eq!(child.state_of("nap"), State::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_a_paused_execution() {
    let kite = Kite::start().await;
    let flow = kite
        .deploy(&flow_yaml(
            "kill-paused",
            r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
        ))
        .await;
    let created = kite.create(&flow, json!({})).await;
    kite.wait_until(&created.id, "PAUSED", |e| e.state.current == State::Paused)
        .await;
    kite.platform
        .send_event(&created.id, Event::Kill)
        .await
        .expect("kill");
    let e = kite.wait_end(&created.id).await;
    assert_state(&e, State::Killed);
    assert_eq!(e.task_ids(), ["wait"]);
    assert_eq!(e.state_of("wait"), State::Killed);
}

// ---------------------------------------------------------------------------------------
// Expression context, inputs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expression_context_exposes_flow_execution_inputs_vars_labels_envs_secrets() {
    // base64("p@ss w0rd") = "cEBzcyB3MHJk"
    let kite = Kite::start_with_env(&[
        ("KESTRA_MY_VAR", "from-env"),
        ("SECRET_DB_PASSWORD", "cEBzcyB3MHJk"),
        ("OTHER", "x"),
    ])
    .await;
    let src = flow_yaml(
        "context",
        r#"
labels:
  team: data
variables:
  greeting: hi
  nested:
    deep: value
inputs:
  - id: who
    type: STRING
    defaults: world
  - id: n
    type: INT
tasks:
  - id: ctx
    type: io.kestra.plugin.core.output.OutputValues
    values:
      flow: "{{ flow.namespace }}/{{ flow.id }}/{{ flow.revision }}"
      execution: "{{ execution.id }}"
      input: "{{ inputs.who }}"
      inputMath: "{{ inputs.n * 2 }}"
      var: "{{ vars.greeting }} {{ vars.nested.deep }}"
      label: "{{ labels.team }}"
      env: "{{ envs.my_var }}"
      envMissing: "{{ envs.other ?? 'none' }}"
      secret: "{{ secret('DB_PASSWORD') }}"
      task: "{{ task.id }}"
      taskrun: "{{ taskrun.id }}"
  - id: state
    type: io.kestra.plugin.core.debug.Return
    format: "{{ tasks.ctx.state }}"
"#,
    );
    let e = kite.run(&src, json!({"n": 21})).await;
    assert_state(&e, State::Success);
    let v = e.out("ctx", "values");
    assert_eq!(v["flow"], json!("company.team/context/1"));
    assert_eq!(v["execution"], json!(e.id));
    assert_eq!(v["input"], json!("world"));
    assert_eq!(v["inputMath"], json!("42"));
    assert_eq!(v["var"], json!("hi value"));
    assert_eq!(v["label"], json!("data"));
    assert_eq!(v["env"], json!("from-env"));
    assert_eq!(v["envMissing"], json!("none"));
    // Rendered, then masked in the task's outputs (issue 8: secrets never stored in clear).
    assert_eq!(v["secret"], json!("******"));
    assert_eq!(v["task"], json!("ctx"));
    assert_eq!(v["taskrun"], json!(e.one("ctx").id));
    assert_eq!(e.out("state", "value"), json!("SUCCESS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_secret_fails_the_task() {
    let e = run(
        &flow_yaml(
            "secret-missing",
            r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('NOPE') }}"
"#,
        ),
        json!({}),
    )
    .await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("r"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_inputs_are_rejected_on_create() {
    let kite = Kite::start().await;
    let flow = kite
        .deploy(&flow_yaml(
            "inputs",
            r#"
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    min: 1
    max: 10
    defaults: 5
  - id: flag
    type: BOOLEAN
    required: false
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }} {{ inputs.count }}"
"#,
        ))
        .await;
    let reject = |inputs: Value| {
        let platform = kite.platform.clone();
        let flow = &flow;
        async move {
            match platform
                .create_execution(flow, obj(inputs.clone()), CreateOptions::default())
                .await
            {
                Err(ServiceError::Inputs(errs)) => errs,
                other => panic!("inputs {inputs} should be rejected, got {other:?}"),
            }
        }
    };
    let errs = reject(json!({})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["name"]
    );
    let errs = reject(json!({"name": "x", "count": "abc"})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["count"]
    );
    let errs = reject(json!({"name": "x", "count": 11})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["count"]
    );
    let errs = reject(json!({"name": "x", "count": 0})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["count"]
    );
    let errs = reject(json!({"name": "x", "flag": "maybe"})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["flag"]
    );
    let listed = kite
        .platform
        .repos
        .executions
        .list(NS, Some("inputs"), 10)
        .await
        .expect("list");
    assert!(
        listed.is_empty(),
        "no execution is stored for rejected inputs"
    );

    let e = kite.execute(&flow, json!({"name": "x"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.inputs["name"], json!("x"));
    assert_eq!(e.inputs["count"], json!(5));
    assert_eq!(e.out("r", "value"), json!("x 5"));
    let e = kite
        .execute(&flow, json!({"name": "y", "count": "7", "flag": "true"}))
        .await;
    assert_state(&e, State::Success);
    assert_eq!(e.inputs["count"], json!(7));
    assert_eq!(e.inputs["flag"], json!(true));
}

// =======================================================================================
// Level 2: the pure decision function
// =======================================================================================

/// A record driven by `executor::handle` with a controlled clock.
struct Pure {
    flow: Flow,
    rec: Record,
    rt: Runtime,
    now: DateTime<Utc>,
    seq: u64,
}

const EXEC_ID: &str = "pureExecution000000001";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
}

fn ms(n: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(n)
}

impl Pure {
    fn new(source: &str) -> Self {
        let mut flow = parse(source);
        flow.revision = Some(1);
        let exec = Execution::new(EXEC_ID.to_owned(), &flow, Map::new(), Vec::new(), t0());
        Self {
            flow,
            rec: Record::new(exec),
            rt: Runtime::new(Arc::new(kite_expr::NoHost), Map::new(), &[]),
            now: t0(),
            seq: 0,
        }
    }

    fn apply(&mut self, event: Event) -> Vec<Action> {
        self.seq += 1;
        let id = format!("event-{}", self.seq);
        self.apply_as(&id, &event)
    }

    fn apply_as(&mut self, event_id: &str, event: &Event) -> Vec<Action> {
        executor::handle(
            &self.flow,
            &mut self.rec,
            event,
            event_id,
            &self.rt,
            self.now,
        )
    }

    fn start(&mut self) -> Vec<Action> {
        self.apply(Event::Start)
    }

    fn exec(&self) -> &Execution {
        &self.rec.execution
    }

    fn result_event(&self, run_id: &str, state: State) -> Event {
        let run = self.exec().run_by_id(run_id);
        Event::WorkerResult(WorkerResult {
            task_run_id: run_id.to_owned(),
            attempt: run.attempts.len().saturating_sub(1) as u32,
            state,
            outputs: Map::new(),
            error_logs: Vec::new(),
        })
    }

    /// Reports the current attempt of run `run_id` as ended in `state`.
    fn finish(&mut self, run_id: &str, state: State) -> Vec<Action> {
        let ev = self.result_event(run_id, state);
        self.apply(ev)
    }

    /// Runs of `task` currently RUNNING.
    fn running(&self, task_prefix: &str) -> Vec<&TaskRun> {
        self.exec()
            .task_run_list
            .iter()
            .filter(|r| r.task_id.starts_with(task_prefix) && r.state.current == State::Running)
            .collect()
    }

    #[track_caller]
    fn run_id(&self, task: &str) -> String {
        self.exec().one(task).id.clone()
    }
}

fn jobs(actions: &[Action]) -> Vec<&WorkerJob> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch(j) => Some(j),
            _ => None,
        })
        .collect()
}

fn timers(actions: &[Action]) -> Vec<(DateTime<Utc>, TimerKind)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Timer { at, timer } => Some((*at, timer.clone())),
            _ => None,
        })
        .collect()
}

fn ended(actions: &[Action]) -> Option<State> {
    actions.iter().find_map(|a| match a {
        Action::Ended { state } => Some(*state),
        _ => None,
    })
}

fn subflow_requests(actions: &[Action]) -> Vec<&SubflowRequest> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartSubflow(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Actions other than log lines.
fn effects(actions: &[Action]) -> Vec<&Action> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Logs { .. }))
        .collect()
}

fn kv_task(id: &str) -> String {
    format!(
        "      - id: {id}\n        type: io.kestra.plugin.core.kv.Set\n        key: {id}\n        value: v\n"
    )
}

const TWO_WORKER_TASKS: &str = r#"
tasks:
  - id: k1
    type: io.kestra.plugin.core.kv.Set
    key: "key-{{ execution.id }}"
    value: one
  - id: k2
    type: io.kestra.plugin.core.kv.Set
    key: k2
    value: two
"#;

#[test]
fn pure_start_dispatches_the_first_worker_task_only() {
    let mut p = Pure::new(&flow_yaml("pure-seq", TWO_WORKER_TASKS));
    let actions = p.start();
    assert_eq!(p.exec().state.current, State::Running);
    assert_eq!(p.exec().task_ids(), ["k1"]);
    let js = jobs(&actions);
    assert_eq!(js.len(), 1);
    let j = js[0];
    let k1 = p.run_id("k1");
    assert_eq!(j.task_run_id, k1);
    assert_eq!(j.task_id, "k1");
    assert_eq!(j.attempt, 0);
    assert_eq!(j.execution_id, EXEC_ID);
    assert_eq!(j.namespace, NS);
    assert_eq!(j.flow_id, "pure-seq");
    assert_eq!(j.flow_revision, 1);
    assert_eq!(j.vars["taskrun"]["id"], json!(k1));
    assert_eq!(j.vars["execution"]["id"], json!(EXEC_ID));
    assert_eq!(j.vars["task"]["id"], json!("k1"));
    let run = p.exec().one("k1");
    assert_eq!(run.state.current, State::Running);
    assert_eq!(run.attempts.len(), 1);
    assert_eq!(run.attempts[0].state.current, State::Running);
    assert_eq!(ended(&actions), None);

    let actions = p.finish(&k1, State::Success);
    assert_eq!(p.exec().one("k1").state.current, State::Success);
    assert_eq!(p.exec().one("k1").attempts[0].state.current, State::Success);
    let js = jobs(&actions);
    assert_eq!(js.len(), 1);
    assert_eq!(js[0].task_id, "k2");
    assert_eq!(ended(&actions), None);

    let k2 = p.run_id("k2");
    let actions = p.finish(&k2, State::Success);
    assert!(jobs(&actions).is_empty());
    assert_eq!(ended(&actions), Some(State::Success));
    assert_eq!(p.exec().state.current, State::Success);
    assert_eq!(p.exec().state.end_date, Some(t0()));
}

#[test]
fn pure_worker_outputs_are_stored_on_the_task_run() {
    let mut p = Pure::new(&flow_yaml("pure-outputs", TWO_WORKER_TASKS));
    p.start();
    let k1 = p.run_id("k1");
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k1.clone(),
        attempt: 0,
        state: State::Success,
        outputs: obj(json!({"value": 42})),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec().one("k1").outputs["value"], json!(42));
    // The next job sees it in its context.
    assert_eq!(jobs(&actions)[0].vars["outputs"]["k1"]["value"], json!(42));
}

#[test]
fn pure_an_event_redelivered_after_a_later_one_resends_its_actions() {
    let mut p = Pure::new(&flow_yaml("pure-late", TWO_WORKER_TASKS));
    let start = p.apply_as("start-1", &Event::Start);
    assert_eq!(jobs(&start).len(), 1, "k1 dispatched");
    let k1 = p.run_id("k1");
    let ev = p.result_event(&k1, State::Success);
    let result = p.apply_as("result-1", &ev);
    assert_eq!(jobs(&result).len(), 1, "k2 dispatched");
    let after = p.rec.clone();
    // The start event's handler stopped before its sends and the queue hands it over again
    // after the later event: its actions are sent again, but not the dispatch of k1, whose
    // result came back (so it was sent); nothing else changes.
    let again = p.apply_as("start-1", &Event::Start);
    assert_eq!(again.len(), start.len() - 1, "{again:?}");
    assert!(jobs(&again).is_empty());
    assert_eq!(p.rec, after);
}

#[test]
fn pure_an_earlier_event_redelivered_resends_a_running_job_with_its_context() {
    let mut p = Pure::new(&flow_yaml("pure-ring", TWO_WORKER_TASKS));
    let start = p.apply_as("start-1", &Event::Start);
    assert_eq!(jobs(&start).len(), 1);
    // A later event that changes nothing moves the start's outbox into the ring, where
    // jobs are kept without their context.
    p.apply_as("later-1", &Event::Unqueue);
    let ring = serde_json::to_string(&p.rec.internal.earlier).unwrap();
    assert!(!ring.contains("\"outputs\""), "{ring}");
    // k1 still runs: delivered again, the start sends the same job, context included.
    let again = p.apply_as("start-1", &Event::Start);
    assert_eq!(again, start);
}

#[test]
fn pure_a_second_start_under_another_id_changes_nothing() {
    // A handler that finds the execution it creates already there sends its start again.
    let mut p = Pure::new(&flow_yaml("pure-restart", TWO_WORKER_TASKS));
    let first = p.apply_as("start-1", &Event::Start);
    assert_eq!(jobs(&first).len(), 1);
    let after = p.rec.execution.clone();
    let again = p.apply_as("start-2", &Event::Start);
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(p.rec.execution, after);
}

#[test]
fn pure_same_event_twice_is_idempotent() {
    let mut p = Pure::new(&flow_yaml("pure-idem", TWO_WORKER_TASKS));
    let first = p.apply_as("start-1", &Event::Start);
    let after_first = p.rec.clone();
    let again = p.apply_as("start-1", &Event::Start);
    assert_eq!(first, again, "a redelivered event yields the same actions");
    assert_eq!(p.rec, after_first, "and leaves the record unchanged");

    let k1 = p.run_id("k1");
    let ev = p.result_event(&k1, State::Success);
    let first = p.apply_as("result-1", &ev);
    let after_first = p.rec.clone();
    let again = p.apply_as("result-1", &ev);
    assert_eq!(first, again);
    assert_eq!(p.rec, after_first);
    assert_eq!(p.exec().task_ids(), ["k1", "k2"], "no second k2 run");
}

#[test]
fn pure_late_and_duplicate_worker_results_are_ignored() {
    let mut p = Pure::new(&flow_yaml("pure-late", TWO_WORKER_TASKS));
    p.start();
    let k1 = p.run_id("k1");
    let ev = p.result_event(&k1, State::Success);
    p.apply(ev.clone());
    let before = p.exec().clone();
    // The same result delivered again under another event id.
    let actions = p.apply(ev);
    assert_eq!(p.exec(), &before, "duplicate result changed the execution");
    assert!(
        effects(&actions).is_empty(),
        "duplicate result produced {actions:?}"
    );
    // A contradicting late result for the finished attempt.
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k1.clone(),
        attempt: 0,
        state: State::Failed,
        outputs: Map::new(),
        error_logs: vec!["late".into()],
    }));
    assert_eq!(p.exec(), &before);
    assert!(effects(&actions).is_empty());
    // A result for an attempt that does not exist yet.
    let k2 = p.run_id("k2");
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k2.clone(),
        attempt: 3,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec().one("k2").state.current, State::Running);
    assert!(effects(&actions).is_empty());
    // A result for an unknown task run.
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: "unknown".into(),
        attempt: 0,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec().one("k2").state.current, State::Running);
    assert!(effects(&actions).is_empty());
}

#[test]
fn pure_ids_are_stable_across_replays() {
    let src = flow_yaml(
        "pure-ids",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.kv.Set
        key: a
        value: v
      - id: b
        type: io.kestra.plugin.core.kv.Set
        key: b
        value: v
"#,
    );
    let mut p1 = Pure::new(&src);
    let mut p2 = Pure::new(&src);
    let a1 = p1.apply_as("one", &Event::Start);
    let a2 = p2.apply_as("another-id", &Event::Start);
    let ids = |p: &Pure| -> Vec<String> {
        p.exec()
            .task_run_list
            .iter()
            .map(|r| r.id.clone())
            .collect()
    };
    assert_eq!(
        ids(&p1),
        ids(&p2),
        "same record + event -> same task run ids"
    );
    assert_eq!(p1.exec(), p2.exec());
    assert_eq!(jobs(&a1), jobs(&a2));
    assert_eq!(ids(&p1).len(), 3);

    // Replaying the next event on a copy of the record yields the same decision.
    let snapshot = p1.rec.clone();
    let a = p1.run_id("a");
    let ev = p1.result_event(&a, State::Success);
    let out1 = p1.apply_as("r", &ev);
    p1.rec = snapshot;
    let out2 = p1.apply_as("r-redelivered-with-new-id", &ev);
    assert_eq!(effects(&out1), effects(&out2));
}

#[test]
fn pure_parallel_concurrent_limits_running_children() {
    let src = flow_yaml(
        "pure-parallel",
        &format!(
            "tasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: 2\n    tasks:\n{}{}{}{}",
            kv_task("k1"),
            kv_task("k2"),
            kv_task("k3"),
            kv_task("k4")
        ),
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let started: Vec<&str> = jobs(&actions).iter().map(|j| j.task_id.as_str()).collect();
    assert_eq!(started, ["k1", "k2"]);
    assert_eq!(p.running("k").len(), 2);
    assert_eq!(p.exec().one("par").state.current, State::Running);

    let actions = p.finish(&p.run_id("k2"), State::Success);
    let started: Vec<&str> = jobs(&actions).iter().map(|j| j.task_id.as_str()).collect();
    assert_eq!(started, ["k3"]);
    assert_eq!(p.running("k").len(), 2);

    let actions = p.finish(&p.run_id("k1"), State::Success);
    let started: Vec<&str> = jobs(&actions).iter().map(|j| j.task_id.as_str()).collect();
    assert_eq!(started, ["k4"]);
    assert_eq!(p.running("k").len(), 2);

    let actions = p.finish(&p.run_id("k3"), State::Success);
    assert!(jobs(&actions).is_empty());
    assert_eq!(p.exec().one("par").state.current, State::Running);
    let actions = p.finish(&p.run_id("k4"), State::Success);
    assert_eq!(p.exec().one("par").state.current, State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
    let par = p.run_id("par");
    for t in ["k1", "k2", "k3", "k4"] {
        assert_eq!(
            p.exec().one(t).parent_task_run_id.as_deref(),
            Some(par.as_str())
        );
    }
}

#[test]
fn pure_parallel_waits_for_running_siblings_before_failing() {
    let src = flow_yaml(
        "pure-parallel-fail",
        &format!(
            "tasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{}{}",
            kv_task("k1"),
            kv_task("k2"),
        ),
    );
    let mut p = Pure::new(&src);
    p.start();
    p.finish(&p.run_id("k1"), State::Failed);
    assert_eq!(
        p.exec().one("par").state.current,
        State::Running,
        "k2 is still running"
    );
    assert_eq!(p.exec().state.current, State::Running);
    let actions = p.finish(&p.run_id("k2"), State::Success);
    assert_eq!(p.exec().one("par").state.current, State::Failed);
    assert_eq!(ended(&actions), Some(State::Failed));
}

fn foreach_source(limit: &str) -> String {
    flow_yaml(
        "pure-foreach",
        &format!(
            r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
{limit}
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: "k-{{{{ taskrun.value }}}}"
        value: v
"#
        ),
    )
}

fn job_values(p: &Pure, actions: &[Action]) -> Vec<String> {
    jobs(actions)
        .iter()
        .map(|j| {
            p.exec()
                .run_by_id(&j.task_run_id)
                .value
                .clone()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn pure_foreach_default_concurrency_is_one_value_at_a_time() {
    let mut p = Pure::new(&foreach_source(""));
    let actions = p.start();
    assert_eq!(job_values(&p, &actions), ["a"]);
    assert_eq!(jobs(&actions)[0].vars["taskrun"]["value"], json!("a"));
    for (done, next) in [("a", Some("b")), ("b", Some("c")), ("c", None)] {
        let id = p
            .running("k")
            .iter()
            .find(|r| r.value.as_deref() == Some(done))
            .expect("running")
            .id
            .clone();
        let actions = p.finish(&id, State::Success);
        assert_eq!(
            job_values(&p, &actions),
            next.into_iter().map(str::to_owned).collect::<Vec<_>>()
        );
        assert!(p.running("k").len() <= 1);
    }
    assert_eq!(p.exec().state.current, State::Success);
    assert_eq!(p.exec().one("each").state.current, State::Success);
}

#[test]
fn pure_foreach_concurrency_limit_zero_starts_every_value() {
    let mut p = Pure::new(&foreach_source("    concurrencyLimit: 0"));
    let actions = p.start();
    assert_eq!(job_values(&p, &actions), ["a", "b", "c"]);
    assert_eq!(p.running("k").len(), 3);
}

#[test]
fn pure_foreach_concurrency_limit_two() {
    let mut p = Pure::new(&foreach_source("    concurrencyLimit: 2"));
    let actions = p.start();
    assert_eq!(job_values(&p, &actions), ["a", "b"]);
    let b = p
        .running("k")
        .iter()
        .find(|r| r.value.as_deref() == Some("b"))
        .expect("b")
        .id
        .clone();
    let actions = p.finish(&b, State::Success);
    assert_eq!(job_values(&p, &actions), ["c"]);
    assert_eq!(p.running("k").len(), 2);
}

#[test]
fn pure_dag_starts_tasks_when_their_dependencies_ended() {
    let src = flow_yaml(
        "pure-dag",
        r#"
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: d
          type: io.kestra.plugin.core.kv.Set
          key: d
          value: v
        dependsOn: [b, c]
      - task:
          id: b
          type: io.kestra.plugin.core.kv.Set
          key: b
          value: v
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.kv.Set
          key: c
          value: v
        dependsOn: [a]
      - task:
          id: a
          type: io.kestra.plugin.core.kv.Set
          key: a
          value: v
"#,
    );
    let mut p = Pure::new(&src);
    let names = |actions: &[Action]| -> Vec<String> {
        jobs(actions).iter().map(|j| j.task_id.clone()).collect()
    };
    let actions = p.start();
    assert_eq!(names(&actions), ["a"]);
    let actions = p.finish(&p.run_id("a"), State::Success);
    assert_eq!(names(&actions), ["b", "c"]);
    let actions = p.finish(&p.run_id("c"), State::Success);
    assert!(names(&actions).is_empty(), "d still waits for b");
    let actions = p.finish(&p.run_id("b"), State::Success);
    assert_eq!(names(&actions), ["d"]);
    let actions = p.finish(&p.run_id("d"), State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
}

fn retry_source(retry: &str) -> String {
    flow_yaml(
        "pure-retry",
        &format!(
            r#"
tasks:
  - id: k
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: v
    retry:
{retry}
"#
        ),
    )
}

/// Fails the current attempt of `k` at the current time; returns the retry timer, if any.
fn fail_k(p: &mut Pure) -> (Vec<Action>, Option<DateTime<Utc>>) {
    let actions = p.finish(&p.run_id("k"), State::Failed);
    let ts = timers(&actions);
    assert!(ts.len() <= 1, "{ts:?}");
    let k = p.run_id("k");
    let at = ts.first().map(|(at, kind)| {
        assert_eq!(
            kind,
            &TimerKind::Retry {
                task_run_id: k.clone()
            }
        );
        *at
    });
    (actions, at)
}

/// Fires the retry timer at `at`: the next attempt is dispatched.
fn fire_retry(p: &mut Pure, at: DateTime<Utc>, expected_attempt: u32) {
    p.now = at;
    let k = p.run_id("k");
    let actions = p.apply(Event::Timer(TimerKind::Retry {
        task_run_id: k.clone(),
    }));
    let js = jobs(&actions);
    assert_eq!(js.len(), 1, "{actions:?}");
    assert_eq!(js[0].task_run_id, k, "retries keep the task run");
    assert_eq!(js[0].attempt, expected_attempt);
    assert_eq!(p.exec().one("k").state.current, State::Running);
}

#[test]
fn pure_retry_constant_timers_and_attempts() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT0.1S\n      maxAttempt: 3",
    ));
    p.start();
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(100)));
    assert_eq!(p.exec().one("k").state.current, State::Retrying);
    assert_eq!(
        p.exec().state.current,
        State::Running,
        "the execution waits for the retry"
    );
    fire_retry(&mut p, t0() + ms(100), 1);
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(200)));
    fire_retry(&mut p, t0() + ms(200), 2);
    let (actions, at) = fail_k(&mut p);
    assert_eq!(at, None, "maxAttempt 3 reached");
    let run = p.exec().one("k");
    assert_eq!(run.state.current, State::Failed);
    assert_eq!(run.attempts.len(), 3);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_retry_exponential_delays_grow_and_are_capped() {
    let mut p = Pure::new(&retry_source(
        "      type: exponential\n      interval: PT0.1S\n      maxInterval: PT0.3S\n      delayFactor: 2\n      maxAttempt: 4",
    ));
    p.start();
    let mut now = t0();
    let mut delays = Vec::new();
    for attempt in 1..4 {
        let (_, at) = fail_k(&mut p);
        let at = at.expect("a retry");
        delays.push((at - now).num_milliseconds());
        now = at;
        fire_retry(&mut p, at, attempt);
    }
    assert_eq!(delays, [100, 200, 300]);
    let (actions, at) = fail_k(&mut p);
    assert_eq!(at, None);
    assert_eq!(p.exec().one("k").attempts.len(), 4);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_retry_max_duration_stops_retrying() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT0.1S\n      maxDuration: PT0.25S",
    ));
    p.start();
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(100)));
    fire_retry(&mut p, t0() + ms(100), 1);
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(200)));
    fire_retry(&mut p, t0() + ms(200), 2);
    let (actions, at) = fail_k(&mut p);
    assert_eq!(
        at, None,
        "a retry at +300ms would exceed maxDuration PT0.25S"
    );
    assert_eq!(p.exec().one("k").attempts.len(), 3);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_late_result_of_a_previous_attempt_is_ignored() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT0.1S\n      maxAttempt: 3",
    ));
    p.start();
    let k = p.run_id("k");
    let (_, at) = fail_k(&mut p);
    fire_retry(&mut p, at.expect("retry"), 1);
    let before = p.exec().clone();
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k.clone(),
        attempt: 0,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(
        p.exec(),
        &before,
        "a result for attempt 0 arrived during attempt 1"
    );
    assert!(effects(&actions).is_empty());
    // A retry timer fired twice does not start a third attempt.
    let actions = p.apply(Event::Timer(TimerKind::Retry { task_run_id: k }));
    assert!(jobs(&actions).is_empty());
    assert_eq!(p.exec().one("k").attempts.len(), 2);
}

#[test]
fn pure_pause_delay_arms_a_timer_and_resumes() {
    let src = flow_yaml(
        "pure-pause",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.5S
  - id: after
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: v
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let w = p.run_id("wait");
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(500),
            TimerKind::PauseDelay {
                task_run_id: w.clone()
            }
        )]
    );
    assert_eq!(p.exec().one("wait").state.current, State::Paused);
    assert_eq!(p.exec().state.current, State::Paused);
    assert!(jobs(&actions).is_empty());
    assert_eq!(ended(&actions), None);

    p.now = t0() + ms(500);
    let actions = p.apply(Event::Timer(TimerKind::PauseDelay {
        task_run_id: w.clone(),
    }));
    assert_eq!(p.exec().one("wait").state.current, State::Success);
    assert_eq!(p.exec().state.current, State::Running);
    assert_eq!(jobs(&actions).len(), 1);
    assert_eq!(jobs(&actions)[0].task_id, "after");
    // The same timer again changes nothing.
    let actions = p.apply(Event::Timer(TimerKind::PauseDelay { task_run_id: w }));
    assert!(effects(&actions).is_empty());
    assert_eq!(p.exec().task_ids(), ["wait", "after"]);
}

#[test]
fn pure_pause_timeout_fails_unless_resumed_first() {
    let src = flow_yaml(
        "pure-pause-timeout",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1S
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let w = p.run_id("wait");
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(1000),
            TimerKind::PauseTimeout {
                task_run_id: w.clone()
            }
        )]
    );
    let snapshot = p.rec.clone();

    p.now = t0() + ms(1000);
    let actions = p.apply(Event::Timer(TimerKind::PauseTimeout {
        task_run_id: w.clone(),
    }));
    assert_eq!(p.exec().one("wait").state.current, State::Failed);
    assert_eq!(ended(&actions), Some(State::Failed));

    // Resumed before the timeout: the late timeout is ignored.
    p.rec = snapshot;
    p.now = t0() + ms(200);
    let actions = p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(ended(&actions), Some(State::Success));
    p.now = t0() + ms(1000);
    let actions = p.apply(Event::Timer(TimerKind::PauseTimeout { task_run_id: w }));
    assert!(effects(&actions).is_empty());
    assert_eq!(p.exec().state.current, State::Success);
}

#[test]
fn pure_resume_with_invalid_on_resume_inputs_stays_paused() {
    let src = flow_yaml(
        "pure-pause-inputs",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    let actions = p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(
        p.exec().one("wait").state.current,
        State::Paused,
        "missing required onResume input"
    );
    assert_eq!(p.exec().state.current, State::Paused);
    assert_eq!(ended(&actions), None);
    let actions = p.apply(Event::Resume {
        inputs: obj(json!({"approved": true})),
    });
    assert_eq!(ended(&actions), Some(State::Success));
    assert_eq!(
        p.exec().one("wait").outputs["onResume"],
        json!({"approved": true})
    );
}

#[test]
fn pure_sleep_arms_a_timer_for_its_duration() {
    let src = flow_yaml(
        "pure-sleep",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let nap = p.run_id("nap");
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(2000),
            TimerKind::Sleep {
                task_run_id: nap.clone()
            }
        )]
    );
    assert!(jobs(&actions).is_empty(), "Sleep needs no worker");
    assert_eq!(p.exec().one("nap").state.current, State::Running);
    p.now = t0() + ms(2000);
    let actions = p.apply(Event::Timer(TimerKind::Sleep { task_run_id: nap }));
    assert_eq!(p.exec().one("nap").state.current, State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_wait_for_arms_the_interval_timer_between_iterations() {
    let src = flow_yaml(
        "pure-wait-for",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.loop.iterationCount >= 2 }}"
    checkFrequency:
      interval: PT3S
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: k
        value: v
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    assert_eq!(jobs(&actions).len(), 1);
    let loop_id = p.run_id("loop");
    let first = p.running("k")[0].id.clone();
    let actions = p.finish(&first, State::Success);
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(3000),
            TimerKind::WaitFor {
                task_run_id: loop_id.clone()
            }
        )]
    );
    assert!(
        jobs(&actions).is_empty(),
        "the next iteration waits for the interval"
    );
    assert_eq!(p.exec().one("loop").outputs["iterationCount"], json!(1));

    p.now = t0() + ms(3000);
    let actions = p.apply(Event::Timer(TimerKind::WaitFor {
        task_run_id: loop_id,
    }));
    assert_eq!(jobs(&actions).len(), 1);
    let second = p.running("k")[0];
    assert_eq!(second.iteration, Some(1));
    let second = second.id.clone();
    assert_ne!(second, first);
    let actions = p.finish(&second, State::Success);
    assert_eq!(p.exec().one("loop").outputs["iterationCount"], json!(2));
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_subflow_requests_a_child_and_ends_with_it() {
    let src = flow_yaml(
        "pure-parent",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      parent: "{{ execution.id }}"
      n: 2
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let reqs = subflow_requests(&actions);
    assert_eq!(reqs.len(), 1);
    let req = reqs[0].clone();
    let sub = p.run_id("sub");
    assert_eq!(req.parent_execution_id, EXEC_ID);
    assert_eq!(req.parent_task_run_id, sub);
    assert_eq!(req.namespace, NS);
    assert_eq!(req.flow_id, "child");
    assert!(req.wait);
    assert_eq!(
        Value::Object(req.inputs.clone()),
        json!({"parent": EXEC_ID, "n": 2})
    );
    assert!(
        req.labels
            .iter()
            .any(|l| l.key == "system.correlationId" && l.value == EXEC_ID)
    );
    assert_eq!(req.trigger["executionId"], json!(EXEC_ID));
    assert_eq!(req.trigger["flowId"], json!("pure-parent"));
    assert_eq!(p.exec().one("sub").state.current, State::Running);
    assert_eq!(
        p.exec().one("sub").outputs["executionId"],
        json!(req.execution_id)
    );

    // Same decision, same child id.
    let mut replay = Pure::new(&src);
    let again = replay.apply_as("other", &Event::Start);
    assert_eq!(subflow_requests(&again)[0].execution_id, req.execution_id);

    // A stale child is ignored.
    let actions = p.apply(Event::SubflowEnded {
        task_run_id: sub.clone(),
        execution_id: "someOtherChild".into(),
        state: State::Failed,
        outputs: Map::new(),
        error: None,
    });
    assert!(effects(&actions).is_empty());
    assert_eq!(p.exec().one("sub").state.current, State::Running);

    let actions = p.apply(Event::SubflowEnded {
        task_run_id: sub,
        execution_id: req.execution_id.clone(),
        state: State::Success,
        outputs: obj(json!({"answer": 42})),
        error: None,
    });
    let run = p.exec().one("sub");
    assert_eq!(run.state.current, State::Success);
    assert_eq!(run.outputs["state"], json!("SUCCESS"));
    assert_eq!(run.outputs["outputs"], json!({"answer": 42}));
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_child_notifies_its_parent_when_it_ends() {
    let src = flow_yaml(
        "pure-child",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: done
outputs:
  - id: result
    type: STRING
    value: "{{ outputs.r.value }}"
"#,
    );
    let mut p = Pure::new(&src);
    p.rec.execution.trigger = Some(ExecutionTrigger {
        id: "subflow".into(),
        kind: "subflow".into(),
        variables: obj(json!({
            "executionId": "parentExec",
            "namespace": NS,
            "flowId": "parent",
            "flowRevision": 1,
            "parentExecutionId": "parentExec",
            "parentTaskRunId": "parentRun",
        })),
    });
    let actions = p.start();
    let notify: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::NotifyParent { .. }))
        .collect();
    assert_eq!(
        notify,
        [&Action::NotifyParent {
            execution_id: "parentExec".into(),
            task_run_id: "parentRun".into(),
            state: State::Success,
            outputs: obj(json!({"result": "done"})),
            error: None,
        }]
    );
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_kill_kills_running_task_runs() {
    let mut p = Pure::new(&flow_yaml("pure-kill", TWO_WORKER_TASKS));
    p.start();
    let k1 = p.run_id("k1");
    p.now = t0() + ms(10);
    let actions = p.apply(Event::Kill);
    assert!(
        actions.contains(&Action::KillTask {
            task_run_id: k1.clone()
        }),
        "{actions:?}"
    );
    assert_eq!(ended(&actions), Some(State::Killed));
    assert_eq!(p.exec().state.current, State::Killed);
    assert_eq!(
        history(&p.exec().state),
        [
            State::Created,
            State::Running,
            State::Killing,
            State::Killed
        ]
    );
    assert_eq!(p.exec().one("k1").state.current, State::Killed);
    assert_eq!(p.exec().task_ids(), ["k1"]);
    // The worker's result arriving after the kill changes nothing.
    let before = p.exec().clone();
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k1,
        attempt: 0,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec(), &before);
    assert!(effects(&actions).is_empty());
}

#[test]
fn pure_kill_cascades_to_subflow_executions() {
    let src = flow_yaml(
        "pure-kill-sub",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let child = subflow_requests(&actions)[0].execution_id.clone();
    let actions = p.apply(Event::Kill);
    assert!(
        actions.contains(&Action::KillExecution {
            execution_id: child
        }),
        "{actions:?}"
    );
    assert_eq!(p.exec().one("sub").state.current, State::Killed);
    assert_eq!(ended(&actions), Some(State::Killed));
}

#[test]
fn pure_inline_flow_ends_in_one_decision_with_ended_last() {
    let src = flow_yaml(
        "pure-inline",
        r#"
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "{{ flow.id }}"
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    assert_eq!(p.exec().state.current, State::Success);
    assert_eq!(p.exec().one("b").outputs["value"], json!("pure-inline"));
    assert!(jobs(&actions).is_empty(), "Log and Return run inline");
    let logs: Vec<&LogEntry> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Logs { entries } => Some(entries.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.task_id.as_deref() == Some("a") && l.message == "hello")
    );
    assert!(
        logs.iter()
            .any(|l| l.message.contains("Flow completed with state SUCCESS"))
    );
    assert!(
        matches!(
            actions.last(),
            Some(Action::Ended {
                state: State::Success
            })
        ),
        "Ended must be the last action (after the logs it announces): {:?}",
        actions
            .iter()
            .map(std::mem::discriminant)
            .collect::<Vec<_>>()
    );
}

// =======================================================================================
// Level 1, continued: combinations
// =======================================================================================

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_failure_stops_later_values_and_runs_the_loop_errors() {
    let src = flow_yaml(
        "foreach-fail",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: check
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.value == 'b' }}"
    errors:
      - id: loop_error
        type: io.kestra.plugin.core.debug.Return
        format: "loop failed"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    let runs: Vec<(&str, Option<&str>, State)> = e
        .task_run_list
        .iter()
        .map(|r| (r.task_id.as_str(), r.value.as_deref(), r.state.current))
        .collect();
    assert_eq!(
        runs,
        [
            ("each", None, State::Failed),
            ("check", Some("a"), State::Success),
            ("check", Some("b"), State::Failed),
            ("loop_error", None, State::Success),
        ]
    );
    assert_eq!(
        e.one("loop_error").parent_task_run_id.as_deref(),
        Some(e.one("each").id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_with_allowed_failures_ends_warning() {
    let src = flow_yaml(
        "foreach-warning",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: tolerated
        type: io.kestra.plugin.core.execution.Fail
        allowFailure: true
      - id: next
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(
        e.task_ids(),
        ["each", "tolerated", "next", "tolerated", "next", "after"]
    );
    assert_eq!(e.state_of("each"), State::Warning);
    assert!(
        e.runs_of("tolerated")
            .iter()
            .all(|r| r.state.current == State::Warning)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_values_from_a_json_input_expression() {
    let src = flow_yaml(
        "foreach-input",
        r#"
inputs:
  - id: items
    type: JSON
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.items }}"
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
    );
    let e = run(&src, json!({"items": r#"["x", "y"]"#})).await;
    assert_state(&e, State::Success);
    let values: Vec<Option<&str>> = e.runs_of("r").iter().map(|r| r.value.as_deref()).collect();
    assert_eq!(values, [Some("x"), Some("y")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flowables_inside_foreach_see_the_iteration_value() {
    let src = flow_yaml(
        "foreach-flowables",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: inner
            type: io.kestra.plugin.core.debug.Return
            format: "in {{ taskrun.value }}"
      - id: cond
        type: io.kestra.plugin.core.flow.If
        condition: "{{ taskrun.value == 'b' }}"
        then:
          - id: only_b
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.inner[taskrun.value].value }}!"
      - id: pick
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ taskrun.value }}"
        cases:
          a:
            - id: case_a
              type: io.kestra.plugin.core.debug.Return
              format: "case {{ taskrun.value }}"
        defaults:
          - id: case_other
            type: io.kestra.plugin.core.debug.Return
            format: "other {{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.inner['a'].value }}|{{ outputs.only_b['b'].value }}|{{ outputs.case_a['a'].value }}|{{ outputs.case_other['b'].value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    let inner: Vec<&Value> = e
        .runs_of("inner")
        .iter()
        .map(|r| &r.outputs["value"])
        .collect();
    assert_eq!(inner, [&json!("in a"), &json!("in b")]);
    assert_eq!(e.out("only_b", "value"), json!("in b!"));
    assert_eq!(e.out("case_a", "value"), json!("case a"));
    assert_eq!(e.out("case_other", "value"), json!("other b"));
    let conds: Vec<&Value> = e
        .runs_of("cond")
        .iter()
        .map(|r| &r.outputs["evaluationResult"])
        .collect();
    assert_eq!(conds, [&json!(false), &json!(true)]);
    assert_eq!(e.out("after", "value"), json!("in a|in b!|case a|other b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flowable_allow_failure_and_run_if() {
    let src = flow_yaml(
        "flowable-props",
        r#"
tasks:
  - id: tolerant
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
  - id: skipped_seq
    type: io.kestra.plugin.core.flow.Sequential
    runIf: "false"
    tasks:
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: never
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["tolerant", "boom", "skipped_seq", "after"]);
    assert_eq!(e.state_of("boom"), State::Failed);
    assert_eq!(e.state_of("tolerant"), State::Warning);
    assert_eq!(e.state_of("skipped_seq"), State::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_finally_task_fails_a_successful_execution() {
    let src = flow_yaml(
        "finally-fails",
        r#"
tasks:
  - id: work
    type: io.kestra.plugin.core.debug.Return
    format: ok
finally:
  - id: cleanup
    type: io.kestra.plugin.core.execution.Fail
  - id: cleanup2
    type: io.kestra.plugin.core.debug.Return
    format: still runs
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["work", "cleanup", "cleanup2"]);
    assert_eq!(e.state_of("work"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_task_that_succeeds_does_not_trigger_errors() {
    let src = flow_yaml(
        "retry-no-errors",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount == 0 }}"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ taskrun.attemptsCount }}"
errors:
  - id: on_error
    type: io.kestra.plugin.core.debug.Return
    format: should not run
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["flaky", "after"]);
    assert_eq!(e.one("flaky").attempts.len(), 2);
    assert_eq!(e.state_of("flaky"), State::Success);
    assert_eq!(e.out("after", "value"), json!("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_of_a_subflow_task_starts_a_new_child() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml(
        "always-failing",
        r#"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"#,
    ))
    .await;
    let e = kite
        .run(
            &flow_yaml(
                "subflow-retry",
                r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: always-failing
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
"#,
            ),
            json!({}),
        )
        .await;
    assert_state(&e, State::Failed);
    let sub = e.one("sub");
    assert_eq!(sub.attempts.len(), 2);
    assert_eq!(sub.state.current, State::Failed);
    let children = kite
        .platform
        .repos
        .executions
        .list(NS, Some("always-failing"), 10)
        .await
        .expect("list");
    assert_eq!(children.len(), 2, "one child execution per attempt");
    assert!(
        children
            .iter()
            .all(|c| c.execution.state.current == State::Failed)
    );
    assert!(
        children
            .iter()
            .any(|c| Some(c.execution.id.as_str()) == sub.outputs["executionId"].as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_labels_and_inherit_labels() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml("child", CHILD)).await;
    let e = kite
        .run(
            &flow_yaml(
                "subflow-labels",
                r#"
labels:
  team: data
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inheritLabels: true
    inputs:
      name: x
    labels:
      origin: "{{ flow.id }}"
"#,
            ),
            json!({}),
        )
        .await;
    assert_state(&e, State::Success);
    let child_id = e.out("sub", "executionId").as_str().expect("id").to_owned();
    let child = kite.get(&child_id).await.expect("child");
    assert_eq!(child.label("team"), Some("data"));
    assert_eq!(child.label("origin"), Some("subflow-labels"));
    assert_eq!(child.label("system.correlationId"), Some(e.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_with_a_failing_child_fails_at_once() {
    let src = flow_yaml(
        "wait-for-fail",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
    errors:
      - id: loop_error
        type: io.kestra.plugin.core.debug.Return
        format: handled
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("loop"), State::Failed);
    assert_eq!(e.runs_of("boom").len(), 1, "a failing child stops the loop");
    assert_eq!(e.one("boom").attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_runs_its_errors_branch() {
    let src = flow_yaml(
        "wait-for-errors",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
    errors:
      - id: loop_error
        type: io.kestra.plugin.core.debug.Return
        format: handled
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["loop", "boom", "loop_error"]);
    assert_eq!(e.state_of("loop_error"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labels_task_accepts_the_list_form() {
    let e = run(
        &flow_yaml(
            "labels-list",
            r#"
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: stage
        value: "{{ 'b' ~ 'eta' }}"
      - key: number
        value: 7
"#,
        ),
        json!({}),
    )
    .await;
    assert_state(&e, State::Success);
    assert_eq!(e.label("stage"), Some("beta"));
    assert_eq!(e.label("number"), Some("7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_condition_render_error_fails_the_if() {
    let e = run(
        &flow_yaml(
            "if-error",
            r#"
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ outputs.nothing.value }}"
    then:
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: never
"#,
        ),
        json!({}),
    )
    .await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["check"]);
    assert_eq!(e.state_of("check"), State::Failed);
}

// =======================================================================================
// Level 2, continued
// =======================================================================================

#[test]
fn pure_a_retrying_child_keeps_its_parent_running() {
    let src = flow_yaml(
        "pure-retry-parent",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: k
        value: v
        retry:
          type: constant
          interval: PT1S
          maxAttempt: 2
      - id: other
        type: io.kestra.plugin.core.kv.Set
        key: other
        value: v
  - id: next
    type: io.kestra.plugin.core.kv.Set
    key: next
    value: v
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: failed
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    p.finish(&p.run_id("other"), State::Success);
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(1000)));
    assert_eq!(p.exec().one("k").state.current, State::Retrying);
    assert_eq!(
        p.exec().one("par").state.current,
        State::Running,
        "Parallel concluded during a retry"
    );
    assert_eq!(
        p.exec().task_ids(),
        ["par", "k", "other"],
        "nothing else may start during the retry"
    );
    fire_retry(&mut p, t0() + ms(1000), 1);
    let actions = p.finish(&p.run_id("k"), State::Success);
    assert_eq!(p.exec().one("par").state.current, State::Success);
    assert_eq!(
        jobs(&actions)
            .iter()
            .map(|j| j.task_id.as_str())
            .collect::<Vec<_>>(),
        ["next"]
    );
}

#[test]
fn pure_kill_during_a_retry_wait() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT1S\n      maxAttempt: 3",
    ));
    p.start();
    let k = p.run_id("k");
    fail_k(&mut p);
    let actions = p.apply(Event::Kill);
    assert_eq!(ended(&actions), Some(State::Killed));
    assert_eq!(p.exec().one("k").state.current, State::Killed);
    p.now = t0() + ms(1000);
    let actions = p.apply(Event::Timer(TimerKind::Retry { task_run_id: k }));
    assert!(effects(&actions).is_empty(), "{actions:?}");
    assert_eq!(p.exec().one("k").attempts.len(), 1);
    assert_eq!(p.exec().state.current, State::Killed);
}

#[test]
fn pure_events_after_the_end_change_nothing() {
    let mut p = Pure::new(&flow_yaml(
        "pure-ended",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: x
"#,
    ));
    let actions = p.start();
    assert_eq!(ended(&actions), Some(State::Success));
    let before = p.exec().clone();
    for ev in [
        Event::Start,
        Event::Kill,
        Event::Resume { inputs: Map::new() },
    ] {
        let actions = p.apply(ev);
        assert!(effects(&actions).is_empty(), "{actions:?}");
        assert_eq!(p.exec(), &before);
    }
}

#[test]
fn pure_resume_resumes_the_first_paused_task_run_only() {
    let src = flow_yaml(
        "pure-two-pauses",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p1
        type: io.kestra.plugin.core.flow.Pause
      - id: p2
        type: io.kestra.plugin.core.flow.Pause
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    assert_eq!(p.exec().state.current, State::Paused);
    p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(p.exec().one("p1").state.current, State::Success);
    assert_eq!(p.exec().one("p2").state.current, State::Paused);
    assert_eq!(p.exec().state.current, State::Paused);
    let actions = p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(p.exec().one("p2").state.current, State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_wait_for_max_duration() {
    let src = flow_yaml(
        "pure-wait-for-duration",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    failOnMaxReached: true
    checkFrequency:
      interval: PT0.6S
      maxDuration: PT1S
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: k
        value: v
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    let loop_id = p.run_id("loop");
    let mut iterations = 0;
    loop {
        iterations += 1;
        let id = p.running("k")[0].id.clone();
        let actions = p.finish(&id, State::Success);
        if let Some(state) = ended(&actions) {
            assert_eq!(state, State::Failed);
            break;
        }
        let ts = timers(&actions);
        assert_eq!(
            ts,
            [(
                p.now + ms(600),
                TimerKind::WaitFor {
                    task_run_id: loop_id.clone()
                }
            )]
        );
        p.now = ts[0].0;
        p.apply(Event::Timer(TimerKind::WaitFor {
            task_run_id: loop_id.clone(),
        }));
        assert!(iterations < 10, "WaitFor never reached maxDuration");
    }
    // Iterations end at +0s, +0.6s and +1.2s: the third is past maxDuration.
    assert_eq!(iterations, 3);
    assert_eq!(p.exec().one("loop").state.current, State::Failed);
}

/// Decides a flow twice, once keeping the record in memory and once round-tripping it
/// through JSON (as the repository stores it) before every event: same results.
#[test]
fn pure_record_survives_json_round_trips_between_events() {
    let src = flow_yaml(
        "pure-roundtrip",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: 0
    tasks:
      - id: cond
        type: io.kestra.plugin.core.flow.If
        condition: "{{ taskrun.value == 'a' }}"
        then:
          - id: k
            type: io.kestra.plugin.core.kv.Set
            key: "k-{{ taskrun.value }}"
            value: v
        else:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
            delay: PT1S
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.loop.iterationCount >= 2 }}"
    checkFrequency:
      interval: PT1S
    tasks:
      - id: w
        type: io.kestra.plugin.core.kv.Set
        key: w
        value: v
"#,
    );
    let mut plain = Pure::new(&src);
    let mut stored = Pure::new(&src);
    let roundtrip = |rec: &Record| -> Record {
        let json = serde_json::to_string(rec).expect("serialize");
        serde_json::from_str(&json).expect("deserialize")
    };
    let step = |ev: Event, at: DateTime<Utc>, plain: &mut Pure, stored: &mut Pure| {
        plain.now = at;
        stored.now = at;
        stored.rec = roundtrip(&stored.rec);
        let a1 = plain.apply(ev.clone());
        let a2 = stored.apply(ev);
        assert_eq!(a1, a2);
        assert_eq!(plain.rec, stored.rec);
        a1
    };
    step(Event::Start, t0(), &mut plain, &mut stored);
    let k = plain.run_id("k");
    let wait = plain.run_id("wait");
    let ev = plain.result_event(&k, State::Success);
    step(ev, t0() + ms(10), &mut plain, &mut stored);
    step(
        Event::Timer(TimerKind::PauseDelay { task_run_id: wait }),
        t0() + ms(1000),
        &mut plain,
        &mut stored,
    );
    let loop_id = plain.run_id("loop");
    for i in 0..2 {
        let w = plain.running("w")[0].id.clone();
        let ev = plain.result_event(&w, State::Success);
        let at = plain.now + ms(10);
        let actions = step(ev, at, &mut plain, &mut stored);
        if i == 0 {
            let at = plain.now + ms(1000);
            step(
                Event::Timer(TimerKind::WaitFor {
                    task_run_id: loop_id.clone(),
                }),
                at,
                &mut plain,
                &mut stored,
            );
        } else {
            assert_eq!(ended(&actions), Some(State::Success));
        }
    }
    assert_eq!(stored.exec().state.current, State::Success);
}

// =======================================================================================
// Operator actions and concurrency
// =======================================================================================

const FAILS_FIRST_TIME: &str = "id: restartable\nnamespace: kite.tests\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.attemptsCount == 1 ? 'ok' : ko }}\"\n  - id: d\n    type: io.kestra.plugin.core.debug.Return\n    format: d\nerrors:\n  - id: on_error\n    type: io.kestra.plugin.core.log.Log\n    message: failed\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_reruns_failed_task_runs_in_the_same_execution() {
    let kite = Kite::start().await;
    let first = kite.run(FAILS_FIRST_TIME, json!({})).await;
    assert_state(&first, State::Failed);
    let ids: Vec<&str> = first
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "c", "on_error"]);
    kite.platform
        .send_event(&first.id, kite_engine::executor::Event::Restart)
        .await
        .expect("restart");
    let again = kite
        .wait_until(&first.id, "restarted and ended", |e| {
            e.state.current == State::Success
        })
        .await;
    let ids: Vec<&str> = again
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["a", "c", "d"],
        "the errors branch run is removed, d runs"
    );
    let c = again
        .task_run_list
        .iter()
        .find(|r| r.task_id == "c")
        .expect("c");
    assert_eq!(c.attempts.len(), 2);
    assert_eq!(
        c.id, first.task_run_list[1].id,
        "same task run, new attempt"
    );
    assert_eq!(again.metadata.attempt_number, 2);
    assert!(history(&again.state).contains(&State::Restarted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_creates_a_new_execution_from_a_task_run() {
    let kite = Kite::start().await;
    let src = "id: replayable\nnamespace: kite.tests\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: a\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }}-b\"\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Success);
    let b = first.task_run_list[1].id.clone();
    let replayed = kite
        .platform
        .replay(&first.id, Some(&b))
        .await
        .expect("replay");
    assert_ne!(replayed.id, first.id);
    assert_eq!(replayed.parent_id.as_deref(), Some(first.id.as_str()));
    let done = kite.wait_end(&replayed.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.task_run_list.len(), 2);
    assert_eq!(done.task_run_list[1].outputs["value"], "a-b");
    assert_eq!(
        done.task_run_list[1].attempts.len(),
        2,
        "the replayed run has a new attempt"
    );
    assert_eq!(
        done.task_run_list[0].attempts.len(),
        1,
        "runs before it are kept as they were"
    );
    let scratch = kite.platform.replay(&first.id, None).await.expect("replay");
    let done = kite.wait_end(&scratch.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.original_id.as_deref(), Some(first.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_a_task_run_state_lets_the_execution_go_on() {
    let kite = Kite::start().await;
    let src = "id: forced\nnamespace: kite.tests\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: after\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Failed);
    let boom = first.task_run_list[0].id.clone();
    kite.platform
        .send_event(
            &first.id,
            kite_engine::executor::Event::ChangeTaskRunState {
                task_run_id: boom,
                state: State::Success,
            },
        )
        .await
        .expect("change state");
    let done = kite
        .wait_until(&first.id, "success", |e| e.state.current == State::Success)
        .await;
    let ids: Vec<&str> = done
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(ids, ["boom", "after"]);
}

/// A flow limited to one execution at a time whose only task is a Pause: an execution
/// holds its slot until the test resumes it (an explicit signal, where a short real Sleep
/// would race the test's next step on a loaded machine).
fn limited(behavior: &str) -> String {
    format!(
        "id: limited_{b}\nnamespace: kite.tests\nconcurrency:\n  limit: 1\n  behavior: {behavior}\ntasks:\n  - id: gate\n    type: io.kestra.plugin.core.flow.Pause\n",
        b = behavior.to_ascii_lowercase()
    )
}

/// Waits until execution `id` of [`limited`] is paused, resumes it and waits for its end.
async fn release_gate(kite: &Kite, id: &str) -> Execution {
    kite.wait_until(id, "paused", |e| e.state.current == State::Paused)
        .await;
    kite.platform
        .send_event(id, Event::Resume { inputs: Map::new() })
        .await
        .expect("resume");
    kite.wait_end(id).await
}

/// The date execution `e` first became RUNNING.
fn first_running(e: &Execution) -> DateTime<Utc> {
    e.state
        .histories
        .iter()
        .find(|h| h.state == State::Running)
        .map(|h| h.date)
        .expect("a RUNNING date")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_queue_runs_the_second_execution_after_the_first() {
    let kite = Kite::start().await;
    let flow = kite.deploy(&limited("QUEUE")).await;
    let a = kite.create(&flow, json!({})).await;
    kite.wait_until(&a.id, "paused", |e| e.state.current == State::Paused)
        .await;
    let b = kite.create(&flow, json!({})).await;
    let queued = kite
        .wait_until(&b.id, "queued", |e| e.state.current == State::Queued)
        .await;
    assert!(queued.task_run_list.is_empty());
    let a = release_gate(&kite, &a.id).await;
    let b = release_gate(&kite, &b.id).await;
    assert_state(&a, State::Success);
    assert_state(&b, State::Success);
    assert_eq!(
        history(&b.state)[..3],
        [State::Created, State::Queued, State::Running]
    );
    let a_end = a.state.end_date.expect("the first ended");
    let b_start = first_running(&b);
    assert!(
        b_start >= a_end,
        "the second started at {b_start}, before the first ended at {a_end}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_cancel_and_fail_end_the_second_execution() {
    let kite = Kite::start().await;
    for (behavior, expected) in [("CANCEL", State::Cancelled), ("FAIL", State::Failed)] {
        let flow = kite.deploy(&limited(behavior)).await;
        let a = kite.create(&flow, json!({})).await;
        kite.wait_until(&a.id, "paused", |e| e.state.current == State::Paused)
            .await;
        let b = kite.create(&flow, json!({})).await;
        let b = kite.wait_end(&b.id).await;
        assert_state(&b, expected);
        assert!(b.task_run_list.is_empty());
        assert_state(&release_gate(&kite, &a.id).await, State::Success);
        // The slot is free again.
        let c = kite.create(&flow, json!({})).await;
        assert_state(&release_gate(&kite, &c.id).await, State::Success);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exit_ends_the_execution_in_the_requested_state() {
    // `slow` sleeps for an hour: only the Exit can end it, however slow the machine.
    let src = "id: exits\nnamespace: kite.tests\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: slow\n        type: io.kestra.plugin.core.flow.Sleep\n        duration: PT1H\n      - id: stop\n        type: io.kestra.plugin.core.execution.Exit\n        state: WARNING\n  - id: never\n    type: io.kestra.plugin.core.debug.Return\n    format: never\n";
    let e = run(src, json!({})).await;
    assert_state(&e, State::Warning);
    let by = |id: &str| {
        e.task_run_list
            .iter()
            .find(|r| r.task_id == id)
            .map(|r| r.state.current)
    };
    assert_eq!(by("stop"), Some(State::Success));
    assert_eq!(by("slow"), Some(State::Killed));
    assert_eq!(by("never"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resume_task_resumes_another_paused_execution() {
    let kite = Kite::start().await;
    let paused = kite
        .deploy("id: waiting\nnamespace: kite.tests\ntasks:\n  - id: gate\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: approved\n        type: BOOLEAN\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.gate.onResume.approved }}\"\n")
        .await;
    let waiting = kite.create(&paused, json!({})).await;
    kite.wait_until(&waiting.id, "paused", |e| e.state.current == State::Paused)
        .await;
    let resumer = "id: resumer\nnamespace: kite.tests\ninputs:\n  - id: target\n    type: STRING\ntasks:\n  - id: go\n    type: io.kestra.plugin.core.execution.Resume\n    executionId: \"{{ inputs.target }}\"\n    inputs:\n      approved: true\n";
    let r = kite.run(resumer, json!({"target": waiting.id})).await;
    assert_state(&r, State::Success);
    let done = kite.wait_end(&waiting.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.task_run_list[1].outputs["value"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_create_new_execution_chains_executions() {
    let kite = Kite::start().await;
    let src = "id: renew\nnamespace: kite.tests\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    retry:\n      type: constant\n      interval: PT0.1S\n      maxAttempt: 3\n      behavior: CREATE_NEW_EXECUTION\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Retried);
    let second_id = kite_engine::model::ids::derived_id(&[&first.id, "retry"]);
    let second = kite.wait_end(&second_id).await;
    assert_state(&second, State::Retried);
    assert_eq!(second.metadata.attempt_number, 2);
    assert_eq!(second.original_id.as_deref(), Some(first.id.as_str()));
    let third_id = kite_engine::model::ids::derived_id(&[&second_id, "retry"]);
    let third = kite.wait_end(&third_id).await;
    assert_state(&third, State::Failed);
    assert_eq!(third.metadata.attempt_number, 3);
    assert_eq!(third.task_run_list[0].attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_inputs_travel_to_the_worker_by_reference() {
    let big = "x".repeat(300_000);
    let src = "id: big\nnamespace: kite.tests\ninputs:\n  - id: big\n    type: STRING\ntasks:\n  - id: store\n    type: io.kestra.plugin.core.kv.Set\n    key: size\n    value: \"{{ inputs.big | length }}\"\n  - id: read\n    type: io.kestra.plugin.core.kv.Get\n    key: size\n";
    let e = run(src, json!({ "big": big })).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_run_list[1].outputs["value"], json!(300_000));
}

/// On a manual clock: the scheduled start waits on the timer queue until the clock reaches
/// its date, however long the test takes in real time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_execution_waits_for_its_date() {
    let clock = ManualClock::new(kite_ports::contract::start_time());
    let kite = Setup::new()
        .clock(Arc::new(clock.clone()))
        .wait_limits(WAIT_LIMIT, LOG_WAIT_LIMIT)
        .start()
        .await;
    let flow = kite
        .deploy("id: later\nnamespace: kite.tests\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: now\n")
        .await;
    let at = clock.now() + chrono::Duration::minutes(5);
    let e = kite
        .platform
        .create_execution(
            &flow,
            Map::new(),
            CreateOptions {
                schedule_date: Some(at),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    // Creation armed the scheduled start (a timer delayed to `at`) and sent the executor
    // nothing: no start can happen until the clock moves.
    let p = &kite.platform;
    let pending = |name: &str| {
        let name = name.to_owned();
        async move { p.queue.approximate_len(&name).await.expect("len") }
    };
    assert_eq!(pending(&p.names.timers).await, 1, "the scheduled start");
    assert_eq!(pending(&p.names.executor).await, 0, "no start event");
    let waiting = kite.get(&e.id).await.expect("stored");
    assert_eq!(waiting.state.current, State::Created);
    assert!(waiting.task_run_list.is_empty());
    clock.advance(Duration::from_secs(5 * 60));
    let done = kite.wait_end(&e.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.state.histories[1].state, State::Running);
    assert!(
        done.state.histories[1].date >= at,
        "started at {}, scheduled for {at}",
        done.state.histories[1].date
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn working_directory_cache_is_restored_by_the_next_execution() {
    let kite = Kite::start().await;
    let src = "id: cached\nnamespace: kite.tests\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    cache:\n      ttl: PT5M\n      patterns:\n        - \"*.txt\"\n    tasks:\n      - id: look\n        type: io.kestra.plugin.core.storage.LocalFiles\n        outputs:\n          - hello.txt\n      - id: make\n        type: io.kestra.plugin.core.storage.LocalFiles\n        inputs:\n          hello.txt: HELLO\n          skip.log: not cached\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Success);
    let look = |e: &Execution| {
        e.task_run_list
            .iter()
            .find(|r| r.task_id == "look")
            .map(|r| r.outputs["uris"].clone())
    };
    assert_eq!(look(&first), Some(json!({})), "nothing cached yet");
    let second = kite.run(src, json!({})).await;
    assert_state(&second, State::Success);
    let uris = look(&second).expect("look ran");
    assert!(
        uris.get("hello.txt").is_some(),
        "the cached file is back: {uris}"
    );
    let expired = src.replace("PT5M", "PT0.001S");
    let third = kite.run(&expired, json!({})).await;
    assert_state(&third, State::Success);
    assert_eq!(
        look(&third),
        Some(json!({})),
        "an expired cache is not restored"
    );
}

// ---------------------------------------------------------------------------------------
// Bounded logs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_megabyte_log_message_is_truncated_and_the_later_logs_are_kept() {
    let kite = Kite::start().await;
    // 16,384 × 64 bytes (Pebble ranges include their end): a 1 MiB message, then an executor line, a worker line and another.
    let src = flow_yaml(
        "big_log",
        r#"tasks:
  - id: big
    type: io.kestra.plugin.core.log.Log
    message: "{% for i in range(0, 16383) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the big one
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - head -c 1048576 /dev/zero | tr '\0' y; echo
      - echo shell after
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: last line
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Success);
    // A worker writes its lines beside its result: they may land after the executor's
    // later lines, so wait for every expected line (a lost one times out).
    let wanted = ["after the big one", "shell after", "last line"];
    let logs = kite
        .logs_until(&e.id, |l| {
            wanted.iter().all(|w| l.iter().any(|l| l.message == *w))
        })
        .await;
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    for wanted in wanted {
        assert!(
            messages.contains(&wanted),
            "`{wanted}` missing among {} lines",
            messages.len()
        );
    }
    let marker = " … [truncated: 1,048,576 bytes, first 65,536 kept]";
    let cut: Vec<&&str> = messages.iter().filter(|m| m.ends_with(marker)).collect();
    assert_eq!(
        cut.len(),
        2,
        "the Log line and the stdout line are cut: {:?}",
        logs.iter()
            .map(|l| (
                l.task_id.clone(),
                l.message.len(),
                l.message.chars().rev().take(60).collect::<String>()
            ))
            .collect::<Vec<_>>()
    );
    assert!(cut.iter().all(|m| m.len() == 65_536 + marker.len()));
}
