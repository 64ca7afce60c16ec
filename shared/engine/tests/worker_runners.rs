//! Worker runners of the runnable core tasks, run through `kite_engine::worker::run_job`
//! with in-memory storage and documents. HTTP tests talk to a local server started here
//! (never the internet).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use kite_engine::executor::{Expressions, WorkerJob, WorkerResult};
use kite_engine::model::{LogEntry, State};
use kite_engine::repo::Repos;
use kite_engine::worker::{Runners, run_job};
use kite_flow::plugin::LogLevel;
use kite_ports::{MemoryDocuments, MemoryStorage, Storage, StorageKey, SystemClock};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

struct Harness {
    storage: Arc<MemoryStorage>,
    repos: Repos,
    root: tempfile::TempDir,
    runners: Runners,
    /// The worker's own time limit (a Lambda's remaining time).
    budget: Option<Duration>,
}

struct Run {
    result: WorkerResult,
    logs: Vec<LogEntry>,
}

impl Run {
    fn out(&self, key: &str) -> &Value {
        self.result.outputs.get(key).unwrap_or(&Value::Null)
    }

    fn messages(&self, level: LogLevel) -> Vec<String> {
        self.logs
            .iter()
            .filter(|l| l.level == level)
            .map(|l| l.message.clone())
            .collect()
    }

    fn errors(&self) -> String {
        self.messages(LogLevel::Error).join("\n")
    }

    #[track_caller]
    fn assert_state(&self, state: State) {
        assert_eq!(
            self.result.state, state,
            "outputs: {:?}\nlogs: {:#?}",
            self.result.outputs, self.logs
        );
    }
}

impl Harness {
    fn new() -> Self {
        let storage: Arc<MemoryStorage> = Arc::new(MemoryStorage::new());
        Self {
            repos: Repos::new(
                Arc::new(MemoryDocuments::new(Arc::new(SystemClock))),
                storage.clone(),
            ),
            storage,
            root: tempfile::tempdir().unwrap(),
            runners: Runners::core(),
            budget: None,
        }
    }

    fn flow(tasks_yaml: &str, flow_id: &str) -> kite_flow::Flow {
        let source = format!("id: {flow_id}\nnamespace: company.team\ntasks:\n{tasks_yaml}");
        let parsed = kite_flow::parse_flow(&source);
        match parsed.flow {
            Some(f) => f,
            None => panic!("invalid test flow:\n{source}\n{:#?}", parsed.diagnostics),
        }
    }

    fn job(flow_id: &str, task_id: &str, vars: Value) -> WorkerJob {
        let Value::Object(vars) = vars else {
            panic!("vars must be an object")
        };
        WorkerJob {
            execution_id: "exec1".into(),
            namespace: "company.team".into(),
            flow_id: flow_id.into(),
            flow_revision: 1,
            task_id: task_id.into(),
            task_run_id: format!("tr-{task_id}"),
            attempt: 0,
            vars,
            working_directory: None,
            extra: Default::default(),
        }
    }

    /// Runs the task `t` of a flow whose `tasks:` are `tasks_yaml`.
    async fn run(&self, tasks_yaml: &str, vars: Value) -> Run {
        self.run_job(tasks_yaml, "t", "flow", vars, |_| {}).await
    }

    async fn run_job(
        &self,
        tasks_yaml: &str,
        task_id: &str,
        flow_id: &str,
        vars: Value,
        edit: impl FnOnce(&mut WorkerJob),
    ) -> Run {
        let flow = Self::flow(tasks_yaml, flow_id);
        let task = flow.find_task(task_id).cloned().expect("task in flow");
        let mut job = Self::job(flow_id, task_id, vars);
        edit(&mut job);
        let rt = Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]);
        let (result, logs) = run_job(
            job,
            task,
            &self.runners,
            rt,
            self.storage.clone(),
            self.repos.clone(),
            Arc::new(SystemClock),
            self.root.path(),
            self.budget,
        )
        .await;
        Run { result, logs }
    }

    async fn put(&self, key: &str, content: &str) -> String {
        let key = StorageKey::new(key).unwrap();
        self.storage
            .put(&key, content.as_bytes().to_vec().into())
            .await
            .unwrap();
        key.to_uri()
    }

    async fn read(&self, uri: &Value) -> String {
        let uri = uri.as_str().unwrap_or_else(|| panic!("not a URI: {uri}"));
        let key = StorageKey::parse_uri(uri).unwrap();
        String::from_utf8(self.storage.get(&key).await.unwrap().to_vec()).unwrap()
    }
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

// ---------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Server {
    base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = recorded.clone();
                std::thread::spawn(move || handle(stream, &recorded));
            }
        });
        Self { base, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn last(&self, path: &str) -> Recorded {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r.path == path)
            .cloned()
            .unwrap_or_else(|| panic!("no request to {path}"))
    }
}

