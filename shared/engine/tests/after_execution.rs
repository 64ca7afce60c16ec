//! What runs once an execution has ended, and what never succeeds silently: `afterExecution`
//! tasks (pure decisions and end to end in memory), listener conditions through the
//! condition evaluator, and a flowable type without an executor handler.

mod support;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kite_engine::executor::{self, Action, Event, Expressions, Record, WorkerResult};
use kite_engine::model::{Execution, State};
use kite_flow::Flow;
use serde_json::{Map, json};
use support::{Setup, parse};

const EXEC_ID: &str = "afterExecution00000001";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
}

/// A record driven by `executor::handle`.
struct Pure {
    flow: Flow,
    rec: Record,
    rt: Expressions,
    seq: u64,
}

impl Pure {
    fn new(source: &str) -> Self {
        let mut flow = parse(source);
        flow.revision = Some(1);
        Self::of(flow)
    }

    fn of(flow: Flow) -> Self {
        let exec = Execution::new(EXEC_ID.to_owned(), &flow, Map::new(), Vec::new(), t0());
        Self {
            flow,
            rec: Record::new(exec),
            rt: Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]),
            seq: 0,
        }
    }

    fn apply(&mut self, event: Event) -> Vec<Action> {
        self.seq += 1;
        let id = format!("event-{}", self.seq);
        executor::handle(&self.flow, &mut self.rec, &event, &id, &self.rt, t0())
    }

    fn exec(&self) -> &Execution {
        &self.rec.execution
    }

    #[track_caller]
    fn run(&self, task: &str) -> &kite_engine::model::TaskRun {
        let runs: Vec<_> = self
            .exec()
            .task_run_list
            .iter()
            .filter(|r| r.task_id == task)
            .collect();
        assert_eq!(
            runs.len(),
            1,
            "runs of {task}: {:#?}",
            self.exec().task_run_list
        );
        runs[0]
    }

    fn has_run(&self, task: &str) -> bool {
        self.exec().task_run_list.iter().any(|r| r.task_id == task)
    }

    fn finish(&mut self, task: &str, state: State) -> Vec<Action> {
        let run = self.run(task);
        let event = Event::WorkerResult(WorkerResult {
            task_run_id: run.id.clone(),
            attempt: run.attempts.len().saturating_sub(1) as u32,
            state,
            outputs: Map::new(),
            error_logs: Vec::new(),
        });
        self.apply(event)
    }

    fn states(&self) -> Vec<State> {
        self.exec()
            .state
            .histories
            .iter()
            .map(|h| h.state)
            .collect()
    }
}

fn ended(actions: &[Action]) -> Option<State> {
    actions.iter().find_map(|a| match a {
        Action::Ended { state } => Some(*state),
        _ => None,
    })
}

fn dispatched(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch(j) => Some(j.task_id.as_str()),
            _ => None,
        })
        .collect()
}

fn log_messages(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Logs { entries } => Some(entries.iter().map(|e| e.message.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

const AFTER: &str = r#"
id: after
namespace: company.team
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
afterExecution:
  - id: on_failure
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ execution.state == 'FAILED' }}"
    format: "ended {{ execution.state }}"
  - id: on_success
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ execution.state == 'SUCCESS' }}"
    format: never
  - id: notify
    type: io.kestra.plugin.core.kv.Set
    key: last
    value: "{{ execution.state }}"
"#;

#[test]
fn after_execution_runs_once_ended_sees_the_final_state_and_does_not_change_it() {
    let mut p = Pure::new(AFTER);
    let actions = p.apply(Event::Start);
    // The execution ended FAILED; its afterExecution tasks run after that.
    assert_eq!(p.exec().state.current, State::Failed);
    assert_eq!(p.run("on_failure").state.current, State::Success);
    assert_eq!(p.run("on_failure").outputs["value"], json!("ended FAILED"));
    assert_eq!(p.run("on_success").state.current, State::Skipped);
    assert_eq!(dispatched(&actions), vec!["notify"]);
    // The end is announced once they ran.
    assert_eq!(ended(&actions), None, "{actions:#?}");
    let failed_at = p
        .exec()
        .state
        .histories
        .last()
        .map(|h| h.date)
        .expect("history");
    assert!(p.run("on_failure").state.histories[0].date >= failed_at);

    // A failure there leaves the final state as it is.
    let actions = p.finish("notify", State::Failed);
    assert_eq!(ended(&actions), Some(State::Failed));
    assert_eq!(p.exec().state.current, State::Failed);
    assert_eq!(
        p.states(),
        vec![State::Created, State::Running, State::Failed]
    );
    // Nothing else happens afterwards.
    let actions = p.apply(Event::Start);
    assert_eq!(ended(&actions), None);
    assert!(dispatched(&actions).is_empty());
}

