//! `afterExecution` on `kite server local`, in both homes: once the execution ended FAILED,
//! its afterExecution tasks run (inline, on the worker, and one that fails), see the final
//! state and leave it unchanged.

mod common;

use std::time::{Duration, Instant};

use common::{Api, Home, Server};
use serde_json::Value;

const NS: &str = "kite.e2e.after";

const FLOW: &str = r#"id: after
namespace: kite.e2e.after
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken on purpose
afterExecution:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "ended {{ execution.state }}"
  - id: save
    type: io.kestra.plugin.core.kv.Set
    key: after-state
    value: "{{ execution.state }}"
  - id: broken
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: failing after the end changes nothing
"#;

fn run_of<'a>(e: &'a Value, task: &str) -> Option<&'a Value> {
    e["taskRunList"]
        .as_array()?
        .iter()
        .find(|r| r["taskId"] == task)
}

async fn after_execution(home: Home) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(flows.join("after.yaml"), FLOW).unwrap();
    let server = Server::start(&home, &dir.path().join("data"), Some(&flows));
    let api = Api::new(&server);

    let (status, created) = api
        .send(
            api.client
                .post(format!("{}/api/v1/executions/{NS}/after", api.base))
                .json(&serde_json::json!({})),
        )
        .await;
    assert!(status.is_success(), "{status} {created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // Wait until the last afterExecution task ended.
    let deadline = Instant::now() + Duration::from_secs(60);
    let e = loop {
        let (status, e) = api.get(&format!("/api/v1/executions/{id}")).await;
        assert!(status.is_success(), "{status} {e}");
        if run_of(&e, "broken").is_some_and(|r| r["state"]["current"] == "FAILED") {
            break e;
        }
        assert!(Instant::now() < deadline, "afterExecution did not run: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(e["state"]["current"], "FAILED", "{e}");
    let states: Vec<&str> = e["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["CREATED", "RUNNING", "FAILED"], "{e}");
    let report = run_of(&e, "report").unwrap();
    assert_eq!(report["outputs"]["value"], "ended FAILED");
    assert_eq!(run_of(&e, "save").unwrap()["state"]["current"], "SUCCESS");
    let (status, kv) = api
        .get(&format!("/api/v1/namespaces/{NS}/kv/after-state"))
        .await;
    assert!(status.is_success(), "{status} {kv}");
    assert_eq!(kv["value"], "FAILED", "{kv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_after_execution_runs_once_ended() {
    after_execution(Home::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_after_execution_runs_once_ended() {
    after_execution(Home::emulator()).await;
}
