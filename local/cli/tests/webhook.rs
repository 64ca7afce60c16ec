//! Webhook triggers on a real `kite server local` process, called as other services call
//! them (plain HTTP, no API token): embedded (SQLite) with API auth on, then in emulator
//! mode (`--aws-endpoint` on the moto server the tests start) where the same call runs an
//! execution through the AWS adapters to SUCCESS.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "webhook-e2e-token";
const SECRET_KEY: &str = "from-the-env_42";

/// Records what called it; a trigger label.
const RECEIVER: &str = r#"id: receiver
namespace: kite.e2e
labels:
  app: shop
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.order }}/{{ trigger.parameters.channel[0] }}/{{ trigger.headers['x-shop'][0] }}"
triggers:
  - id: orders
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
    labels:
      via: webhook
"#;

/// Only large payments; a literal key.
const PAYMENTS: &str = r#"id: payments
namespace: kite.e2e
tasks:
  - id: seen
    type: io.kestra.plugin.core.log.Log
    message: "payment {{ trigger.body.amount }}"
triggers:
  - id: large
    type: io.kestra.plugin.core.trigger.Webhook
    key: pay-key
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.body.amount >= 1000 }}"
"#;

/// Answers with its outputs.
const QUOTE: &str = r#"id: quote
namespace: kite.e2e
tasks:
  - id: price
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.qty * 3 }}"
outputs:
  - id: total
    type: STRING
    value: "{{ outputs.price.value }}"
triggers:
  - id: ask
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ flow.id }}"
    wait: true
    returnOutputs: true
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

/// Starts `kite [global] server local --port 0 --data DIR` and waits for its URL; the
/// token is `KITE_TOKEN` when given, else the one the server writes in its data folder.
fn start(global: &[&str], token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.args(global)
        .args(["server", "local", "--port", "0", "--data"])
        .arg(&data)
        .env_remove("KITE_TOKEN")
        .env_remove("KITE_TOKEN_FILE")
        .env("KITE_LOG", "warn")
        .env("KITE_WORK_DIR", dir.path())
        .env(
            "SECRET_WEBHOOK_KEY",
            base64::engine::general_purpose::STANDARD.encode(SECRET_KEY),
        )
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
        None => read_token(&data.join("api-token")),
    };
    Server {
        child,
        url,
        token,
        _dir: dir,
    }
}

fn read_token(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_owned()
}