#[test]
fn after_execution_runs_after_a_kill_and_a_kill_stops_it() {
    let source = r#"
id: after_kill
namespace: company.team
tasks:
  - id: work
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: v
afterExecution:
  - id: report
    type: io.kestra.plugin.core.kv.Set
    key: report
    value: "{{ execution.state }}"
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"#;
    let mut p = Pure::new(source);
    let actions = p.apply(Event::Start);
    assert_eq!(dispatched(&actions), vec!["work"]);
    let actions = p.apply(Event::Kill);
    assert_eq!(p.exec().state.current, State::Killed);
    assert_eq!(p.run("work").state.current, State::Killed);
    assert_eq!(dispatched(&actions), vec!["report"]);
    assert_eq!(ended(&actions), None);
    // Killed again while it runs: the afterExecution task is killed and the end announced.
    let actions = p.apply(Event::Kill);
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::KillTask { task_run_id } if *task_run_id == p.run("report").id)
        ),
        "{actions:#?}"
    );
    assert_eq!(ended(&actions), Some(State::Killed));
    assert_eq!(p.run("report").state.current, State::Killed);
    assert!(!p.has_run("never"));
    assert_eq!(p.exec().state.current, State::Killed);
}

#[test]
fn without_after_execution_the_end_is_announced_at_once() {
    let mut p = Pure::new(
        "id: plain\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    assert_eq!(ended(&p.apply(Event::Start)), Some(State::Success));
}

#[test]
fn listener_conditions_go_through_the_condition_evaluator() {
    // `Not` and `ExecutionFlow` were once taken as true; now they are decided.
    let source = r#"
id: listened
namespace: company.team
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: ok
listeners:
  - conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionStatus
            in: [SUCCESS]
    tasks:
      - id: when_not_success
        type: io.kestra.plugin.core.log.Log
        message: not success
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: another
    tasks:
      - id: when_another_flow
        type: io.kestra.plugin.core.log.Log
        message: another
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: listened
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ outputs is defined and execution.id is defined }}"
    tasks:
      - id: when_this_flow
        type: io.kestra.plugin.core.log.Log
        message: this flow
"#;
    let mut p = Pure::new(source);
    let actions = p.apply(Event::Start);
    assert_eq!(ended(&actions), Some(State::Success));
    assert!(!p.has_run("when_not_success"));
    assert!(!p.has_run("when_another_flow"));
    assert_eq!(p.run("when_this_flow").state.current, State::Success);
}

#[test]
fn a_listener_condition_that_cannot_be_decided_is_logged_and_skips_the_listener() {
    let source = r#"
id: listened_bad
namespace: company.team
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: ok
listeners:
  - conditions:
      - type: io.kestra.plugin.core.condition.DayWeek
        dayOfWeek: NOTADAY
    tasks:
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: never
"#;
    let mut p = Pure::new(source);
    let actions = p.apply(Event::Start);
    assert_eq!(ended(&actions), Some(State::Success));
    assert!(!p.has_run("never"));
    let logs = log_messages(&actions);
    assert!(
        logs.iter()
            .any(|m| m.starts_with("listener skipped: condition `listeners[0].conditions[0]`")),
        "{logs:#?}"
    );
}

#[test]
fn a_flowable_type_without_a_handler_fails_its_run_instead_of_succeeding() {
    let mut flow = parse(
        "id: unknown\nnamespace: company.team\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: hi\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n",
    );
    flow.revision = Some(1);
    // The same properties under a flowable type the executor has no handler for.
    flow.tasks[0].type_name = "io.example.flow.Unknown";
    let mut p = Pure::of(flow);
    let actions = p.apply(Event::Start);
    assert_eq!(p.run("seq").state.current, State::Failed);
    assert!(!p.has_run("hi"));
    assert_eq!(ended(&actions), Some(State::Failed));
    let logs = log_messages(&actions);
    assert!(
        logs.iter().any(|m| m.contains(
            "Kite has no executor handler for the flowable type `io.example.flow.Unknown`"
        )),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_execution_end_to_end_in_memory() {
    let kite = Setup::new().start().await;
    let flow = kite
        .deploy(
            r#"
id: after_e2e
namespace: company.team
tasks:
  - id: main
    type: io.kestra.plugin.core.kv.Set
    key: main
    value: done
afterExecution:
  - id: seen
    type: io.kestra.plugin.core.kv.Set
    key: seen
    value: "{{ execution.state }}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.state }}"
"#,
        )
        .await;
    let created = kite.create(&flow, json!({})).await;
    let e = kite
        .wait_until(&created.id, "done with afterExecution", |e| {
            e.task_run_list
                .iter()
                .any(|r| r.task_id == "last" && r.state.current.is_terminated())
        })
        .await;
    assert_eq!(e.state.current, State::Success);
    let last = e
        .task_run_list
        .iter()
        .find(|r| r.task_id == "last")
        .expect("last");
    assert_eq!(last.outputs["value"], json!("SUCCESS"));
    let kv = kite
        .platform
        .repos
        .kv
        .get("company.team", "seen")
        .await
        .expect("kv read")
        .expect("kv written by afterExecution");
    assert_eq!(kv, json!("SUCCESS"));
}
