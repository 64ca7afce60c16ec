//! Webhook triggers through the router (`tower::ServiceExt::oneshot`) over an in-memory
//! platform whose pollers run: `trigger.body`/`headers`/`parameters` for a JSON object, a
//! JSON list, plain text and no body; one 404 for every way of not matching; conditions
//! (204); keys that are expressions (`flow.id`, `secret()`); `wait` with and without
//! `returnOutputs`; API auth (the webhook needs no token) and the browser guard (a
//! cross-site call is accepted, a foreign Host is not); `Idempotency-Key`; the body limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use kite_engine::executor::Expressions;
use kite_engine::repo::Repos;
use kite_engine::services::host::PlatformHost;
use kite_engine::services::{Platform, QueueNames, poller};
use kite_ports::{Clock, MemoryDocuments, MemoryQueue, MemoryStorage, Storage, SystemClock};
use kite_webserver::{AppState, router};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

const NS: &str = "kite.hooks";
const TOKEN: &str = "hook-test-token";

/// Echoes what started it; labels on the flow and on the trigger.
const ECHO: &str = r#"id: echo
namespace: kite.hooks
labels:
  team: payments
  stage: test
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger | json }}"
triggers:
  - id: incoming
    type: io.kestra.plugin.core.trigger.Webhook
    key: Echo_key-42
    labels:
      source: webhook
"#;

/// The key is the flow's id.
const BY_FLOW_ID: &str = r#"id: by-flow-id
namespace: kite.hooks
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.parameters }}"
triggers:
  - id: incoming
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ flow.id }}"
"#;

/// The key is a secret.
const BY_SECRET: &str = r#"id: by-secret
namespace: kite.hooks
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body }}"
triggers:
  - id: incoming
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
"#;
const SECRET_KEY: &str = "s3cr3t-hook_KEY";

/// Fires only for orders over 100.
const GUARDED: &str = r#"id: guarded
namespace: kite.hooks
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.amount }}"
triggers:
  - id: big-orders
    type: io.kestra.plugin.core.trigger.Webhook
    key: orders
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.body.amount > 100 }}"
"#;

/// Two triggers: one disabled in its definition, one an operator disables.
const SWITCHED: &str = r#"id: switched
namespace: kite.hooks
tasks:
  - id: seen
    type: io.kestra.plugin.core.log.Log
    message: called
triggers:
  - id: off
    type: io.kestra.plugin.core.trigger.Webhook
    key: off-key
    disabled: true
  - id: on
    type: io.kestra.plugin.core.trigger.Webhook
    key: on-key
"#;

/// A disabled flow.
const DISABLED_FLOW: &str = r#"id: sleeping
namespace: kite.hooks
disabled: true
tasks:
  - id: seen
    type: io.kestra.plugin.core.log.Log
    message: never
triggers:
  - id: incoming
    type: io.kestra.plugin.core.trigger.Webhook
    key: sleeping-key
"#;

/// Answers synchronously with its outputs.
const SYNC_OUTPUTS: &str = r#"id: sync-outputs
namespace: kite.hooks
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ trigger.body.name }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
triggers:
  - id: ask
    type: io.kestra.plugin.core.trigger.Webhook
    key: ask
    wait: true
    returnOutputs: true
"#;

/// Answers synchronously with the ended execution.
const SYNC_EXECUTION: &str = r#"id: sync-execution
namespace: kite.hooks
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "done"
triggers:
  - id: ask
    type: io.kestra.plugin.core.trigger.Webhook
    key: ask
    wait: true
"#;