/// A client without credentials (a webhook caller) and the API with the token.
struct Clients {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Clients {
    fn new(server: &Server) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: server.url.clone(),
            token: server.token.clone(),
            http: reqwest::Client::new(),
        }
    }

    fn hook(&self, method: reqwest::Method, flow: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.request(
            method,
            format!(
                "{}/api/v1/executions/webhook/kite.e2e/{flow}/{key}",
                self.base
            ),
        )
    }

    fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, String) {
        let resp = rb.send().await.expect("the server answers");
        (resp.status(), resp.text().await.unwrap())
    }

    async fn deploy(&self, yaml: &str) {
        let (status, body) = self
            .send(
                self.api(reqwest::Method::POST, "/api/v1/flows")
                    .header("content-type", "application/x-yaml")
                    .body(yaml.to_owned()),
            )
            .await;
        assert!(status.is_success(), "deploy: {status} {body}");
    }

    async fn until_ended(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, body) = self
                .send(self.api(reqwest::Method::GET, &format!("/api/v1/executions/{id}")))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let e: Value = serde_json::from_str(&body).unwrap();
            let state = e["state"]["current"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"].contains(&state.as_str()) {
                return e;
            }
            assert!(Instant::now() < deadline, "{id} did not end: {e:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn count(&self, flow: &str) -> u64 {
        let (status, body) = self
            .send(
                self.api(reqwest::Method::GET, "/api/v1/executions/search")
                    .query(&[("namespace", "kite.e2e"), ("flowId", flow)]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["total"]
            .as_u64()
            .unwrap()
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn task_value(e: &Value, task: &str) -> Value {
    e["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == task)
        .map(|r| r["outputs"]["value"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_on_the_local_server_with_api_auth() {
    let server = start(&[], Some(TOKEN));
    let c = Clients::new(&server);
    for f in [RECEIVER, PAYMENTS, QUOTE] {
        c.deploy(f).await;
    }

    // The API needs the token; the webhook does not.
    let (status, _) = c
        .send(c.http.get(format!("{}/api/v1/flows/search", c.base)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = c
        .send(
            c.hook(reqwest::Method::POST, "receiver", SECRET_KEY)
                .query(&[("channel", "web")])
                .header("X-Shop", "north")
                .json(&json!({"order": 1234})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = json_of(&body);
    assert_eq!(
        created["trigger"]["type"],
        "io.kestra.plugin.core.trigger.Webhook"
    );
    assert_eq!(
        created["trigger"]["variables"]["headers"]["x-shop"],
        json!(["north"])
    );
    let labels = created["labels"].to_string();
    assert!(
        labels.find("\"app\"").unwrap() < labels.find("\"via\"").unwrap(),
        "{labels}"
    );
    let e = c
        .until_ended(created["id"].as_str().unwrap(), Duration::from_secs(30))
        .await;
    assert_eq!(e["state"]["current"], "SUCCESS", "{e:#}");
    assert_eq!(task_value(&e, "seen"), "1234/web/north");

    // Plain text through PUT, and GET without a body, are accepted too.
    let (status, body) = c
        .send(
            c.hook(reqwest::Method::PUT, "receiver", SECRET_KEY)
                .header("content-type", "text/plain")
                .body("just text"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["trigger"]["variables"]["body"], "just text");
    let (status, body) = c
        .send(c.hook(reqwest::Method::GET, "receiver", SECRET_KEY))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["trigger"]["variables"]["body"], Value::Null);

    // Wrong key, unknown flow: the same 404.
    let mut misses = Vec::new();
    for (flow, key) in [
        ("receiver", "WEBHOOK_KEY"),
        ("nobody", SECRET_KEY),
        ("payments", "pay"),
    ] {
        let (status, body) = c.send(c.hook(reqwest::Method::POST, flow, key)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{flow}/{key}: {body}");
        misses.push(json_of(&body));
    }
    assert!(
        misses
            .iter()
            .all(|m| *m == json!({"message": "Flow not found"})),
        "{misses:?}"
    );

    // Conditions: 204 without a body, then an execution.
    let (status, body) = c
        .send(
            c.hook(reqwest::Method::POST, "payments", "pay-key")
                .json(&json!({"amount": 20})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    assert_eq!(c.count("payments").await, 0);
    let (status, body) = c
        .send(
            c.hook(reqwest::Method::POST, "payments", "pay-key")
                .json(&json!({"amount": 5000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(c.count("payments").await, 1);

    // wait + returnOutputs: the outputs in the answer.
    let (status, body) = c
        .send(
            c.hook(reqwest::Method::POST, "quote", "quote")
                .json(&json!({"qty": 14})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body), json!({"total": "42"}));

    // The example flow (examples/flows/webhook.yaml) answers with its greeting.
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows/webhook.yaml"),
    )
    .unwrap();
    c.deploy(&example).await;
    let example_hook = |q: &str| {
        c.http.post(format!(
            "{}/api/v1/executions/webhook/kite.examples/webhook/{SECRET_KEY}{q}",
            c.base
        ))
    };
    let (status, body) = c.send(example_hook("").json(&json!({"name": "Ada"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body), json!({"greeting": "Hello Ada"}));
    let (status, body) = c.send(example_hook("")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body), json!({"greeting": "Hello stranger"}));
    let (status, _) = c.send(example_hook("?dryRun=true")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A retried call with the same Idempotency-Key starts one execution.
    let before = c.count("receiver").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, body) = c
            .send(
                c.hook(reqwest::Method::POST, "receiver", SECRET_KEY)
                    .header("Idempotency-Key", "delivery-991")
                    .json(&json!({"order": 991})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(json_of(&body)["id"].as_str().unwrap().to_owned());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(c.count("receiver").await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_in_emulator_mode_runs_to_success() {
    let endpoint = kite_aws::testing::moto().endpoint.clone();
    let prefix = kite_aws::testing::unique_prefix();
    let server = start(&["--aws-endpoint", &endpoint, "--prefix", &prefix], None);
    let c = Clients::new(&server);
    c.deploy(RECEIVER).await;
    let (status, body) = c
        .send(
            c.hook(reqwest::Method::POST, "receiver", SECRET_KEY)
                .query(&[("channel", "aws")])
                .header("X-Shop", "south")
                .json(&json!({"order": 77})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let e = c.until_ended(&id, Duration::from_secs(60)).await;
    assert_eq!(e["state"]["current"], "SUCCESS", "{e:#}");
    assert_eq!(task_value(&e, "seen"), "77/aws/south");
    let (status, _) = c
        .send(c.hook(reqwest::Method::POST, "receiver", "wrong-key"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
