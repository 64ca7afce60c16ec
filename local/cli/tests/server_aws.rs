//! `kite server local --aws-endpoint` end to end: the real AWS adapters on a moto server this
//! test starts itself (on a free port, installing moto if needed), the very handlers the
//! Lambda functions run, fed by the emulated event source mappings; driven over the REST
//! API like a user would. Sequential and parallel flows, a ForEach fan-out of 500, a
//! subflow, pause/resume, retries, kill, files between tasks and a file input uploaded
//! through the API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

struct Server {
    child: Child,
    url: String,
    /// The API token the server created in its data folder.
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    start_with(&[], &[])
}

/// Starts the server with `extra` arguments of `kite server local` and more environment
/// variables.
fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Server {
    let endpoint = kite_aws::testing::moto().endpoint.clone();
    let prefix = kite_aws::testing::unique_prefix();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(["--aws-endpoint", &endpoint, "--prefix", &prefix])
        .args(["server", "local", "--port", "0", "--data"])
        .arg(dir.path().join("data"))
        .args(extra)
        .env_remove("KITE_TOKEN")
        .env_remove("KITE_TOKEN_FILE")
        .env("KITE_LOG", "warn")
        .env("KITE_WORK_DIR", dir.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(dir.path().join("server.log"))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .expect("kite starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let url = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => url,
        Err(_) => panic!(
            "the server did not start: {}",
            std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
        ),
    };
    // Emulator mode too creates its token at first start, in the data folder.
    let token_file = dir.path().join("data").join("api-token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap_or_else(|e| panic!("{}: {e}", token_file.display()))
        .trim()
        .to_owned();
    assert_eq!(token.len(), 64, "a 32-byte hex token");
    Server {
        child,
        url,
        token,
        _dir: dir,
    }
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(server: &Server) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", server.token).parse().unwrap(),
        );
        Self {
            base: server.url.clone(),
            client: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn deploy(&self, yaml: &str) {
        let (status, body) = self
            .send(
                self.client
                    .post(format!("{}/api/v1/flows", self.base))
                    .header("content-type", "application/x-yaml")
                    .body(yaml.to_owned()),
            )
            .await;
        assert!(status.is_success(), "deploy: {status} {body}");
    }

    async fn execute(&self, flow: &str) -> String {
        let (status, e) = self
            .send(
                self.client
                    .post(format!("{}/api/v1/executions/kite.aws/{flow}", self.base))
                    .json(&serde_json::json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        e["id"].as_str().unwrap().to_owned()
    }

    async fn get(&self, id: &str) -> Value {
        self.send(
            self.client
                .get(format!("{}/api/v1/executions/{id}", self.base)),
        )
        .await
        .1
    }

    async fn until(&self, id: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let e = self.get(id).await;
            if done(&e) {
                return e;
            }
            assert!(Instant::now() < deadline, "timed out: {e:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn ended(&self, id: &str, timeout: Duration) -> Value {
        self.until(id, timeout, |e| {
            matches!(
                e["state"]["current"].as_str(),
                Some("SUCCESS" | "FAILED" | "KILLED" | "WARNING" | "CANCELLED")
            )
        })
        .await
    }
}

fn state(e: &Value) -> &str {
    e["state"]["current"].as_str().unwrap_or("?")
}

fn runs<'a>(e: &'a Value, task: &str) -> Vec<&'a Value> {
    e["taskRunList"]
        .as_array()
        .map(|l| l.iter().filter(|r| r["taskId"] == task).collect())
        .unwrap_or_default()
}

const SEQUENTIAL: &str = r#"id: sequential
namespace: kite.aws
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello from the AWS path
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["out.txt"]
    commands:
      - echo "made on a worker" > out.txt
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.make.outputFiles['out.txt']) | trim }}"
"#;

const PARALLEL: &str = r#"id: parallel
namespace: kite.aws
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo a"]
      - id: b
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: c
"#;

const FOREACH: &str = r#"id: foreach
namespace: kite.aws
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 500) }}"
    concurrencyLimit: 0
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#;

