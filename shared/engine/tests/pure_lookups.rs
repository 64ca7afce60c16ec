//! The decision function does no I/O: `executor::handle` runs with a host that panics on
//! any call and still decides flows whose executor-rendered expressions (an If condition,
//! a Log message, a Return format) use `kv()`, `secret()`, `read()`, `fileSize()` and
//! `fileExists()`: their values come in as data (recorded in the record), and a value not
//! recorded yet makes the decision return `Action::Need` naming it. End to end (in-memory
//! ports), the executor's service answers the `Need` and decides again.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kite_engine::executor::lookups::{Looked, Lookup};
use kite_engine::executor::{self, Action, Event, Expressions, Record};
use kite_engine::model::{Execution, State};
use kite_flow::Flow;
use serde_json::{Map, Value, json};

/// A host that must never be called.
struct PanickingHost;

impl kite_expr::Host for PanickingHost {
    fn now(&self) -> DateTime<Utc> {
        panic!("the decision called now() on the host")
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        panic!("the decision called secret({key}) on the host")
    }
    fn read(&self, uri: &str) -> Result<String, String> {
        panic!("the decision called read({uri}) on the host")
    }
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        panic!("the decision called fileSize({uri}) on the host")
    }
    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        panic!("the decision called fileExists({uri}) on the host")
    }
    fn kv(&self, _ns: Option<&str>, key: &str, _e: bool) -> Result<Value, String> {
        panic!("the decision called kv({key}) on the host")
    }
    fn error_logs(&self) -> Vec<Value> {
        panic!("the decision called errorLogs() on the host")
    }
}

const FILE: &str = "kestra:///kite.pure/data/greeting.txt";
const SECRET: &str = "s3cr3t-value";

const FLOW: &str = r#"id: decide
namespace: kite.pure
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('enabled') }}"
    then:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "key={{ secret('API_KEY') }} size={{ fileSize('FILE') }} exists={{ fileExists('FILE') }}"
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ kv('greeting', 'other.ns') }} {{ read('FILE') }}"
    else:
      - id: off
        type: io.kestra.plugin.core.debug.Return
        format: disabled
"#;

fn flow() -> Flow {
    let src = FLOW.replace("FILE", FILE);
    let mut flow = kite_flow::parse_flow(&src).flow.expect("valid flow");
    flow.revision = Some(1);
    flow
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap()
}

fn record(flow: &Flow) -> Record {
    let exec = Execution::new(
        "pureLookups0000000001".into(),
        flow,
        Map::new(),
        Vec::new(),
        t0(),
    );
    Record::new(exec)
}

fn rt() -> Expressions {
    Expressions::new(Arc::new(PanickingHost), Map::new(), &[])
}

/// The outside world, as data.
fn world(enabled: bool) -> BTreeMap<Lookup, Looked> {
    let content = "hello from a file";
    [
        (
            Lookup::Kv {
                namespace: Some("kite.pure".into()),
                key: "enabled".into(),
                error_on_missing: false,
            },
            Looked::Ok(json!(enabled)),
        ),
        (
            Lookup::Kv {
                namespace: Some("other.ns".into()),
                key: "greeting".into(),
                error_on_missing: false,
            },
            Looked::Ok(json!("hi")),
        ),
        (
            Lookup::Secret {
                key: "API_KEY".into(),
            },
            Looked::Ok(json!(SECRET)),
        ),
        (
            Lookup::Read { uri: FILE.into() },
            Looked::Ok(json!(content)),
        ),
        (
            Lookup::FileSize { uri: FILE.into() },
            Looked::Ok(json!(content.len())),
        ),
        (
            Lookup::FileExists { uri: FILE.into() },
            Looked::Ok(json!(true)),
        ),
    ]
    .into_iter()
    .collect()
}