fn handle(stream: std::net::TcpStream, recorded: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    recorded.lock().unwrap().push(Recorded {
        method,
        path: path.clone(),
        headers,
        body,
    });
    let (status, extra, body): (&str, Vec<&str>, &[u8]) = match path.as_str() {
        "/hello" => (
            "200 OK",
            vec!["Content-Type: text/plain", "X-Custom: a", "X-Custom: b"],
            b"hello world",
        ),
        "/echo" => (
            "200 OK",
            vec!["Content-Type: application/json"],
            b"{\"ok\":true}",
        ),
        "/missing" => ("404 Not Found", vec![], b"nope"),
        "/empty" => ("200 OK", vec![], b""),
        "/redirect" => ("302 Found", vec!["Location: /hello"], b""),
        "/data/file.csv" => ("200 OK", vec!["Content-Type: text/csv"], b"a,b\n1,2\n"),
        "/named" => (
            "200 OK",
            vec!["Content-Disposition: attachment; filename=\"report.txt\""],
            b"report",
        ),
        _ => ("500 Internal Server Error", vec![], b"unexpected path"),
    };
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
    let _ = out.flush();
}

// ---------------------------------------------------------------------------------------
// http.Request
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn http_request_get_renders_and_returns_code_headers_body() {
    let server = Server::start();
    let h = Harness::new();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n    headers:\n      X-Token: \"{{{{ inputs.token }}}}\"\n",
        yaml_str(&server.url("/hello"))
    );
    let run = h.run(&yaml, json!({"inputs": {"token": "s3cret"}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("code"), &json!(200));
    assert_eq!(run.out("body"), &json!("hello world"));
    assert_eq!(run.out("uri"), &json!(server.url("/hello")));
    assert_eq!(run.out("headers")["Content-Type"], json!(["text/plain"]));
    assert_eq!(run.out("headers")["X-Custom"], json!(["a", "b"]));
    let req = server.last("/hello");
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.headers.get("x-token").map(String::as_str),
        Some("s3cret")
    );
}

#[tokio::test]
async fn http_request_post_body_and_urlencoded_form() {
    let server = Server::start();
    let h = Harness::new();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n    method: POST\n    body: '{{\"name\": \"{{{{ inputs.name }}}}\"}}'\n",
        yaml_str(&server.url("/echo"))
    );
    let run = h.run(&yaml, json!({"inputs": {"name": "kite"}})).await;
    run.assert_state(State::Success);
    let req = server.last("/echo");
    assert_eq!(req.method, "POST");
    assert_eq!(String::from_utf8(req.body).unwrap(), "{\"name\": \"kite\"}");
    assert_eq!(
        req.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(run.out("body"), &json!("{\"ok\":true}"));

    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n    method: put\n    formData:\n      user: \"{{{{ inputs.name }}}}\"\n      msg: a b&c\n",
        yaml_str(&server.url("/echo"))
    );
    let run = h.run(&yaml, json!({"inputs": {"name": "kite"}})).await;
    run.assert_state(State::Success);
    let req = server.last("/echo");
    assert_eq!(req.method, "PUT");
    assert_eq!(
        String::from_utf8(req.body).unwrap(),
        "user=kite&msg=a+b%26c"
    );
    assert_eq!(
        req.headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        run.out("formData"),
        &json!({"user": "kite", "msg": "a b&c"})
    );
}

#[tokio::test]
async fn http_request_multipart_sends_storage_files() {
    let server = Server::start();
    let h = Harness::new();
    let uri = h
        .put(
            "company.team/flow/executions/e0/tasks/x/y/in.txt",
            "file-content",
        )
        .await;
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n    method: POST\n    contentType: multipart/form-data\n    formData:\n      field: plain\n      upload: \"{{{{ inputs.file }}}}\"\n",
        yaml_str(&server.url("/echo"))
    );
    let run = h.run(&yaml, json!({"inputs": {"file": uri}})).await;
    run.assert_state(State::Success);
    let req = server.last("/echo");
    let ct = req.headers.get("content-type").cloned().unwrap_or_default();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8(req.body).unwrap();
    assert!(body.contains("name=\"field\"\r\n\r\nplain\r\n"), "{body}");
    assert!(
        body.contains("name=\"upload\"; filename=\"in.txt\""),
        "{body}"
    );
    assert!(body.contains("file-content"), "{body}");
}

#[tokio::test]
async fn http_request_fails_on_4xx_unless_allow_failed() {
    let server = Server::start();
    let h = Harness::new();
    let base = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n",
        yaml_str(&server.url("/missing"))
    );
    let run = h.run(&base, json!({})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("404"), "{}", run.errors());

    let run = h
        .run(&format!("{base}    allowFailed: true\n"), json!({}))
        .await;
    run.assert_state(State::Success);
    assert_eq!(run.out("code"), &json!(404));
    assert_eq!(run.out("body"), &json!("nope"));

    // Kestra's newer spelling, under `options`.
    let run = h
        .run(
            &format!("{base}    options:\n      allowFailed: true\n"),
            json!({}),
        )
        .await;
    run.assert_state(State::Success);
}

#[tokio::test]
async fn http_request_basic_auth_and_redirect_options() {
    let server = Server::start();
    let h = Harness::new();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n    options:\n      basicAuthUser: user\n      basicAuthPassword: \"{{{{ inputs.pw }}}}\"\n      followRedirects: false\n      connectTimeout: PT5S\n      readTimeout: PT5S\n",
        yaml_str(&server.url("/redirect"))
    );
    let run = h.run(&yaml, json!({"inputs": {"pw": "pass"}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("code"), &json!(302));
    let req = server.last("/redirect");
    // base64("user:pass")
    assert_eq!(
        req.headers.get("authorization").map(String::as_str),
        Some("Basic dXNlcjpwYXNz")
    );

    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: {}\n",
        yaml_str(&server.url("/redirect"))
    );
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("code"), &json!(200));
    assert_eq!(run.out("body"), &json!("hello world"));
}

