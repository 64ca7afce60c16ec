//! The executor test suite (one test binary; a file per subject): flows written for these tests, checked at two levels.
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

#[path = "../support/mod.rs"]
mod support;

mod context;
mod errors_retry;
mod flowables;
mod pause_wait;
mod pure;
mod subflows;

use std::sync::Arc;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use kite_engine::executor::{
    self, Action, Event, Expressions, Record, SubflowRequest, TimerKind, WorkerJob, WorkerResult,
};

use kite_engine::model::{Execution, ExecutionTrigger, LogEntry, State, TaskRun};

use kite_engine::services::{CreateOptions, ServiceError};

use kite_flow::Flow;

use kite_flow::plugin::LogLevel;

use kite_ports::{Clock, ManualClock};

use serde_json::{Map, Value, json};

use support::{Kite, Setup, obj, parse};

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

const FAILS_FIRST_TIME: &str = "id: restartable\nnamespace: kite.tests\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.attemptsCount == 1 ? 'ok' : ko }}\"\n  - id: d\n    type: io.kestra.plugin.core.debug.Return\n    format: d\nerrors:\n  - id: on_error\n    type: io.kestra.plugin.core.log.Log\n    message: failed\n";

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
