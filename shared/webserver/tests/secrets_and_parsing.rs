//! Issue 8 at the router level: SECRET inputs are refused without an encryption key, stored
//! and returned encrypted with one, and masked in logs; flow sources are parsed on the
//! blocking pool with a budget, so an alias bomb is refused quickly and health answers
//! while sources parse.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kite_engine::crypto::{ENCRYPTED_TYPE, EncryptionKey};
use kite_engine::services::{Platform, QueueNames, poller};
use kite_webserver::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const PASSWORD: &str = "s3cr3t-Input-Value";

const WITH_SECRET: &str = r#"id: login
namespace: kite.api
inputs:
  - id: password
    type: SECRET
tasks:
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "logging in with {{ inputs.password }}"
"#;

/// A billion-laughs document of about 600 bytes (9 levels of 9 aliases).
fn alias_bomb() -> String {
    let mut s = String::from(
        "id: bomb\nnamespace: kite.api\nl0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n",
    );
    for i in 1..9 {
        let p = format!("*l{}", i - 1);
        s.push_str(&format!("l{i}: &l{i} [{}]\n", [p.as_str(); 9].join(",")));
    }
    s.push_str("tasks: *l8\n");
    s
}

struct Api {
    app: Router,
    stop: tokio::sync::watch::Sender<bool>,
    _work: tempfile::TempDir,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn api(key: Option<&str>, configure: impl FnOnce(AppState) -> AppState) -> Api {
    let work = tempfile::tempdir().unwrap();
    let mut platform =
        Platform::in_memory(QueueNames::with_prefix("sec-"), work.path().to_path_buf());
    if let Some(k) = key {
        platform.rt = platform
            .rt
            .clone()
            .with_encryption_key(EncryptionKey::parse(k).unwrap());
    }
    platform.ensure_queues().await.unwrap();
    let platform = Arc::new(platform);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let config = poller::PollerConfig {
        wait: Duration::from_millis(100),
        ..Default::default()
    };
    poller::spawn_all(platform.clone(), config, stop_rx);
    Api {
        app: router(configure(AppState::new(platform))),
        stop,
        _work: work,
    }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    ct: Option<&str>,
    body: String,
) -> (StatusCode, String) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn post_yaml(app: &Router, uri: &str, yaml: &str) -> (StatusCode, String) {
    call(
        app,
        Method::POST,
        uri,
        Some("application/x-yaml"),
        yaml.to_owned(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_with_a_secret_input_is_refused_without_a_key() {
    let api = api(None, |s| s).await;
    let (status, body) = post_yaml(&api.app, "/api/v1/flows", WITH_SECRET).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("SECRET input `password`") && body.contains("KITE_ENCRYPTION_KEY"),
        "{body}"
    );
    let (status, body) = post_yaml(&api.app, "/api/v1/flows/validate", WITH_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results: Value = serde_json::from_str(&body).unwrap();
    let constraints = results[0]["constraints"].as_str().unwrap_or_default();
    assert!(constraints.contains("KITE_ENCRYPTION_KEY"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_inputs_are_returned_encrypted_and_masked_in_logs() {
    let api = api(Some(KEY), |s| s).await;
    let (status, body) = post_yaml(&api.app, "/api/v1/flows", WITH_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &api.app,
        Method::POST,
        "/api/v1/executions/kite.api/login?wait=true",
        Some("application/json"),
        json!({ "password": PASSWORD }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains(PASSWORD), "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["state"]["current"], json!("SUCCESS"), "{body}");
    let stored = &e["inputs"]["password"];
    assert_eq!(stored["type"], json!(ENCRYPTED_TYPE), "{body}");
    let key = EncryptionKey::parse(KEY).unwrap();
    assert_eq!(
        key.decrypt(stored["value"].as_str().unwrap()).unwrap(),
        PASSWORD
    );
    let id = e["id"].as_str().unwrap();
    let (_, got) = call(
        &api.app,
        Method::GET,
        &format!("/api/v1/executions/{id}"),
        None,
        String::new(),
    )
    .await;
    assert!(!got.contains(PASSWORD), "{got}");
    assert!(got.contains(ENCRYPTED_TYPE), "{got}");
    // The Log line is appended after the record: poll for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, logs) = call(
            &api.app,
            Method::GET,
            &format!("/api/v1/logs/{id}"),
            None,
            String::new(),
        )
        .await;
        assert!(!logs.contains(PASSWORD), "{logs}");
        if logs.contains("logging in with ******") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no masked line: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_bomb_is_refused_with_its_location() {
    let api = api(None, |s| s).await;
    let bomb = alias_bomb();
    assert!(bomb.len() < 700);
    let (status, body) = post_yaml(&api.app, "/api/v1/flows", &bomb).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("aliases expand to more than"), "{body}");
    assert!(
        body.contains("line 7") || body.contains("7:"),
        "names where: {body}"
    );
    let (status, body) = post_yaml(&api.app, "/api/v1/flows/validate", &bomb).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("aliases expand to more than"), "{body}");
}

/// Parses held on the blocking pool until released.
#[derive(Default)]
struct Gate {
    entered: Mutex<usize>,
    open: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn pass(&self) {
        *self.entered.lock().unwrap() += 1;
        self.changed.notify_all();
        let open = self.open.lock().unwrap();
        // Bounded: a parse never waits forever, even if the test fails first.
        let _ = self
            .changed
            .wait_timeout_while(open, Duration::from_secs(60), |open| !*open)
            .unwrap();
    }

    fn entered(&self) -> usize {
        *self.entered.lock().unwrap()
    }

    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.changed.notify_all();
    }
}

/// One async thread only: if parsing held it, health could not answer while 8 parses are
/// in progress (they are held at the gate until health has answered).
#[tokio::test(flavor = "current_thread")]
async fn health_answers_while_eight_flow_sources_parse() {
    let gate = Arc::new(Gate::default());
    let hook = gate.clone();
    let api = api(None, move |s| {
        s.with_parse_hook(Arc::new(move || hook.pass()))
    })
    .await;
    let bomb = alias_bomb();
    let posts: Vec<_> = (0..8)
        .map(|_| {
            let app = api.app.clone();
            let bomb = bomb.clone();
            tokio::spawn(async move { post_yaml(&app, "/api/v1/flows", &bomb).await })
        })
        .collect();
    // Explicit signal: every parse has started (and is held) before health is asked.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while gate.entered() < 8 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "parses did not start"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, _) = call(&api.app, Method::GET, "/health", None, String::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        posts.iter().all(|p| !p.is_finished()),
        "health answered while all 8 parses were in progress"
    );
    gate.release();
    for p in posts {
        let (status, body) = p.await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains("aliases expand to more than"), "{body}");
    }
}