/// Applies `event` as a service does: on `Need`, answers from `world` into the record as it
/// was, and decides again. Returns the actions and the lookups asked for, round by round.
fn decide(
    flow: &Flow,
    rec: &mut Record,
    event: &Event,
    id: &str,
    world: &BTreeMap<Lookup, Looked>,
) -> (Vec<Action>, Vec<Vec<Lookup>>) {
    let rt = rt();
    let mut asked = Vec::new();
    for _ in 0..8 {
        let mut attempt = rec.clone();
        let actions = executor::handle(flow, &mut attempt, event, id, &rt, t0());
        if let [Action::Need(needed)] = actions.as_slice() {
            let answers = needed
                .iter()
                .map(|l| (l.clone(), world.get(l).cloned().expect("a known lookup")))
                .collect();
            rec.internal.lookups.record(id, answers);
            asked.push(needed.clone());
            continue;
        }
        *rec = attempt;
        return (actions, asked);
    }
    panic!("the decision kept needing values: {asked:?}");
}

fn output(rec: &Record, task: &str) -> Option<Value> {
    rec.execution
        .task_run_list
        .iter()
        .find(|r| r.task_id == task)
        .and_then(|r| r.outputs.get("value").cloned())
}

fn log_lines(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Logs { entries } => Some(entries.iter().map(|l| l.message.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn a_decision_with_its_values_as_data_never_calls_the_host() {
    let flow = flow();
    let mut rec = record(&flow);
    let world = world(true);
    // Every value recorded up front: the decision needs nothing and decides at once.
    rec.internal
        .lookups
        .record("start", world.clone().into_iter().collect());
    let actions = executor::handle(&flow, &mut rec, &Event::Start, "start", &rt(), t0());
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Need(_))),
        "{actions:#?}"
    );
    assert_eq!(rec.execution.current(), State::Success, "{actions:#?}");
    assert_eq!(output(&rec, "ret"), Some(json!("hi hello from a file")));
    let lines = log_lines(&actions);
    assert!(
        lines.iter().any(|l| l == "key=****** size=17 exists=true"),
        "the secret is masked: {lines:?}"
    );
    // The secret's value is nowhere in the stored record; the other values are, for a
    // replay of this event.
    let stored = serde_json::to_string(&rec).unwrap();
    assert!(!stored.contains(SECRET), "{stored}");
    assert!(stored.contains("hello from a file"));
}

#[test]
fn a_decision_names_what_it_needs_and_decides_once_answered() {
    let flow = flow();
    let world = world(true);
    let mut rec = record(&flow);
    let (actions, asked) = decide(&flow, &mut rec, &Event::Start, "start", &world);
    // The condition first; then what the chosen branch renders.
    assert_eq!(
        asked[0],
        vec![Lookup::Kv {
            namespace: Some("kite.pure".into()),
            key: "enabled".into(),
            error_on_missing: false,
        }]
    );
    assert!(asked.len() >= 2, "{asked:?}");
    assert!(asked.concat().contains(&Lookup::Secret {
        key: "API_KEY".into()
    }));
    assert_eq!(rec.execution.current(), State::Success, "{actions:#?}");
    assert_eq!(output(&rec, "ret"), Some(json!("hi hello from a file")));

    // The same event again with the other answer takes the other branch.
    let mut rec = record(&flow);
    let (_, asked) = decide(&flow, &mut rec, &Event::Start, "start", &world_off());
    assert_eq!(asked.len(), 1, "only the condition is needed: {asked:?}");
    assert_eq!(output(&rec, "off"), Some(json!("disabled")));
    assert_eq!(output(&rec, "ret"), None);
}

fn world_off() -> BTreeMap<Lookup, Looked> {
    world(false)
}

