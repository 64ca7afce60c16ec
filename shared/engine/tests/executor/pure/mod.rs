//! Level 2: the pure decision function [`executor::handle`], driven with a controlled
//! clock; the helpers shared by its files.

use super::*;

mod events;
mod flowables;
mod retry_pause_wait;
mod subflows_kill;

/// A record driven by `executor::handle` with a controlled clock.
struct Pure {
    flow: Flow,
    rec: Record,
    rt: Expressions,
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
            rt: Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]),
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
