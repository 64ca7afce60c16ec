//! The triggers API through a real `kite server local` process, in the embedded mode and
//! in emulator mode (`--aws-endpoint` on a moto server the test starts): a Schedule found
//! by the search in Kestra's shape, a backfill of past dates run by the server's own tick
//! (its executions show what started them), then the trigger disabled and enabled again.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const NIGHTLY: &str = r#"id: nightly
namespace: kite.e2e.triggers
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "run for {{ trigger.date }}"
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"#;

struct Server {
    child: Child,
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kite [global] server local --port 0 --data DIR/data` and reads its URL.
fn start(global: &[&str], token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.args(global)
        .args(["server", "local", "--port", "0", "--data"])
        .arg(dir.path().join("data"))
        .env_remove("KITE_TOKEN")
        .env_remove("KITE_TOKEN_FILE")
        .env("KITE_LOG", "warn")
        .env("KITE_WORK_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(dir.path().join("server.log"))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        );
    if let Some(t) = token {
        cmd.env("KITE_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("kite starts");
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
    let token = match token {
        Some(t) => t.to_owned(),
        None => read_token(&dir.path().join("data").join("api-token")),
    };
    Server {
        child,
        url,
        token,
        _dir: dir,
    }
}

fn read_token(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    fn new(server: &Server) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: server.url.clone(),
            token: server.token.clone(),
            client: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
        v
    }

    async fn deploy(&self, yaml: &str) {
        let resp = self
            .client
            .post(format!("{}/api/v1/flows", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/x-yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "deploy: {}",
            resp.text().await.unwrap()
        );
    }

    async fn context(&self) -> Value {
        let page = self
            .get("/api/v1/triggers/search?namespace=kite.e2e.triggers")
            .await;
        assert_eq!(page["total"], 1, "{page}");
        page["results"][0]["triggerContext"].clone()
    }
}

fn ctx() -> Value {
    json!({"namespace": "kite.e2e.triggers", "flowId": "nightly", "triggerId": "nightly"})
}

/// Search, backfill, disable, enable: the same scenario in both homes.
async fn scenario(api: &Api) {
    api.deploy(NIGHTLY).await;

    // Unauthenticated: refused.
    let r = api
        .client
        .get(format!("{}/api/v1/triggers/search", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let page = api
        .get("/api/v1/triggers/search?namespace=kite.e2e.triggers")
        .await;
    assert_eq!(page["total"], 1);
    let row = &page["results"][0];
    assert_eq!(
        row["abstractTrigger"]["type"],
        "io.kestra.plugin.core.trigger.Schedule"
    );
    assert_eq!(row["abstractTrigger"]["cron"], "0 2 * * *");
    let c = &row["triggerContext"];
    assert_eq!(c["flowId"], "nightly");
    assert_eq!(c["disabled"], false);
    assert!(
        c["nextExecutionDate"]
            .as_str()
            .unwrap()
            .ends_with("T02:00:00Z")
    );

    // A backfill of two past nights, run by the server's tick.
    let mut body = ctx();
    body["backfill"] = json!({
        "start": "2020-01-01T00:00:00Z",
        "end": "2020-01-03T00:00:00Z",
        "labels": [{"key": "origin", "value": "e2e"}],
    });
    let (status, c) = api
        .send(reqwest::Method::PUT, "/api/v1/triggers", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["backfill"]["start"], "2020-01-01T00:00:00Z");
    let deadline = Instant::now() + Duration::from_secs(90);
    let runs = loop {
        let page = api
            .get("/api/v1/executions/search?namespace=kite.e2e.triggers&labels=origin:e2e&size=10")
            .await;
        let done = page["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["state"]["current"] == "SUCCESS")
            .count();
        if page["total"] == 2 && done == 2 {
            break page["results"].as_array().unwrap().clone();
        }
        assert!(
            Instant::now() < deadline,
            "the backfill did not run: {page:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut dates: Vec<String> = runs
        .iter()
        .map(|e| {
            assert_eq!(e["trigger"]["id"], "nightly");
            assert_eq!(
                e["trigger"]["type"],
                "io.kestra.plugin.core.trigger.Schedule"
            );
            e["trigger"]["variables"]["date"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    dates.sort();
    assert_eq!(dates, ["2020-01-01T02:00:00Z", "2020-01-02T02:00:00Z"]);
    let one = api
        .get(&format!(
            "/api/v1/executions/{}",
            runs[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one["trigger"]["id"], "nightly");
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.context().await.get("backfill").is_some() {
        assert!(Instant::now() < deadline, "the backfill did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Disable, then enable with the bulk route.
    let mut body = ctx();
    body["disabled"] = json!(true);
    let (status, c) = api
        .send(reqwest::Method::PUT, "/api/v1/triggers", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["disabled"], true);
    assert_eq!(api.context().await["disabled"], true);
    let (status, r) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/triggers/set-disabled/by-triggers",
            Some(json!({"triggers": [ctx()], "disabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["count"], 1);
    assert_eq!(api.context().await["disabled"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triggers_api_through_kite_server_local() {
    let server = start(&[], Some("triggers-e2e-token"));
    scenario(&Api::new(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triggers_api_in_emulator_mode() {
    let endpoint = kite_aws::testing::moto().endpoint.clone();
    let prefix = kite_aws::testing::unique_prefix();
    let server = start(&["--aws-endpoint", &endpoint, "--prefix", &prefix], None);
    scenario(&Api::new(&server)).await;
}