#[test]
fn values_recorded_for_one_event_are_not_used_by_the_next() {
    // A Log after a worker task reads the KV store afresh (the task may have changed it).
    let src = r#"id: fresh
namespace: kite.pure
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('n') }}"
  - id: work
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["true"]
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('n') }}"
"#;
    let mut flow = kite_flow::parse_flow(src).flow.expect("valid");
    flow.revision = Some(1);
    let mut rec = record(&flow);
    let n = Lookup::Kv {
        namespace: Some("kite.pure".into()),
        key: "n".into(),
        error_on_missing: false,
    };
    let one: BTreeMap<_, _> = [(n.clone(), Looked::Ok(json!(1)))].into_iter().collect();
    let (actions, asked) = decide(&flow, &mut rec, &Event::Start, "start", &one);
    assert_eq!(asked, vec![vec![n.clone()]]);
    let job = actions
        .iter()
        .find_map(|a| match a {
            Action::Dispatch(job) => Some(job.clone()),
            _ => None,
        })
        .expect("the shell task is dispatched");
    let two: BTreeMap<_, _> = [(n.clone(), Looked::Ok(json!(2)))].into_iter().collect();
    let result = Event::WorkerResult(executor::WorkerResult {
        task_run_id: job.task_run_id.clone(),
        attempt: job.attempt,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    });
    let (_, asked) = decide(&flow, &mut rec, &result, "result", &two);
    assert_eq!(asked, vec![vec![n]], "looked up again for the new event");
    assert_eq!(output(&rec, "first"), Some(json!("1")));
    assert_eq!(output(&rec, "second"), Some(json!("2")));
}

// ---------------------------------------------------------------------------------------
// End to end: the service answers Need
// ---------------------------------------------------------------------------------------

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_what_a_decision_needs() {
    let kite = support::Setup::new()
        .env(&[("SECRET_API_KEY", &b64(SECRET))])
        .start()
        .await;
    let p = &kite.platform;
    p.repos
        .kv
        .set("kite.pure", "enabled", json!(true), None, true)
        .await
        .unwrap();
    p.repos
        .kv
        .set("other.ns", "greeting", json!("hi"), None, true)
        .await
        .unwrap();
    let uri = kite
        .put("kite.pure/data/greeting.txt", "hello from a file")
        .await;
    assert_eq!(uri, FILE);
    let flow = kite.deploy(&FLOW.replace("FILE", FILE)).await;
    let e = kite.execute(&flow, json!({})).await;
    assert_eq!(e.state.current, State::Success, "{:#?}", e.task_run_list);
    let ret = e.task_run_list.iter().find(|r| r.task_id == "ret").unwrap();
    assert_eq!(
        ret.outputs.get("value"),
        Some(&json!("hi hello from a file"))
    );
    let logs = kite
        .logs_until(&e.id, |l| l.iter().any(|l| l.message.starts_with("key=")))
        .await;
    assert!(
        logs.iter()
            .any(|l| l.message == "key=****** size=17 exists=true"),
        "{logs:#?}"
    );
    // The stored record keeps the answers of its last event for a replay, never the secret.
    let (rec, _) = p.repos.executions.get(&e.id).await.unwrap().unwrap();
    let stored = kite_engine::repo::executions::ExecutionRepo::encode(&rec).unwrap();
    assert!(!stored.contains(SECRET));
    assert!(
        rec.internal
            .lookups
            .values
            .iter()
            .any(|(l, v)| *l == Lookup::Read { uri: FILE.into() }
                && *v == Looked::Ok(json!("hello from a file"))),
        "{:?}",
        rec.internal.lookups
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_reading_a_large_file_fails_clearly() {
    let kite = support::Setup::new().start().await;
    let big = "x".repeat(kite_engine::executor::lookups::MAX_READ_BYTES + 1);
    let uri = kite.put("kite.pure/data/big.txt", &big).await;
    let src = format!(
        "id: big\nnamespace: kite.pure\ntasks:\n  - id: ret\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read('{uri}') }}}}\"\n"
    );
    let e = kite.run(&src, json!({})).await;
    assert_eq!(e.state.current, State::Failed);
    let logs = kite
        .logs_until(&e.id, |l| l.iter().any(|l| l.message.contains("KiB")))
        .await;
    assert!(
        logs.iter()
            .any(|l| l.message.contains("reads at most 64 KiB") && l.message.contains(&uri)),
        "{logs:#?}"
    );
    let (rec, _) = kite
        .platform
        .repos
        .executions
        .get(&e.id)
        .await
        .unwrap()
        .unwrap();
    let stored = kite_engine::repo::executions::ExecutionRepo::encode(&rec).unwrap();
    assert!(stored.len() < big.len(), "the content was not recorded");
}
