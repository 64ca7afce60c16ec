//! Flow triggers on `kite server local`, in both homes: a chain A → B → C passing outputs,
//! a listener of every state of a pausing upstream (RUNNING, PAUSED, RUNNING, SUCCESS: four
//! executions), and preconditions over two upstream flows within a window (the first alone
//! starts nothing; the second starts one execution).

mod common;

use std::time::{Duration, Instant};

use common::{Api, Home, Server};
use serde_json::Value;

const FLOWS: &[(&str, &str)] = &[
    (
        "a.yaml",
        r#"id: a
namespace: kite.e2e.flowtrig
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: from-a
outputs:
  - id: word
    type: STRING
    value: "{{ outputs.out.value }}"
"#,
    ),
    (
        "b.yaml",
        r#"id: b
namespace: kite.e2e.flowtrig
inputs:
  - id: word
    type: STRING
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.word }}+b"
outputs:
  - id: word
    type: STRING
    value: "{{ outputs.out.value }}"
triggers:
  - id: after-a
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      word: "{{ trigger.outputs.word }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: kite.e2e.flowtrig
        flowId: a
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
"#,
    ),
    (
        "c.yaml",
        r#"id: c
namespace: kite.e2e.flowtrig
inputs:
  - id: word
    type: STRING
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.word }}+c"
triggers:
  - id: after-b
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      word: "{{ trigger.outputs.word }}"
    preconditions:
      id: b-done
      flows:
        - namespace: kite.e2e.flowtrig
          flowId: b
          states: [SUCCESS]
"#,
    ),
    (
        "pausing.yaml",
        r#"id: pausing
namespace: kite.e2e.flowtrig
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT1S
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: done
"#,
    ),
    (
        "every-state.yaml",
        r#"id: every-state
namespace: kite.e2e.flowtrig
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.state }}"
triggers:
  - id: on-pausing
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED, SUCCESS]
    preconditions:
      id: pausing-states
      flows:
        - namespace: kite.e2e.flowtrig
          flowId: pausing
          states: [RUNNING, PAUSED, SUCCESS]
"#,
    ),
    (
        "up1.yaml",
        "id: up1\nnamespace: kite.e2e.flowtrig\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n",
    ),
    (
        "up2.yaml",
        "id: up2\nnamespace: kite.e2e.flowtrig\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: two\n",
    ),
    (
        "both.yaml",
        r#"id: both
namespace: kite.e2e.flowtrig
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.flowId }}"
triggers:
  - id: after-both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: up1-and-up2
      timeWindow:
        type: SLIDING_WINDOW
        window: PT1H
      flows:
        - namespace: kite.e2e.flowtrig
          flowId: up1
          states: [SUCCESS]
        - namespace: kite.e2e.flowtrig
          flowId: up2
          states: [SUCCESS]
"#,
    ),
];

const NS: &str = "kite.e2e.flowtrig";

async fn run(api: &Api, flow: &str) -> Value {
    let (status, e) = api
        .send(
            api.client
                .post(format!(
                    "{}/api/v1/executions/{NS}/{flow}?wait=true",
                    api.base
                ))
                .json(&serde_json::json!({})),
        )
        .await;
    assert!(status.is_success(), "{status} {e}");
    assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
    e
}

/// Waits until `flow` has `n` SUCCESS executions; returns them.
async fn successes(api: &Api, flow: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done: Vec<Value> = api
            .executions(NS, flow)
            .await
            .into_iter()
            .filter(|e| e["state"]["current"] == "SUCCESS")
            .collect();
        if done.len() >= n {
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "{flow}: {} of {n} ended",
            done.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn output(e: &Value, task: &str) -> Value {
    e["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == task)
        .map(|r| r["outputs"]["value"].clone())
        .unwrap_or(Value::Null)
}

async fn flow_triggers(home: Home) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    for (name, src) in FLOWS {
        std::fs::write(flows.join(name), src).unwrap();
    }
    let server = Server::start(&home, &dir.path().join("data"), Some(&flows));
    let api = Api::new(&server);

    // A chain: a → b → c, outputs passed on, trigger variables set.
    let a = run(&api, "a").await;
    let b = successes(&api, "b", 1).await;
    assert_eq!(output(&b[0], "out"), "from-a+b");
    assert_eq!(b[0]["trigger"]["variables"]["executionId"], a["id"]);
    assert_eq!(b[0]["trigger"]["variables"]["flowId"], "a");
    // The listener's trigger state shows its last firing.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, states) = api.get(&format!("/api/v1/triggers/{NS}/b")).await;
        assert!(status.is_success(), "{status} {states}");
        if states.to_string().contains(b[0]["id"].as_str().unwrap()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the trigger state never named b's execution: {states}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = successes(&api, "c", 1).await;
    assert_eq!(output(&c[0], "out"), "from-a+b+c");

    // Every state of a pausing upstream: RUNNING, PAUSED, RUNNING, SUCCESS.
    run(&api, "pausing").await;
    let seen = successes(&api, "every-state", 4).await;
    let mut states: Vec<String> = seen
        .iter()
        .map(|e| {
            e["trigger"]["variables"]["state"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    states.sort();
    assert_eq!(states, ["PAUSED", "RUNNING", "RUNNING", "SUCCESS"]);

    // Preconditions: up1 alone starts nothing; up2 within the window starts one.
    run(&api, "up1").await;
    let up2 = run(&api, "up2").await;
    let both = successes(&api, "both", 1).await;
    assert_eq!(both.len(), 1);
    assert_eq!(both[0]["trigger"]["variables"]["executionId"], up2["id"]);
    // Every listener ran exactly as often as its upstream changed: no duplicate.
    assert_eq!(api.executions(NS, "b").await.len(), 1);
    assert_eq!(api.executions(NS, "c").await.len(), 1);
    assert_eq!(api.executions(NS, "every-state").await.len(), 4);
    assert_eq!(api.executions(NS, "both").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_flow_triggers_chain_states_and_preconditions() {
    flow_triggers(Home::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_flow_triggers_chain_states_and_preconditions() {
    flow_triggers(Home::emulator()).await;
}
