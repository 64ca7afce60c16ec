//! `kite server local` as a user runs it: a real process on a temporary data folder, driven
//! over HTTP and with `kite flow deploy` / `kite execute`; then a `kill -9` in the middle of
//! running executions and a restart on the same data folder, after which every execution
//! must end SUCCESS exactly once without duplicated task runs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "e2e-token";

/// A running server process.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `kite server local` on a free port and waits for its URL.
    fn start(data: &Path, flows: Option<&Path>) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
        // The token through the environment (a --token value would show in `ps`).
        cmd.args(["server", "local", "--port", "0", "--lease", "3", "--data"])
            .arg(data)
            .env("KITE_TOKEN", TOKEN)
            .env("KITE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(data.with_extension("log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        if let Some(f) = flows {
            cmd.arg("--flows").arg(f);
        }
        let mut child = cmd.spawn().expect("kite starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints its URL");
        Self { child, url }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(server: &Server) -> Self {
        Self {
            base: server.url.clone(),
            client: {
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    async fn json(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.json(self.req(reqwest::Method::GET, path)).await
    }

    async fn execute(&self, flow: &str, inputs: Value) -> Value {
        let (status, e) = self
            .json(
                self.req(
                    reqwest::Method::POST,
                    &format!("/api/v1/executions/kite.e2e/{flow}"),
                )
                .json(&inputs),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        e
    }

    /// Polls an execution until `done` holds.
    async fn until(
        &self,
        id: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, e) = self.get(&format!("/api/v1/executions/{id}")).await;
            if status == StatusCode::OK && done(&e) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {status} {e:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn until_state(&self, id: &str, state: &str) -> Value {
        self.until(id, state, Duration::from_secs(60), |e| {
            e["state"]["current"] == state
        })
        .await
    }
}

async fn kite(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(args)
        .env("KITE_TOKEN", TOKEN)
        .output()
        .await
        .expect("kite runs")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const HELLO: &str = "id: hello\nnamespace: kite.e2e\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hello from the flows folder\n";

const UPLOAD: &str = r#"id: upload
namespace: kite.e2e
inputs:
  - id: doc
    type: FILE
  - id: note
    type: STRING
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "note is {{ inputs.note }}"
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.note }}: {{ read(inputs.doc) }}"
"#;

const SLEEPY: &str = r#"id: sleepy
namespace: kite.e2e
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5M
"#;

const APPROVE: &str = r#"id: approve
namespace: kite.e2e
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: ok
        type: BOOLEAN
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "ok={{ outputs.wait.onResume.ok }}"
"#;

const NAP: &str = r#"id: nap
namespace: kite.e2e
inputs:
  - id: n
    type: INT
tasks:
  - id: start
    type: io.kestra.plugin.core.log.Log
    message: "start {{ inputs.n }}"
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "done {{ inputs.n }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_deploy_execute_follow_kill_resume_reload_and_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let flows = tmp.path().join("flows");
    let deploy = tmp.path().join("deploy");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::create_dir_all(&deploy).unwrap();
    write(&flows, "hello.yaml", HELLO);
    let server = Server::start(&tmp.path().join("data"), Some(&flows));
    let api = Api::new(&server);

    // Health is open; the API needs the token.
    let open = reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let closed = reqwest::get(format!("{}/api/v1/flows/search", server.url))
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::UNAUTHORIZED);

    // The flows folder was loaded.
    let (status, flow) = api.get("/api/v1/flows/kite.e2e/hello").await;
    assert_eq!(status, StatusCode::OK, "{flow}");

    // Deploy over HTTP with the CLI (twice: the second run updates in place).
    write(
        &deploy,
        "flows.yaml",
        &format!("{UPLOAD}---\n{SLEEPY}---\n{APPROVE}"),
    );
    for _ in 0..2 {
        let out = kite(&[
            "flow",
            "deploy",
            deploy.to_str().unwrap(),
            "--server",
            &server.url,
        ])
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("3 deployed, 0 refused"), "{stdout}");
    }
    write(
        &deploy,
        "bad.yaml",
        "id: bad\nnamespace: kite.e2e\ntasks:\n  - id: x\n    type: nope.Nope\n",
    );
    let out = kite(&[
        "flow",
        "deploy",
        deploy.join("bad.yaml").to_str().unwrap(),
        "--server",
        &server.url,
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Invalid type"));

    // Execute with a file input through the CLI, waiting for the end.
    let file = tmp.path().join("payload.txt");
    std::fs::write(&file, "file content").unwrap();
    let out = kite(&[
        "execute",
        "kite.e2e",
        "upload",
        "--server",
        &server.url,
        "--input",
        &format!("doc=@{}", file.display()),
        "--input",
        "note=memo",
        "--wait",
        "--json",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["state"]["current"], "SUCCESS");
    let echo = e["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "echo")
        .unwrap();
    assert_eq!(echo["outputs"]["value"], "memo: file content");
    let uri = e["inputs"]["doc"].as_str().unwrap();
    let id = e["id"].as_str().unwrap();
    let download = api
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/executions/{id}/file"),
        )
        .query(&[("path", uri)])
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.text().await.unwrap(), "file content");
    let out = kite(&[
        "execute",
        "kite.e2e",
        "upload",
        "--server",
        &server.url,
        "--input",
        "note=no file",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("doc"));

    // Follow the logs of a new execution as server-sent events.
    let form = reqwest::multipart::Form::new()
        .text("note", "followed")
        .part(
            "doc",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        );
    let (status, e) = api
        .json(
            api.req(reqwest::Method::POST, "/api/v1/executions/kite.e2e/upload")
                .multipart(form),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let id = e["id"].as_str().unwrap();
    let follow = api
        .req(reqwest::Method::GET, &format!("/api/v1/logs/{id}/follow"))
        .send()
        .await
        .unwrap();
    assert_eq!(follow.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(30), follow.text())
        .await
        .unwrap()
        .unwrap();
    assert!(text.contains("note is followed"), "{text}");

    // Kill a long sleep.
    let e = api.execute("sleepy", json!({})).await;
    let id = e["id"].as_str().unwrap();
    api.until(id, "the sleep", Duration::from_secs(30), |e| {
        e["taskRunList"][0]["state"]["current"] == "RUNNING"
    })
    .await;
    let (status, _) = api
        .json(api.req(
            reqwest::Method::DELETE,
            &format!("/api/v1/executions/{id}/kill"),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    api.until_state(id, "KILLED").await;

    // Resume a pause with an onResume input.
    let e = api.execute("approve", json!({})).await;
    let id = e["id"].as_str().unwrap();
    api.until_state(id, "PAUSED").await;
    let form = reqwest::multipart::Form::new().text("ok", "true");
    let (status, body) = api
        .json(
            api.req(
                reqwest::Method::POST,
                &format!("/api/v1/executions/{id}/resume"),
            )
            .multipart(form),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let done = api.until_state(id, "SUCCESS").await;
    assert_eq!(done["taskRunList"][1]["outputs"]["value"], "ok=true");

    // A new file in the flows folder is picked up.
    write(
        &flows,
        "later.yaml",
        &HELLO.replace("id: hello", "id: later"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get("/api/v1/flows/kite.e2e/later").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "later.yaml was not loaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::remove_file(flows.join("later.yaml")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get("/api/v1/flows/kite.e2e/later").await.0 != StatusCode::NOT_FOUND {
        assert!(
            Instant::now() < deadline,
            "later.yaml's flow was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGTERM stops it cleanly.
    let mut server = server;
    let status = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_then_restart_ends_every_execution_once() {
    const N: usize = 100;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, None);
    let api = Api::new(&server);
    let (status, body) = api
        .json(
            api.req(reqwest::Method::POST, "/api/v1/flows")
                .header("content-type", "application/x-yaml")
                .body(NAP),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut ids = Vec::new();
    for n in 0..N {
        let e = api.execute("nap", json!({ "n": n })).await;
        ids.push(e["id"].as_str().unwrap().to_owned());
    }
    // Crash while they sleep: wait until most have started sleeping, none finished.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = api
            .get("/api/v1/executions/search?namespace=kite.e2e&flowId=nap&size=100")
            .await;
        let sleeping = page["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["taskRunList"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|r| r["taskId"] == "sleep"))
            })
            .count();
        if sleeping >= N / 2 {
            break;
        }
        assert!(Instant::now() < deadline, "executions did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, before) = api
        .get("/api/v1/executions/search?namespace=kite.e2e&state=SUCCESS&size=100")
        .await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    drop(server);
    let ended_before = before["total"].as_u64().unwrap();

    let server = Server::start(&data, None);
    let api = Api::new(&server);
    let started = Instant::now();
    let mut finals = Vec::new();
    for id in &ids {
        let e = api
            .until(
                id,
                "the end after the restart",
                Duration::from_secs(90),
                |e| e["state"]["endDate"].is_string(),
            )
            .await;
        finals.push(e);
    }
    eprintln!(
        "{ended_before} of {N} had ended before the kill; all ended {:?} after the restart",
        started.elapsed()
    );
    let mut duplicated_logs = 0;
    for (n, e) in finals.iter().enumerate() {
        let id = e["id"].as_str().unwrap();
        assert_eq!(e["state"]["current"], "SUCCESS", "{e:#}");
        let successes = e["state"]["histories"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["state"] == "SUCCESS")
            .count();
        assert_eq!(successes, 1, "{e:#}");
        let runs = e["taskRunList"].as_array().unwrap();
        let tasks: Vec<&str> = runs.iter().map(|r| r["taskId"].as_str().unwrap()).collect();
        assert_eq!(tasks, ["start", "sleep", "done"], "{id}: {e:#}");
        for r in runs {
            assert_eq!(r["state"]["current"], "SUCCESS", "{e:#}");
            assert!(
                r["attempts"].as_array().is_none_or(|a| a.len() <= 1),
                "{e:#}"
            );
            let entered = r["state"]["histories"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["state"] == "SUCCESS")
                .count();
            assert_eq!(entered, 1, "{e:#}");
        }
        assert_eq!(runs[2]["outputs"]["value"], format!("done {n}"));
        let (_, logs) = api.get(&format!("/api/v1/logs/{id}?taskId=start")).await;
        let count = logs
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["message"] == format!("start {n}"))
            .count();
        assert!(count >= 1, "{id}: the Log line is missing");
        duplicated_logs += count - 1;
    }
    eprintln!("duplicated log lines after the crash: {duplicated_logs}");
    let (_, all) = api
        .get("/api/v1/executions/search?namespace=kite.e2e&size=100")
        .await;
    assert_eq!(all["total"], N, "no execution was created twice");
}

/// CPU time (user + system) the process `pid` used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// A decision that takes minutes: each of 50,000 Return tasks renders `outputs` (all the
/// outputs so far), which costs time in the number of task runs.
const LONG_DECISION: &str = "id: long\nnamespace: kite.e2e\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 0\n    values: \"{{ range(1, 50000) }}\"\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ outputs | length }}\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_during_a_long_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), None);
    let api = Api::new(&server);
    let (status, body) = api
        .json(
            api.req(reqwest::Method::POST, "/api/v1/flows")
                .header("content-type", "application/x-yaml")
                .body(LONG_DECISION),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let idle = cpu_time(server.child.id());
    let e = api.execute("long", json!({})).await;
    let id = e["id"].as_str().unwrap().to_owned();

    // The signal that the decision runs: the server burns CPU (an idle one uses almost
    // none), 3 s more than before the execution, within 120 s.
    let deadline = Instant::now() + Duration::from_secs(120);
    while cpu_time(server.child.id()) < idle + Duration::from_secs(3) {
        assert!(Instant::now() < deadline, "the decision never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, now) = api.get(&format!("/api/v1/executions/{id}")).await;
    assert_ne!(
        now["state"]["current"], "SUCCESS",
        "the decision already ended"
    );

    let mut server = server;
    let status = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .unwrap();
    assert!(status.success());
    let sent = Instant::now();
    let exit = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        // Generous for a loaded machine, and still far below the minutes the decision
        // takes when nothing stops it.
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "the server did not stop within 30 s of SIGTERM during a long decision"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit:?}");
}