struct Harness {
    app: Router,
    platform: Arc<Platform>,
    stop: tokio::sync::watch::Sender<bool>,
    _work: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A platform whose `secret('WEBHOOK_KEY')` is [`SECRET_KEY`] (`SECRET_WEBHOOK_KEY`,
/// base64, as the binaries read it from the environment), with pollers running.
async fn harness(configure: impl FnOnce(AppState) -> AppState) -> Harness {
    let work = tempfile::tempdir().unwrap();
    let env = vec![(
        "SECRET_WEBHOOK_KEY".to_owned(),
        base64::engine::general_purpose::STANDARD.encode(SECRET_KEY),
    )];
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let repos = Repos::new(
        Arc::new(MemoryDocuments::new(clock.clone())),
        storage.clone(),
    );
    let host = PlatformHost::new(&env, storage.clone(), repos.clone(), clock.clone());
    let platform = Platform::new(
        Arc::new(MemoryQueue::new(clock.clone())),
        storage,
        repos,
        clock,
        Expressions::new(Arc::new(host), Map::new(), &env),
        QueueNames::with_prefix("hook-"),
        work.path().to_path_buf(),
    );
    platform.ensure_queues().await.unwrap();
    let platform = Arc::new(platform);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let config = poller::PollerConfig {
        wait: Duration::from_millis(100),
        ..Default::default()
    };
    poller::spawn_all(platform.clone(), config, stop_rx);
    let app = router(configure(AppState::new(platform.clone())));
    Harness {
        app,
        platform,
        stop,
        _work: work,
    }
}

fn hook(flow: &str, key: &str) -> String {
    format!("/api/v1/executions/webhook/{NS}/{flow}/{key}")
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply { status, body }
    }

    /// A request with `headers` (name, value) and an optional token.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(body.into()).unwrap()).await
    }