const CHILD: &str = r#"id: child
namespace: kite.aws
inputs:
  - id: who
    type: STRING
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hi {{ inputs.who }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
"#;

const PARENT: &str = r#"id: parent
namespace: kite.aws
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: kite.aws
    flowId: child
    inputs:
      who: parent
    wait: true
    transmitFailed: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.call.outputs.greeting }}"
"#;

const PAUSE: &str = r#"id: pause
namespace: kite.aws
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: resumed
"#;

const RETRY: &str = r#"id: retry
namespace: kite.aws
tasks:
  - id: flaky
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["exit 3"]
    retry:
      type: constant
      interval: PT0.5S
      maxAttempt: 3
"#;

const SLOW: &str = r#"id: slow
namespace: kite.aws
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"#;

const UPLOAD: &str = r#"id: upload
namespace: kite.aws
inputs:
  - id: doc
    type: FILE
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.doc) }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_run_end_to_end_on_the_aws_adapters() {
    let server = start();
    let api = Api::new(&server);
    for f in [
        SEQUENTIAL, PARALLEL, FOREACH, CHILD, PARENT, PAUSE, RETRY, SLOW, UPLOAD,
    ] {
        api.deploy(f).await;
    }
    let long = Duration::from_secs(120);

    // Sequential, with a file passed between tasks through S3.
    let id = api.execute("sequential").await;
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    assert_eq!(runs(&e, "read")[0]["outputs"]["value"], "made on a worker");

    // Parallel: a worker task, a timer (Sleep through the timer queue) and an inline task.
    let id = api.execute("parallel").await;
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    for t in ["a", "b", "c"] {
        assert_eq!(runs(&e, t).len(), 1, "{t} ran once");
    }

    // Subflow with outputs.
    let id = api.execute("parent").await;
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    assert_eq!(runs(&e, "after")[0]["outputs"]["value"], "hi parent");

    // Pause, then resume through the API.
    let id = api.execute("pause").await;
    api.until(&id, long, |e| state(e) == "PAUSED").await;
    let (status, body) = api
        .send(
            api.client
                .post(format!("{}/api/v1/executions/{id}/resume", api.base))
                .json(&serde_json::json!({})),
        )
        .await;
    assert!(status.is_success(), "resume: {status} {body}");
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "SUCCESS", "{e:#}");

    // Retries: three attempts, then FAILED.
    let id = api.execute("retry").await;
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "FAILED", "{e:#}");
    let attempts = runs(&e, "flaky")[0]["attempts"].as_array().map(Vec::len);
    assert_eq!(attempts, Some(3), "{e:#}");

    // Kill a sleeping execution.
    let id = api.execute("slow").await;
    api.until(&id, long, |e| state(e) == "RUNNING").await;
    let (status, body) = api
        .send(
            api.client
                .delete(format!("{}/api/v1/executions/{id}/kill", api.base)),
        )
        .await;
    assert!(status.is_success(), "kill: {status} {body}");
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "KILLED", "{e:#}");

    // A file input uploaded through the API (multipart), read by a task.
    let form = reqwest::multipart::Form::new().part(
        "doc",
        reqwest::multipart::Part::bytes(b"uploaded bytes \x01\x02".to_vec()).file_name("in.bin"),
    );
    let (status, e) = api
        .send(
            api.client
                .post(format!("{}/api/v1/executions/kite.aws/upload", api.base))
                .multipart(form),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let id = e["id"].as_str().unwrap().to_owned();
    let e = api.ended(&id, long).await;
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    assert_eq!(
        runs(&e, "echo")[0]["outputs"]["value"],
        "uploaded bytes \u{1}\u{2}"
    );

    // ForEach fan-out of 500.
    let id = api.execute("foreach").await;
    let e = api.ended(&id, Duration::from_secs(300)).await;
    assert_eq!(state(&e), "SUCCESS", "{}", e["state"]);
    assert_eq!(runs(&e, "item").len(), 500);
}

/// The id of the child execution a Subflow run started, if any.
fn child(e: &Value, task: &str) -> Option<String> {
    runs(e, task)
        .first()
        .and_then(|r| r["outputs"]["executionId"].as_str())
        .map(str::to_owned)
}