#[tokio::test]
async fn http_request_connection_refused_fails_clearly() {
    // A port nothing listens on: bind then drop.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = Harness::new();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Request\n    uri: http://127.0.0.1:{port}/x\n"
    );
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Failed);
    assert!(
        run.errors().contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.errors()
    );
}

// ---------------------------------------------------------------------------------------
// http.Download
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn http_download_stores_the_body() {
    let server = Server::start();
    let h = Harness::new();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Download\n    uri: {}\n",
        yaml_str(&server.url("/data/file.csv"))
    );
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("code"), &json!(200));
    assert_eq!(run.out("length"), &json!(8));
    assert_eq!(run.out("headers")["Content-Type"], json!(["text/csv"]));
    let uri = run.out("uri").as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("kestra:///company.team/flow/executions/exec1/tasks/t/"),
        "{uri}"
    );
    assert!(uri.ends_with("/file.csv"), "{uri}");
    assert_eq!(h.read(run.out("uri")).await, "a,b\n1,2\n");

    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Download\n    uri: {}\n",
        yaml_str(&server.url("/named"))
    );
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Success);
    assert!(
        run.out("uri").as_str().unwrap().ends_with("/report.txt"),
        "{:?}",
        run.out("uri")
    );
    assert_eq!(h.read(run.out("uri")).await, "report");
}

#[tokio::test]
async fn http_download_empty_body_fails_unless_allowed() {
    let server = Server::start();
    let h = Harness::new();
    let base = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Download\n    uri: {}\n",
        yaml_str(&server.url("/empty"))
    );
    let run = h.run(&base, json!({})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("empty"), "{}", run.errors());

    let run = h
        .run(
            &format!("{base}    failOnEmptyResponse: false\n"),
            json!({}),
        )
        .await;
    run.assert_state(State::Success);
    assert_eq!(run.out("length"), &json!(0));
    assert_eq!(h.read(run.out("uri")).await, "");
    assert!(
        run.messages(LogLevel::Warn)
            .iter()
            .any(|m| m.contains("is empty")),
        "{:?}",
        run.logs
    );
}

#[tokio::test]
async fn http_download_fails_on_404() {
    let server = Server::start();
    let h = Harness::new();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.http.Download\n    uri: {}\n",
        yaml_str(&server.url("/missing"))
    );
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("404"), "{}", run.errors());
    assert!(run.result.outputs.is_empty());
}

// ---------------------------------------------------------------------------------------
// Scripts (Process task runner)
// ---------------------------------------------------------------------------------------

fn python3_available() -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| !d.is_empty() && std::path::Path::new(d).join("python3").is_file())
}

