//! A kill reaches running work on `kite server local`, in both homes (issue 10): killing an
//! execution whose shell task runs `sleep 600` ends the task's processes and its attempt
//! KILLED (the worker says so in the task's logs); and a `kill -9` of the server kills the
//! shell processes it started (its watchdog sees the server's end).
//!
//! The embedded home polls kill requests every 200 ms, the emulator home (the AWS adapters
//! on moto, the worker handler fed as the Lambda's event source would) every 2 s: the
//! processes are gone within about one interval; the tests allow 10 s for a loaded machine
//! and print the figure.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Api, Home, Server};
use reqwest::StatusCode;
use serde_json::Value;

const NS: &str = "kite.e2e.kill";
/// How long processes may take to disappear on a loaded machine.
const GONE_LIMIT: Duration = Duration::from_secs(10);
/// How long the worker may take to report a killed attempt on a loaded machine.
const REPORT_LIMIT: Duration = Duration::from_secs(20);

/// A flow whose shell task writes the pids of its shell and of its `sleep 600` to `pids`.
fn sleeper_flow(pids: &Path) -> String {
    format!(
        r#"id: sleeper
namespace: {NS}
tasks:
  - id: nap
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - sleep 600 & echo "$$ $!" > {pids}.tmp && mv {pids}.tmp {pids}; wait
"#,
        pids = pids.display()
    )
}

/// The pids written to `file` (waits 90 s at most: the first job of a fresh server).
async fn pids_in(file: &Path) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(s) = std::fs::read_to_string(file) {
            let pids: Vec<u32> = s
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.len() == 2 {
                return pids;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|s| s != 'Z' && s != 'X'),
        Err(_) => false,
    }
}

/// Waits until none of `pids` runs; how long it took.
async fn gone(pids: &[u32], after: &str) -> Duration {
    let started = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            started.elapsed() < GONE_LIMIT,
            "processes {pids:?} still run {GONE_LIMIT:?} after {after}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// Starts a server on `dir` with the sleeper flow; its execution started, the pids of its
/// running shell task.
async fn start_sleeping(home: &Home, dir: &Path) -> (Server, String, Vec<u32>) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    let pids_file = dir.join("pids");
    std::fs::write(flows.join("sleeper.yaml"), sleeper_flow(&pids_file)).unwrap();
    let server = Server::start(home, &dir.join("data"), Some(&flows));
    let api = Api::new(&server);
    let (status, e) = api
        .send(
            api.client
                .post(format!("{}/api/v1/executions/{NS}/sleeper", api.base))
                .json(&serde_json::json!({})),
        )
        .await;
    assert!(status.is_success(), "{status} {e}");
    let id = e["id"].as_str().expect("id").to_owned();
    let pids = pids_in(&pids_file).await;
    assert!(pids.iter().all(|p| alive(*p)), "the task runs");
    (server, id, pids)
}

/// Waits until execution `id` satisfies `done` (60 s at most).
async fn until(api: &Api, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, e) = api.get(&format!("/api/v1/executions/{id}")).await;
        if status == StatusCode::OK && done(&e) {
            return e;
        }
        assert!(Instant::now() < deadline, "{id} never {what}: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn kill_reaches_a_running_shell_task(home: Home) {
    let dir = tempfile::tempdir().unwrap();
    let (server, id, pids) = start_sleeping(&home, dir.path()).await;
    let api = Api::new(&server);
    let (status, body) = api
        .send(
            api.client
                .delete(format!("{}/api/v1/executions/{id}/kill", api.base)),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let killed_at = Instant::now();
    let took = gone(&pids, "the kill").await;
    eprintln!("{home:?}: processes gone {took:?} after the kill API answered");

    let e = until(&api, &id, "KILLED", |e| e["state"]["current"] == "KILLED").await;
    let run = &e["taskRunList"][0];
    assert_eq!(run["state"]["current"], "KILLED", "{e}");
    assert_eq!(run["attempts"][0]["state"]["current"], "KILLED", "{e}");
    // The worker's own report of the attempt: it ended it because of the kill, within
    // REPORT_LIMIT of the kill (one polling interval, 2 s at most, plus the result's trip).
    let words = "Killed: the execution was killed while this task ran";
    loop {
        let (_, logs) = api.get(&format!("/api/v1/logs/{id}")).await;
        if logs.to_string().contains(words) {
            break;
        }
        assert!(
            killed_at.elapsed() < REPORT_LIMIT,
            "the worker did not report the kill within {REPORT_LIMIT:?}: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{home:?}: the worker's KILLED attempt logged {:?} after the kill",
        killed_at.elapsed()
    );
}

async fn kill_9_of_the_server_kills_its_shell_children(home: Home) {
    let dir = tempfile::tempdir().unwrap();
    let (server, _id, pids) = start_sleeping(&home, dir.path()).await;
    server.kill9();
    let took = gone(&pids, "the server's kill -9").await;
    eprintln!("{home:?}: processes gone {took:?} after the server's kill -9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_kill_reaches_a_running_shell_task() {
    kill_reaches_a_running_shell_task(Home::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_kill_reaches_a_running_shell_task() {
    kill_reaches_a_running_shell_task(Home::emulator()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_kill_9_of_the_server_kills_its_shell_children() {
    kill_9_of_the_server_kills_its_shell_children(Home::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_kill_9_of_the_server_kills_its_shell_children() {
    kill_9_of_the_server_kills_its_shell_children(Home::emulator()).await;
}