/// Issue 8 item 6 on the AWS adapters: an A → B → A recursion ends FAILED at the depth
/// limit (4 here, through `KITE_MAX_SUBFLOW_DEPTH`) after a bounded number of executions,
/// with the limit named in the log; killing a root kills its descendants.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recursion_stops_at_the_depth_limit_and_kill_reaches_descendants() {
    let server = start_with(&[], &[("KITE_MAX_SUBFLOW_DEPTH", "4")]);
    let api = Api::new(&server);
    let limit = Duration::from_secs(180);
    for (id, target) in [("ping", "pong"), ("pong", "ping")] {
        api.deploy(&format!(
            "id: {id}\nnamespace: kite.aws\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: kite.aws\n    flowId: {target}\n"
        ))
        .await;
    }
    let root = api.execute("ping").await;
    let mut chain = vec![api.ended(&root, limit).await];
    while let Some(next) = child(chain.last().unwrap(), "call") {
        chain.push(api.ended(&next, limit).await);
        assert!(chain.len() <= 10, "the recursion does not stop");
    }
    assert_eq!(chain.len(), 5, "root + 4 nested subflows");
    assert!(chain.iter().all(|e| state(e) == "FAILED"), "{chain:#?}");
    let deepest = chain.last().unwrap()["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + limit;
    loop {
        let (_, logs) = api
            .send(
                api.client
                    .get(format!("{}/api/v1/logs/{deepest}", api.base)),
            )
            .await;
        let text = logs.to_string();
        if text.contains("at most 4 nested subflows") && text.contains("KITE_MAX_SUBFLOW_DEPTH") {
            break;
        }
        assert!(Instant::now() < deadline, "no depth message: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    api.deploy(
        "id: sleeper\nnamespace: kite.aws\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT10M\n",
    )
    .await;
    api.deploy(
        "id: middle\nnamespace: kite.aws\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: kite.aws\n    flowId: sleeper\n",
    )
    .await;
    api.deploy(
        "id: top\nnamespace: kite.aws\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: kite.aws\n    flowId: middle\n    wait: false\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT10M\n",
    )
    .await;
    let top = api.execute("top").await;
    let running = api.until(&top, limit, |e| child(e, "call").is_some()).await;
    let middle = child(&running, "call").unwrap();
    let middle_e = api
        .until(&middle, limit, |e| child(e, "call").is_some())
        .await;
    let sleeper = child(&middle_e, "call").unwrap();
    api.until(&sleeper, limit, |e| {
        runs(e, "nap")
            .first()
            .is_some_and(|r| r["state"]["current"] == "RUNNING")
    })
    .await;
    let (status, body) = api
        .send(
            api.client
                .delete(format!("{}/api/v1/executions/{top}/kill", api.base)),
        )
        .await;
    assert!(status.is_success(), "kill: {status} {body}");
    for id in [&top, &middle, &sleeper] {
        let e = api.ended(id, limit).await;
        assert_eq!(state(&e), "KILLED", "{e:#}");
    }
}

fn for_each(id: &str, values: usize) -> String {
    format!(
        "id: {id}\nnamespace: kite.aws\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 0\n    values: \"{{{{ range(1, {values}) }}}}\"\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
    )
}

/// Issue 8, item 2, on the AWS adapters: a ForEach of 3,000 values completes (its record
/// kept in S3), one over the loop ceiling fails cleanly with a message naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_big_foreach_completes_and_a_ceiling_fails_cleanly_on_the_aws_adapters() {
    let server = start_with(&["--max-loop-values", "3000"], &[]);
    let api = Api::new(&server);
    api.deploy(&for_each("big", 3000)).await;
    api.deploy(&for_each("over", 3001)).await;

    let big = api.execute("big").await;
    let e = api.ended(&big, Duration::from_secs(300)).await;
    assert_eq!(state(&e), "SUCCESS", "{}", e["state"]);
    assert_eq!(runs(&e, "r").len(), 3000);

    let over = api.execute("over").await;
    let e = api.ended(&over, Duration::from_secs(120)).await;
    assert_eq!(state(&e), "FAILED");
    assert!(runs(&e, "r").is_empty());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, logs) = api
            .send(api.client.get(format!("{}/api/v1/logs/{over}", api.base)))
            .await;
        let text = logs.to_string();
        if text.contains("3000 values per loop") {
            assert!(text.contains("--max-loop-values"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log names the ceiling: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