#[tokio::test]
async fn shell_commands_logs_outputs_and_env() {
    let h = Harness::new();
    let yaml = r#"  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      GREETING: "hello {{ inputs.name }}"
    commands:
      - echo "$GREETING"
      - echo '::{"outputs":{"count":3,"name":"x"}}::'
      - echo 'oops' >&2
      - echo '::{"outputs":{"more":true},"logs":[{"level":"ERROR","message":"from marker"}]}::'
"#;
    let run = h.run(yaml, json!({"inputs": {"name": "kite"}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("exitCode"), &json!(0));
    assert_eq!(
        run.out("vars"),
        &json!({"count": 3, "name": "x", "more": true})
    );
    assert_eq!(run.messages(LogLevel::Info), vec!["hello kite".to_owned()]);
    assert_eq!(run.messages(LogLevel::Warn), vec!["oops".to_owned()]);
    assert_eq!(
        run.messages(LogLevel::Error),
        vec!["from marker".to_owned()]
    );
    assert!(
        !run.logs.iter().any(|l| l.message.contains("::{")),
        "marker lines are not logged"
    );
    assert_eq!(run.out("stdOutLineCount"), &json!(1));
    assert_eq!(run.out("stdErrLineCount"), &json!(1));
}

#[tokio::test]
async fn shell_commands_warning_on_stderr() {
    let h = Harness::new();
    let yaml = "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    warningOnStdErr: true\n    commands:\n      - echo warn >&2\n";
    h.run(yaml, json!({})).await.assert_state(State::Warning);
    let yaml = "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    warningOnStdErr: true\n    commands:\n      - echo fine\n";
    h.run(yaml, json!({})).await.assert_state(State::Success);
}

#[tokio::test]
async fn shell_commands_non_zero_exit_fails_with_code_and_stderr() {
    let h = Harness::new();
    let yaml = "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo before\n      - echo 'disk is full' >&2\n      - exit 3\n";
    let run = h.run(yaml, json!({})).await;
    run.assert_state(State::Failed);
    let errors = run.errors();
    assert!(errors.contains("exit code 3"), "{errors}");
    assert!(errors.contains("disk is full"), "{errors}");

    // The first failing command stops the script (`set -e`, Kestra's exitOnFailed).
    let yaml = "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    beforeCommands:\n      - 'false'\n    commands:\n      - echo after\n";
    let run = h.run(yaml, json!({})).await;
    run.assert_state(State::Failed);
    assert!(run.messages(LogLevel::Info).is_empty(), "{:?}", run.logs);
    assert!(run.errors().contains("exit code 1"), "{}", run.errors());
}

#[tokio::test]
async fn shell_commands_input_and_output_files() {
    let h = Harness::new();
    let stored = h
        .put(
            "company.team/flow/executions/e0/tasks/x/y/stored.txt",
            "from storage",
        )
        .await;
    let yaml = r#"  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      data.txt: "value={{ inputs.v }}"
      nested/dir/b.txt: second
      copied.txt: "{{ inputs.stored }}"
    outputFiles:
      - "*.out"
      - "results/**"
    commands:
      - cat data.txt > data.out
      - mkdir -p results/deep
      - cat nested/dir/b.txt copied.txt > results/deep/r.csv
      - echo ignored > other.log
"#;
    let run = h
        .run(yaml, json!({"inputs": {"v": 42, "stored": stored}}))
        .await;
    run.assert_state(State::Success);
    let files = run
        .out("outputFiles")
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut names: Vec<_> = files.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        vec!["data.out".to_owned(), "results/deep/r.csv".to_owned()]
    );
    assert_eq!(h.read(&files["data.out"]).await, "value=42");
    assert_eq!(
        h.read(&files["results/deep/r.csv"]).await,
        "secondfrom storage"
    );

    // inputFiles as a JSON string, traversal refused.
    let yaml = "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    inputFiles: '{\"a.txt\": \"A\"}'\n    outputFiles: [a.txt]\n    commands: [\"true\"]\n";
    let run = h.run(yaml, json!({})).await;
    run.assert_state(State::Success);
    assert_eq!(h.read(&run.out("outputFiles")["a.txt"]).await, "A");
    let yaml = "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    inputFiles:\n      ../escape.txt: x\n    commands: [\"true\"]\n";
    let run = h.run(yaml, json!({})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains(".."), "{}", run.errors());
    assert!(!h.root.path().join("exec1").join("escape.txt").exists());
}

#[tokio::test]
async fn shell_commands_working_dir_output_dir_and_storage_uris() {
    let h = Harness::new();
    let stored = h
        .put("company.team/flow/executions/e0/tasks/x/y/in.csv", "1,2,3")
        .await;
    let yaml = r#"  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - test "$(pwd -P)" = "{{ workingDir }}"
      - cat {{ inputs.file }}
      - echo report > "{{ outputDir }}/report.txt"
"#;
    let run = h.run(yaml, json!({"inputs": {"file": stored}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.messages(LogLevel::Info), vec!["1,2,3".to_owned()]);
    assert_eq!(
        h.read(&run.out("outputFiles")["report.txt"]).await,
        "report\n"
    );
}

#[tokio::test]
async fn a_task_longer_than_the_workers_time_limit_fails_with_a_clear_message() {
    let mut h = Harness::new();
    h.budget = Some(Duration::from_millis(300));
    let yaml = r#"  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1H
    commands:
      - sleep 30
"#;
    let started = Instant::now();
    let run = h.run_job(yaml, "t", "flow", json!({}), |_| {}).await;
    run.assert_state(State::Failed);
    // Well under the 30 s the command would take: the limit stopped it.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(25), "took {elapsed:?}");
    assert!(
        run.errors().contains("worker's time limit") && run.errors().contains("15 minutes"),
        "{}",
        run.errors()
    );
    // The task's own, shorter timeout keeps its usual message.
    h.budget = Some(Duration::from_secs(60));
    let yaml = yaml.replace("PT1H", "PT0.2S");
    let run = h.run_job(&yaml, "t", "flow", json!({}), |_| {}).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("Timeout after"), "{}", run.errors());
}

/// The timeout leaves the shell ample time to write its pid files on a loaded machine (they
/// are written first, the timeout is 5 s); the run must still end well before the 30 s its
/// sleeps would take, and both processes must be gone.
#[tokio::test]
async fn shell_commands_timeout_kills_the_process_group() {
    let h = Harness::new();
    let yaml = r#"  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT5S
    commands:
      - echo $$ > leader.pid
      - sleep 30 &
      - echo $! > background.pid
      - sleep 30
"#;
    let started = Instant::now();
    let run = h
        .run_job(yaml, "t", "flow", json!({}), |j| {
            j.working_directory = Some("shared".into())
        })
        .await;
    let elapsed = started.elapsed();
    run.assert_state(State::Failed);
    assert!(elapsed < Duration::from_secs(25), "took {elapsed:?}");
    assert!(run.errors().contains("Timeout"), "{}", run.errors());
    let dir: PathBuf = h.root.path().join("exec1").join("shared");
    for file in ["leader.pid", "background.pid"] {
        let pid: u32 = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{file} not written before the 5 s timeout: {e}"))
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // Gone, or a zombie waiting for a reaper.
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false);
            if !alive {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{file} process {pid} still alive"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn shell_script_runs_the_script_file_after_before_commands() {
    let h = Harness::new();
    let yaml = r#"  - id: t
    type: io.kestra.plugin.scripts.shell.Script
    beforeCommands:
      - echo before > before.txt
    outputFiles: ["**"]
    script: |
      set -e
      name="{{ inputs.name }}"
      echo "script $name $(cat before.txt)"
      echo "::{\"outputs\":{\"who\":\"$name\"}}::"
"#;
    let run = h.run(yaml, json!({"inputs": {"name": "kite"}})).await;
    run.assert_state(State::Success);
    assert_eq!(
        run.messages(LogLevel::Info),
        vec!["script kite before".to_owned()]
    );
    assert_eq!(run.out("vars"), &json!({"who": "kite"}));
    // The temporary script file is not an output.
    let files: Vec<_> = run
        .out("outputFiles")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(files, vec!["before.txt".to_owned()]);
}

#[tokio::test]
async fn python_script_and_commands() {
    let h = Harness::new();
    let script = r#"  - id: t
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import json, sys
      print("py {{ inputs.n }}")
      print("to stderr", file=sys.stderr)
      print("::" + json.dumps({"outputs": {"square": {{ inputs.n }} ** 2}}) + "::")
"#;
    let commands = "  - id: t\n    type: io.kestra.plugin.scripts.python.Commands\n    commands:\n      - python3 -c 'print(6 * 7)'\n";
    let run = h.run(script, json!({"inputs": {"n": 7}})).await;
    let run2 = h.run(commands, json!({})).await;
    if python3_available() {
        run.assert_state(State::Success);
        assert_eq!(run.messages(LogLevel::Info), vec!["py 7".to_owned()]);
        assert_eq!(run.messages(LogLevel::Warn), vec!["to stderr".to_owned()]);
        assert_eq!(run.out("vars"), &json!({"square": 49}));
        run2.assert_state(State::Success);
        assert_eq!(run2.messages(LogLevel::Info), vec!["42".to_owned()]);
    } else {
        for r in [&run, &run2] {
            r.assert_state(State::Failed);
            assert!(
                r.errors().contains("python3 was not found"),
                "{}",
                r.errors()
            );
        }
    }
}

#[tokio::test]
async fn python_without_python3_on_path_fails_clearly() {
    let h = Harness::new();
    let empty = tempfile::tempdir().unwrap();
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.scripts.python.Script\n    env:\n      PATH: {}\n    script: print(1)\n",
        yaml_str(&empty.path().to_string_lossy())
    );
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Failed);
    assert!(
        run.errors().contains("python3 was not found"),
        "{}",
        run.errors()
    );
}

// ---------------------------------------------------------------------------------------
// storage.*
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn storage_size() {
    let h = Harness::new();
    let uri = h
        .put("company.team/flow/executions/e0/tasks/x/y/f.txt", "12345")
        .await;
    let yaml =
        "  - id: t\n    type: io.kestra.plugin.core.storage.Size\n    uri: \"{{ inputs.f }}\"\n";
    let run = h.run(yaml, json!({"inputs": {"f": uri}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("size"), &json!(5));

    let run = h
        .run(yaml, json!({"inputs": {"f": "kestra:///company/nope.txt"}}))
        .await;
    run.assert_state(State::Failed);
}

#[tokio::test]
async fn storage_delete() {
    let h = Harness::new();
    let uri = h
        .put("company.team/flow/executions/e0/tasks/x/y/f.txt", "x")
        .await;
    let yaml =
        "  - id: t\n    type: io.kestra.plugin.core.storage.Delete\n    uri: \"{{ inputs.f }}\"\n";
    let run = h.run(yaml, json!({"inputs": {"f": uri}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("deleted"), &json!(true));
    assert_eq!(run.out("uri"), &json!(uri));
    assert!(
        !h.storage
            .exists(&StorageKey::parse_uri(&uri).unwrap())
            .await
            .unwrap()
    );

    let run = h.run(yaml, json!({"inputs": {"f": uri}})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("deleted"), &json!(false));

    let strict = format!("{yaml}    errorOnMissing: true\n");
    let run = h.run(&strict, json!({"inputs": {"f": uri}})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("f.txt"), "{}", run.errors());

    // Traversal attempts are rejected by key validation.
    let run = h
        .run(
            yaml,
            json!({"inputs": {"f": "kestra:///company/../etc/passwd"}}),
        )
        .await;
    run.assert_state(State::Failed);
}

#[tokio::test]
async fn storage_concat_list_and_json_string() {
    let h = Harness::new();
    let a = h
        .put("company.team/flow/executions/e0/tasks/x/y/a.txt", "A")
        .await;
    let b = h
        .put("company.team/flow/executions/e0/tasks/x/y/b.txt", "B")
        .await;
    let yaml = "  - id: t\n    type: io.kestra.plugin.core.storage.Concat\n    separator: \"\\n\"\n    extension: .csv\n    files:\n      - \"{{ inputs.a }}\"\n      - \"{{ inputs.b }}\"\n";
    let run = h.run(yaml, json!({"inputs": {"a": a, "b": b}})).await;
    run.assert_state(State::Success);
    assert!(run.out("uri").as_str().unwrap().ends_with(".csv"));
    assert_eq!(h.read(run.out("uri")).await, "A\nB\n");

    let yaml = "  - id: t\n    type: io.kestra.plugin.core.storage.Concat\n    files: \"{{ inputs.list }}\"\n";
    let list = serde_json::to_string(&json!([b, a, b])).unwrap();
    let run = h.run(yaml, json!({"inputs": {"list": list}})).await;
    run.assert_state(State::Success);
    assert!(run.out("uri").as_str().unwrap().ends_with(".tmp"));
    assert_eq!(h.read(run.out("uri")).await, "BAB");

    let run = h.run(yaml, json!({"inputs": {"list": "not json"}})).await;
    run.assert_state(State::Failed);
}

async fn split(h: &Harness, props: &str, from: &str) -> Vec<String> {
    let yaml = format!(
        "  - id: t\n    type: io.kestra.plugin.core.storage.Split\n    from: \"{{{{ inputs.f }}}}\"\n{props}"
    );
    let run = h.run(&yaml, json!({"inputs": {"f": from}})).await;
    run.assert_state(State::Success);
    let mut out = Vec::new();
    for uri in run.out("uris").as_array().unwrap() {
        assert!(uri.as_str().unwrap().ends_with(".csv"), "{uri}");
        out.push(h.read(uri).await);
    }
    out
}

#[tokio::test]
async fn storage_split_rows_bytes_partitions_separator() {
    let h = Harness::new();
    let f = h
        .put(
            "company.team/flow/executions/e0/tasks/x/y/in.csv",
            "1\n2\n3\n4\n5\n",
        )
        .await;
    assert_eq!(
        split(&h, "    rows: 2\n", &f).await,
        vec!["1\n2\n", "3\n4\n", "5\n"]
    );
    assert_eq!(
        split(&h, "    partitions: 2\n", &f).await,
        vec!["1\n3\n5\n", "2\n4\n"]
    );
    assert_eq!(
        split(&h, "    bytes: \"4\"\n", &f).await,
        vec!["1\n2\n", "3\n4\n", "5\n"]
    );
    assert_eq!(
        split(&h, "    bytes: 1KB\n", &f).await,
        vec!["1\n2\n3\n4\n5\n"]
    );

    let g = h
        .put(
            "company.team/flow/executions/e0/tasks/x/y/semi.csv",
            "a;;b;c",
        )
        .await;
    assert_eq!(
        split(&h, "    rows: 2\n    separator: \";;\"\n", &g).await,
        vec!["a;;b;c;;"]
    );
    assert_eq!(
        split(&h, "    rows: 1\n    separator: \";\"\n", &g).await,
        vec!["a;", ";", "b;", "c;"]
    );

    let yaml =
        "  - id: t\n    type: io.kestra.plugin.core.storage.Split\n    from: \"{{ inputs.f }}\"\n";
    let run = h.run(yaml, json!({"inputs": {"f": f}})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("rows"), "{}", run.errors());
}

#[tokio::test]
async fn storage_local_files_inputs_and_outputs() {
    let h = Harness::new();
    let yaml = r#"  - id: t
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      hello.txt: "Hello {{ inputs.name }}"
      sub/x.txt: x
      empty.txt: null
    outputs:
      - "*.txt"
"#;
    let run = h
        .run_job(
            yaml,
            "t",
            "flow",
            json!({"inputs": {"name": "kite"}}),
            |j| j.working_directory = Some("wd".into()),
        )
        .await;
    run.assert_state(State::Success);
    let uris = run.out("uris").as_object().cloned().unwrap();
    let mut names: Vec<_> = uris.keys().cloned().collect();
    names.sort();
    assert_eq!(names, vec!["empty.txt".to_owned(), "hello.txt".to_owned()]);
    assert!(uris["hello.txt"].as_str().unwrap().ends_with("hello.txt"));
    assert_eq!(h.read(&uris["hello.txt"]).await, "Hello kite");
    assert_eq!(h.read(&uris["empty.txt"]).await, "");
    // The files stay in the shared working directory for the next tasks.
    let wd = h.root.path().join("exec1").join("wd");
    assert_eq!(std::fs::read_to_string(wd.join("sub/x.txt")).unwrap(), "x");
}

// ---------------------------------------------------------------------------------------
// state.*
// ---------------------------------------------------------------------------------------

const STATE_FLOW: &str = r#"  - id: set
    type: io.kestra.plugin.core.state.Set
    name: "{{ inputs.name }}"
    data:
      a: 1
      "{{ inputs.key }}": "{{ inputs.value }}"
  - id: set2
    type: io.kestra.plugin.core.state.Set
    name: "{{ inputs.name }}"
    data:
      a: 2
      nested:
        x: 1
  - id: get
    type: io.kestra.plugin.core.state.Get
    name: "{{ inputs.name }}"
  - id: getStrict
    type: io.kestra.plugin.core.state.Get
    name: "{{ inputs.name }}"
    errorOnMissing: true
  - id: getByValue
    type: io.kestra.plugin.core.state.Get
    name: "{{ inputs.name }}"
    taskrunValue: true
  - id: setShared
    type: io.kestra.plugin.core.state.Set
    namespace: true
    data:
      shared: true
  - id: getShared
    type: io.kestra.plugin.core.state.Get
    namespace: true
  - id: delete
    type: io.kestra.plugin.core.state.Delete
    name: "{{ inputs.name }}"
  - id: deleteStrict
    type: io.kestra.plugin.core.state.Delete
    name: "{{ inputs.name }}"
    errorOnMissing: true
"#;

#[tokio::test]
async fn state_set_get_delete() {
    let h = Harness::new();
    let vars = json!({"inputs": {"name": "my-state", "key": "k", "value": "v"}});
    let run = |task: &'static str, flow: &'static str, vars: Value| {
        let h = &h;
        async move { h.run_job(STATE_FLOW, task, flow, vars, |_| {}).await }
    };

    let r = run("get", "flow", vars.clone()).await;
    r.assert_state(State::Success);
    assert_eq!(r.out("data"), &json!({}));
    run("getStrict", "flow", vars.clone())
        .await
        .assert_state(State::Failed);

    let r = run("set", "flow", vars.clone()).await;
    r.assert_state(State::Success);
    assert_eq!(r.out("count"), &json!(2));
    let key = r.out("key").as_str().unwrap().to_owned();
    assert!(key.starts_with("kestra:///_states/company.team/"), "{key}");
    assert_eq!(h.read(r.out("key")).await, r#"{"a":1,"k":"v"}"#);

    let r = run("set2", "flow", vars.clone()).await;
    assert_eq!(r.out("count"), &json!(3));
    let r = run("get", "flow", vars.clone()).await;
    assert_eq!(
        r.out("data"),
        &json!({"a": 2, "k": "v", "nested": {"x": 1}})
    );
    assert_eq!(r.out("count"), &json!(3));

    // Another flow of the namespace does not see it...
    assert_eq!(
        run("get", "other", vars.clone()).await.out("data"),
        &json!({})
    );
    // ...nor does a run keyed by a loop value.
    let mut looped = vars.clone();
    looped["taskrun"] = json!({"value": "a/../b"});
    let r = run("getByValue", "flow", looped.clone()).await;
    r.assert_state(State::Success);
    assert_eq!(r.out("data"), &json!({}));

    // Namespace-wide states are shared across flows.
    run("setShared", "flow", vars.clone())
        .await
        .assert_state(State::Success);
    assert_eq!(
        run("getShared", "other", vars.clone()).await.out("data"),
        &json!({"shared": true})
    );

    let r = run("delete", "flow", vars.clone()).await;
    r.assert_state(State::Success);
    assert_eq!(r.out("deleted"), &json!(true));
    assert_eq!(
        run("delete", "flow", vars.clone()).await.out("deleted"),
        &json!(false)
    );
    run("deleteStrict", "flow", vars.clone())
        .await
        .assert_state(State::Failed);

    // Names cannot escape the state folder.
    let bad = json!({"inputs": {"name": "../../x", "key": "k", "value": "v"}});
    let r = run("set", "flow", bad).await;
    r.assert_state(State::Failed);
    assert!(r.errors().contains("invalid state name"), "{}", r.errors());
}

// ---------------------------------------------------------------------------------------
// log.Fetch
// ---------------------------------------------------------------------------------------

fn entry(execution: &str, flow: &str, task: &str, level: LogLevel, message: &str) -> LogEntry {
    LogEntry {
        namespace: "company.team".into(),
        flow_id: flow.into(),
        task_id: Some(task.into()),
        execution_id: execution.into(),
        task_run_id: Some(format!("tr-{task}")),
        attempt_number: Some(0),
        timestamp: Utc::now(),
        level,
        thread: "worker".into(),
        message: message.into(),
    }
}

#[tokio::test]
async fn log_fetch_filters_by_level_and_task() {
    let h = Harness::new();
    h.repos
        .logs
        .append(&[
            entry("exec1", "flow", "a", LogLevel::Info, "a info"),
            entry("exec1", "flow", "a", LogLevel::Debug, "a debug"),
            entry("exec1", "flow", "b", LogLevel::Warn, "b warn"),
            entry("exec1", "flow", "b", LogLevel::Error, "b error"),
            entry("exec2", "flow", "a", LogLevel::Info, "other execution"),
        ])
        .await
        .unwrap();
    let base = "  - id: t\n    type: io.kestra.plugin.core.log.Fetch\n";

    let run = h.run(base, json!({})).await;
    run.assert_state(State::Success);
    assert_eq!(run.out("size"), &json!(3));
    let content = h.read(run.out("uri")).await;
    let messages: Vec<String> = content
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, vec!["a info", "b warn", "b error"]);
    assert!(run.out("uri").as_str().unwrap().ends_with(".ion"));

    let run = h.run(&format!("{base}    tasksId: [a]\n"), json!({})).await;
    assert_eq!(run.out("size"), &json!(1));
    let run = h.run(&format!("{base}    level: WARN\n"), json!({})).await;
    assert_eq!(run.out("size"), &json!(2));
    let run = h
        .run(
            &format!("{base}    level: DEBUG\n    tasksId: [a]\n"),
            json!({}),
        )
        .await;
    assert_eq!(run.out("size"), &json!(2));
    let run = h
        .run(&format!("{base}    executionId: exec2\n"), json!({}))
        .await;
    assert_eq!(run.out("size"), &json!(1));
    assert!(h.read(run.out("uri")).await.contains("other execution"));

    let run = h
        .run(&format!("{base}    namespace: company.team\n"), json!({}))
        .await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("executionId"), "{}", run.errors());
}

/// A runner that panics, to check the worker survives it.
struct Panics;

#[async_trait::async_trait]
impl kite_engine::worker::TaskRunner for Panics {
    async fn run(
        &self,
        _ctx: &kite_engine::worker::RunContext,
    ) -> Result<kite_engine::worker::Output, kite_engine::worker::TaskError> {
        panic!("the runner blew up")
    }
}

#[tokio::test]
async fn a_panicking_runner_fails_its_attempt_with_the_reason() {
    let mut h = Harness::new();
    h.runners
        .register("io.kestra.plugin.core.kv.Get", Arc::new(Panics));
    let run = h
        .run(
            "  - id: t\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n",
            json!({}),
        )
        .await;
    assert_eq!(run.result.state, State::Failed);
    assert!(
        run.logs.iter().any(|l| l.level == LogLevel::Error
            && l.message.contains("the task crashed: the runner blew up")),
        "{:?}",
        run.logs
    );
    // The worker still works afterwards.
    let run = Harness::new()
        .run(
            "  - id: t\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n",
            json!({}),
        )
        .await;
    assert_eq!(run.result.state, State::Success);
}

// ---------------------------------------------------------------------------------------
// Bounded output: long lines cut with a marker, a per-attempt budget of lines
// ---------------------------------------------------------------------------------------

fn shell(commands: &[&str]) -> String {
    let mut yaml =
        "  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n".to_owned();
    for c in commands {
        yaml.push_str(&format!("      - {}\n", yaml_str(c)));
    }
    yaml
}

#[tokio::test]
async fn a_one_megabyte_stdout_line_is_cut_with_a_marker_and_the_next_lines_are_stored() {
    let h = Harness::new();
    let yaml = shell(&[
        "head -c 1048576 /dev/zero | tr '\\0' x; echo",
        "echo after",
        "echo '::{\"outputs\":{\"still\":\"read\"}}::'",
    ]);
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Success);
    let info = run.messages(LogLevel::Info);
    assert_eq!(
        info.len(),
        2,
        "{:?}",
        info.iter().map(|m| m.len()).collect::<Vec<_>>()
    );
    assert!(info[0].starts_with(&"x".repeat(65_536)));
    assert!(
        info[0].ends_with(" … [truncated: 1,048,576 bytes, first 65,536 kept]"),
        "{}",
        &info[0][65_536..]
    );
    assert_eq!(info[1], "after");
    assert_eq!(run.out("vars"), &json!({"still": "read"}));
    // Stored (the worker's append) and read back: nothing after the long line is lost.
    h.repos.logs.append(&run.logs).await.unwrap();
    let back = h.repos.logs.of_execution("exec1").await.unwrap();
    let messages: Vec<&str> = back.iter().map(|l| l.message.as_str()).collect();
    assert!(messages.contains(&"after"), "{}", back.len());
    assert!(messages.iter().any(|m| m.ends_with("first 65,536 kept]")));
}

#[tokio::test]
async fn stdout_lines_past_the_attempt_budget_are_dropped_and_counted_in_a_final_marker() {
    let h = Harness::new();
    let yaml = shell(&[
        "i=0; while [ $i -lt 12000 ]; do echo \"line $i\"; i=$((i+1)); done",
        "echo '::{\"outputs\":{\"after\":\"flood\"}}::'",
    ]);
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Success);
    let info = run.messages(LogLevel::Info);
    // The attempt's first line is the DEBUG "Started process": 9,999 stdout lines fit.
    assert_eq!(info.len(), 9_999);
    assert_eq!(info[9_998], "line 9998");
    let last = run.logs.last().unwrap();
    assert_eq!(last.level, LogLevel::Warn);
    assert_eq!(
        last.message,
        "[log limit reached: 2,001 more lines (20,009 bytes) of this attempt were dropped; an \
         attempt keeps at most 10,000 lines or 10,485,760 bytes of logs]"
    );
    // Every line is counted, and the outputs protocol still works past the budget.
    assert_eq!(run.out("stdOutLineCount"), &json!(12_000));
    assert_eq!(run.out("vars"), &json!({"after": "flood"}));
}

#[tokio::test]
async fn a_failure_is_logged_even_past_the_budget() {
    let h = Harness::new();
    let yaml = shell(&[
        "i=0; while [ $i -lt 10005 ]; do echo x; i=$((i+1)); done",
        "exit 4",
    ]);
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Failed);
    assert!(run.errors().contains("exit code 4"), "{}", run.errors());
    assert!(
        run.logs.last().unwrap().message.contains("6 more lines"),
        "{:?}",
        run.logs.last()
    );
}

#[tokio::test]
async fn an_endless_line_is_read_with_bounded_memory_and_an_oversized_outputs_line_is_refused() {
    let h = Harness::new();
    // 8 MiB without a newline, then an outputs line over the 1 MiB line limit, then a
    // normal one.
    let yaml = shell(&[
        "head -c 8388608 /dev/zero | tr '\\0' y; echo",
        "printf '::{\"outputs\":{\"big\":\"'; head -c 2000000 /dev/zero | tr '\\0' z; echo '\"}}::'",
        "echo '::{\"outputs\":{\"small\":1}}::'",
    ]);
    let run = h.run(&yaml, json!({})).await;
    run.assert_state(State::Success);
    let info = run.messages(LogLevel::Info);
    assert_eq!(info.len(), 1);
    assert!(info[0].ends_with("[truncated: 8,388,608 bytes, first 65,536 kept]"));
    let warn = run.messages(LogLevel::Warn).join("\n");
    assert!(
        warn.contains("over the 1,048,576-byte limit of one output line: ignored"),
        "{warn}"
    );
    assert_eq!(run.out("vars"), &json!({"small": 1}));
}