    async fn deploy(&self, yaml: &str) {
        let r = self
            .call(
                Method::POST,
                "/api/v1/flows",
                &[
                    ("content-type", "application/x-yaml"),
                    ("authorization", &format!("Bearer {TOKEN}")),
                ],
                yaml.to_owned(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    /// The execution once it has ended (read from the platform: no token needed).
    async fn ended(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let e = self.platform.execution(id).await.unwrap().expect("stored");
            if e.state.current.is_terminated() {
                return serde_json::to_value(e).unwrap();
            }
            assert!(Instant::now() < deadline, "{id} did not end: {e:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many executions `flow` has.
    async fn count(&self, flow: &str) -> usize {
        let (records, _) = self
            .platform
            .repos
            .executions
            .list_page(NS, Some(flow), 100, None)
            .await
            .unwrap();
        records.len()
    }
}

fn seen(e: &Value) -> Value {
    let run = e["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "seen")
        .expect("the task ran")
        .clone();
    let v = &run["outputs"]["value"];
    v.as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| v.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_put_text_and_get_set_body_headers_and_parameters() {
    let h = harness(|s| s).await;
    h.deploy(ECHO).await;

    // POST a JSON object, with repeated parameters and a header of ours.
    let r = h
        .call(
            Method::POST,
            &format!("{}?name=john&age=12&age=13", hook("echo", "Echo_key-42")),
            &[
                ("content-type", "application/json"),
                ("X-Request-Source", "billing"),
            ],
            r#"{"a": 1, "b": true}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let created = r.json();
    assert_eq!(created["namespace"], NS);
    assert_eq!(created["flowId"], "echo");
    assert_eq!(created["state"]["current"], "CREATED");
    let trigger = &created["trigger"];
    assert_eq!(trigger["id"], "incoming");
    assert_eq!(trigger["type"], "io.kestra.plugin.core.trigger.Webhook");
    let vars = &trigger["variables"];
    assert_eq!(vars["body"], json!({"a": 1, "b": true}));
    assert_eq!(vars["parameters"]["name"], json!(["john"]));
    assert_eq!(vars["parameters"]["age"], json!(["12", "13"]));
    assert_eq!(vars["headers"]["x-request-source"], json!(["billing"]));
    assert_eq!(vars["headers"]["content-type"], json!(["application/json"]));
    let labels: Vec<String> = created["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{}={}",
                l["key"].as_str().unwrap(),
                l["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        labels[..3],
        ["team=payments", "stage=test", "source=webhook"],
        "flow labels, then the trigger's: {labels:?}"
    );
    let ended = h.ended(created["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"]["current"], "SUCCESS");
    let echoed = seen(&ended);
    assert_eq!(echoed["body"]["a"], 1);
    assert_eq!(echoed["body"]["b"], true);
    assert_eq!(echoed["parameters"]["age"], json!(["12", "13"]));

    // PUT a JSON list.
    let r = h
        .call(
            Method::PUT,
            &hook("echo", "Echo_key-42"),
            &[("content-type", "application/json")],
            r#"[{"a": 1, "b": true}]"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let vars = &r.json()["trigger"]["variables"];
    assert_eq!(vars["body"][0]["a"], 1);
    assert_eq!(vars["body"][0]["b"], true);
    assert_eq!(vars["parameters"], json!({}));

    // POST plain text; and JSON sent as text/plain is still parsed.
    let r = h
        .call(
            Method::POST,
            &hook("echo", "Echo_key-42"),
            &[("content-type", "text/plain")],
            "bla",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.json();
    assert_eq!(text["trigger"]["variables"]["body"], "bla");
    let r = h
        .call(
            Method::POST,
            &hook("echo", "Echo_key-42"),
            &[("content-type", "text/plain")],
            r#"{"n": 2}"#,
        )
        .await;
    assert_eq!(r.json()["trigger"]["variables"]["body"], json!({"n": 2}));
    // Any content type is accepted (a form, here: its text).
    let r = h
        .call(
            Method::POST,
            &hook("echo", "Echo_key-42"),
            &[("content-type", "application/x-www-form-urlencoded")],
            "x=1&y=2",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["trigger"]["variables"]["body"], "x=1&y=2");

    // GET without a body.
    let r = h
        .call(
            Method::GET,
            &hook("echo", "Echo_key-42"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = r.json();
    assert_eq!(got["trigger"]["variables"]["body"], Value::Null);
    let ended = h.ended(got["id"].as_str().unwrap()).await;
    assert_eq!(seen(&ended)["body"], Value::Null);
    let ended = h.ended(text["id"].as_str().unwrap()).await;
    assert_eq!(seen(&ended)["body"], "bla");
    assert_eq!(h.count("echo").await, 6, "one execution per call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_miss_is_the_same_404() {
    let h = harness(|s| s).await;
    for f in [ECHO, SWITCHED, DISABLED_FLOW] {
        h.deploy(f).await;
    }
    // An operator disables `on` through its state (as the triggers API does).
    let on_uri = hook("switched", "on-key");
    let r = h.call(Method::POST, &on_uri, &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK, "enabled at first: {}", r.text());
    kite_engine::triggers::sync::update_state(&h.platform, NS, "switched", "on", |s| {
        s.state.disabled = Some(true)
    })
    .await
    .unwrap()
    .expect("the deploy created the trigger's state");

    let misses = [
        ("wrong key", hook("echo", "Echo_key-43")),
        ("key of another case", hook("echo", "echo_key-42")),
        ("key prefix", hook("echo", "Echo_key-4")),
        ("unknown flow", hook("nobody", "Echo_key-42")),
        (
            "unknown namespace",
            "/api/v1/executions/webhook/kite.none/echo/Echo_key-42".to_owned(),
        ),
        ("invalid flow id", hook("e%7Cx", "Echo_key-42")),
        ("disabled in the definition", hook("switched", "off-key")),
        ("disabled by an operator", on_uri.clone()),
        ("disabled flow", hook("sleeping", "sleeping-key")),
    ];
    let mut bodies = Vec::new();
    for (what, uri) in &misses {
        for method in [Method::GET, Method::POST, Method::PUT] {
            let r = h
                .call(
                    method.clone(),
                    uri,
                    &[("content-type", "application/json")],
                    "{}",
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{what} ({method}): {}",
                r.text()
            );
            bodies.push((what, r.body));
        }
    }
    for (what, body) in &bodies {
        assert_eq!(
            serde_json::from_slice::<Value>(body).unwrap(),
            json!({"message": "Flow not found"}),
            "{what}"
        );
    }
    assert_eq!(h.count("echo").await, 0);
    assert_eq!(
        h.count("switched").await,
        1,
        "only the call before the override"
    );
    assert_eq!(h.count("sleeping").await, 0);

    // The operator enables it again.
    kite_engine::triggers::sync::update_state(&h.platform, NS, "switched", "on", |s| {
        s.state.disabled = Some(false)
    })
    .await
    .unwrap();
    let r = h.call(Method::POST, &on_uri, &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditions_that_do_not_hold_answer_204() {
    let h = harness(|s| s).await;
    h.deploy(GUARDED).await;
    let uri = hook("guarded", "orders");
    let json_ct = [("content-type", "application/json")];
    let r = h
        .call(Method::POST, &uri, &json_ct, r#"{"amount": 7}"#)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(r.body.is_empty());
    // Not decidable (no body: `null > 100`) counts as not holding.
    let r = h.call(Method::GET, &uri, &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(h.count("guarded").await, 0);

    let r = h
        .call(Method::POST, &uri, &json_ct, r#"{"amount": 250}"#)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ended = h.ended(r.json()["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"]["current"], "SUCCESS");
    assert_eq!(seen(&ended), json!(250));
    // A wrong key is still a 404, not a 204.
    let r = h
        .call(
            Method::POST,
            &hook("guarded", "order"),
            &json_ct,
            r#"{"amount": 7}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(h.count("guarded").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_may_be_expressions() {
    let h = harness(|s| s).await;
    h.deploy(BY_FLOW_ID).await;
    h.deploy(BY_SECRET).await;

    let r = h
        .call(
            Method::GET,
            &format!("{}?x=1", hook("by-flow-id", "by-flow-id")),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ended = h.ended(r.json()["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"]["current"], "SUCCESS");
    assert_eq!(seen(&ended), json!({"x": ["1"]}));
    // The expression itself is not the key.
    for key in ["%7B%7B%20flow.id%20%7D%7D", "by-flow-i"] {
        let r = h
            .call(Method::GET, &hook("by-flow-id", key), &[], Body::empty())
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{key}");
    }

    let r = h
        .call(
            Method::POST,
            &hook("by-secret", SECRET_KEY),
            &[("content-type", "text/plain")],
            "from a secret",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ended = h.ended(r.json()["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"]["current"], "SUCCESS");
    assert_eq!(seen(&ended), json!("from a secret"));
    for key in ["WEBHOOK_KEY", "s3cr3t-hook_KE", "czNjcjN0LWhvb2tfS0VZ"] {
        let r = h
            .call(Method::GET, &hook("by-secret", key), &[], Body::empty())
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{key}");
    }
    assert_eq!(h.count("by-secret").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_answers_once_ended_with_the_outputs_or_the_execution() {
    let h = harness(|s| s).await;
    h.deploy(SYNC_OUTPUTS).await;
    h.deploy(SYNC_EXECUTION).await;

    let r = h
        .call(
            Method::POST,
            &hook("sync-outputs", "ask"),
            &[("content-type", "application/json")],
            r#"{"name": "Ada"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"greeting": "hello Ada"}));

    let r = h
        .call(
            Method::GET,
            &hook("sync-execution", "ask"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let e = r.json();
    assert_eq!(
        e["state"]["current"], "SUCCESS",
        "answered once ended: {e:#}"
    );
    assert_eq!(e["taskRunList"][0]["outputs"]["value"], "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_need_no_token_and_may_be_called_cross_site() {
    let h = harness(|s| s.with_token(TOKEN)).await;
    h.deploy(ECHO).await;
    let uri = hook("echo", "Echo_key-42");

    // Without a token: the webhook answers, every other route asks for one.
    let r = h
        .call(
            Method::POST,
            &uri,
            &[("content-type", "application/json")],
            r#"{"a": 1}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/api/v1/executions/{id}"),
        "/api/v1/flows/kite.hooks/echo".to_owned(),
        "/api/v1/executions/search".to_owned(),
    ] {
        let r = h.call(Method::GET, &path, &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.hooks/echo",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A wrong key without a token is the same 404 (not a 401 that would tell it apart).
    let r = h
        .call(Method::GET, &hook("echo", "nope"), &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Called from another site's page: accepted (its key is its only credential)...
    let cross = [
        ("origin", "https://shop.example.com"),
        ("sec-fetch-site", "cross-site"),
        ("content-type", "text/plain"),
    ];
    let r = h.call(Method::POST, &uri, &cross, "paid").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // ... while the rest of the API refuses it even with the token.
    let mut with_token = cross.to_vec();
    let bearer = format!("Bearer {TOKEN}");
    with_token.push(("authorization", &bearer));
    let r = h
        .call(
            Method::GET,
            "/api/v1/flows/kite.hooks/echo",
            &with_token,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // The Host check stays (DNS rebinding).
    let r = h
        .call(
            Method::GET,
            &uri,
            &[("host", "evil.example.com")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{}", r.text());
    // Other methods are not webhooks.
    let r = h.call(Method::DELETE, &uri, &[], Body::empty()).await;
    assert_ne!(r.status, StatusCode::OK);
    assert_eq!(h.count("echo").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_makes_retries_start_one_execution() {
    let h = harness(|s| s).await;
    h.deploy(ECHO).await;
    let uri = hook("echo", "Echo_key-42");
    async fn call(h: &Harness, uri: &str, key: &str) -> Reply {
        h.call(
            Method::POST,
            uri,
            &[
                ("content-type", "application/json"),
                ("Idempotency-Key", key),
            ],
            r#"{"order": 17}"#,
        )
        .await
    }
    let first = call(&h, &uri, "order-17").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let retry = call(&h, &uri, "order-17").await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text());
    assert_eq!(first.json()["id"], retry.json()["id"]);
    assert_eq!(h.count("echo").await, 1);
    let other = call(&h, &uri, "order-18").await;
    assert_ne!(other.json()["id"], first.json()["id"]);
    assert_eq!(h.count("echo").await, 2);
    // Without the header every call is new.
    for _ in 0..2 {
        let r = h.call(Method::POST, &uri, &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(h.count("echo").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_over_one_mib_are_413() {
    let h = harness(|s| s).await;
    h.deploy(ECHO).await;
    let uri = hook("echo", "Echo_key-42");
    let limit = kite_webserver::MAX_WEBHOOK_BODY_BYTES;
    let r = h
        .call(
            Method::POST,
            &uri,
            &[("content-type", "text/plain")],
            "x".repeat(limit + 1),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.json()["message"].is_string());
    assert_eq!(h.count("echo").await, 0);
    let r = h
        .call(
            Method::POST,
            &uri,
            &[("content-type", "text/plain")],
            "x".repeat(limit),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_webhook_as_public() {
    let h = harness(|s| s.with_token(TOKEN)).await;
    let r = h
        .call(
            Method::GET,
            "/api/v1/openapi.json",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            Body::empty(),
        )
        .await;
    let doc = r.json();
    let path = &doc["paths"]["/api/v1/executions/webhook/{namespace}/{flowId}/{key}"];
    for m in ["get", "post", "put"] {
        assert_eq!(path[m]["security"], json!([]), "{m}");
        assert!(path[m]["responses"]["404"].is_object(), "{m}");
        assert!(path[m]["responses"]["204"].is_object(), "{m}");
    }
    assert!(path["post"]["requestBody"]["content"]["*/*"].is_object());
}
