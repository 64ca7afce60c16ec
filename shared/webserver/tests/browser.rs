//! What a web page open in the user's browser can make the browser send, against every
//! state-changing route of the OpenAPI document (read from `/api/v1/openapi.json`, so a new
//! route is covered without touching this file): a foreign `Origin`, `Origin: null`, a
//! foreign `Host` (DNS rebinding), `Sec-Fetch-Site: cross-site`, a `text/plain` body, a form
//! body and a body without a content type are refused, with the credentials right, and
//! nothing changes; the same requests from the server's own origin (or without `Origin`, as
//! the CLI sends them) get through those checks. Then the original attack, step by step.
//! Webhooks (public, key-authenticated, cross-site by design) are the one exception.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kite_engine::services::{Platform, QueueNames, poller};
use kite_webserver::{AppState, router};
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "browser-suite-token";
const HOST: &str = "localhost:8080";
const NS: &str = "kite.browser";

const PROBE: &str = "id: probe\nnamespace: kite.browser\ninputs:\n  - id: cmd\n    type: STRING\n    defaults: id\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.cmd }}\"\n";
const BOUNDARY: &str = "kiteboundary";

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

async fn harness() -> Harness {
    let work = tempfile::tempdir().unwrap();
    let platform = Platform::in_memory(
        QueueNames::with_prefix("browser-"),
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
    let app = router(AppState::new(platform.clone()).with_token(TOKEN));
    Harness {
        app,
        platform,
        stop,
        _work: work,
    }
}

struct Reply {
    status: StatusCode,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// One request as a browser (or the CLI) would send it.
#[derive(Clone, Default)]
struct Probe {
    host: Option<String>,
    origin: Option<String>,
    fetch_site: Option<&'static str>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Probe {
    fn own() -> Self {
        Self {
            host: Some(HOST.into()),
            ..Default::default()
        }
    }
}

impl Harness {
    async fn send(&self, method: &Method, uri: &str, p: &Probe) -> Reply {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        if let Some(h) = &p.host {
            b = b.header(header::HOST, h);
        }
        if let Some(o) = &p.origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(s) = p.fetch_site {
            b = b.header("sec-fetch-site", s);
        }
        if let Some(ct) = &p.content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let resp = self
            .app
            .clone()
            .oneshot(b.body(Body::from(p.body.clone())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Posts the probe flow as `content_type`, the other headers those of `p`.
    async fn post_probe_flow(&self, content_type: &str, p: Probe) -> Reply {
        let p = Probe {
            content_type: Some(content_type.into()),
            body: PROBE.as_bytes().to_vec(),
            ..p
        };
        self.send(&Method::POST, "/api/v1/flows", &p).await
    }

    async fn get(&self, uri: &str) -> Value {
        let r = self.send(&Method::GET, uri, &Probe::own()).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
        r.json()
    }

    /// Flows, executions and KV keys of the test namespace, and the probe's revision.
    async fn snapshot(&self) -> (Value, Value, Value, Value) {
        let flows = self
            .get(&format!("/api/v1/flows/search?namespace={NS}"))
            .await["total"]
            .clone();
        let executions = self
            .get(&format!("/api/v1/executions/search?namespace={NS}"))
            .await["total"]
            .clone();
        let kv = self.get(&format!("/api/v1/namespaces/{NS}/kv")).await;
        let r = self
            .send(
                &Method::GET,
                &format!("/api/v1/flows/{NS}/probe"),
                &Probe::own(),
            )
            .await;
        (flows, executions, kv, r.json()["revision"].clone())
    }
}

/// `(method, path template, accepted content types)` of every state-changing operation.
fn state_changing(doc: &Value) -> Vec<(Method, String, Vec<String>)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let m = match method.as_str() {
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            // Webhooks take no credentials (their key is in the URL) and are called by
            // other sites by design: nothing for a page to borrow (see `tests/webhook.rs`).
            if op["security"] == serde_json::json!([]) {
                assert!(
                    path.starts_with("/api/v1/executions/webhook/"),
                    "{method} {path}: only webhooks are open and cross-site"
                );
                continue;
            }
            let types = op["requestBody"]["content"]
                .as_object()
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            out.push((m, path.clone(), types));
        }
    }
    out
}

/// The template with its parameters filled.
fn concrete(template: &str) -> String {
    template
        .replace("{namespace}", NS)
        .replace("{id}", "probe")
        .replace("{executionId}", "probeexecution")
        .replace("{key}", "probekey")
}

/// A well-formed body of `content_type` for the route.
fn valid_body(path: &str, content_type: &str) -> (String, Vec<u8>) {
    match content_type {
        "multipart/form-data" => (
            format!("multipart/form-data; boundary={BOUNDARY}"),
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"cmd\"\r\n\r\nid\r\n--{BOUNDARY}--\r\n"
            )
            .into_bytes(),
        ),
        "application/json" if path.ends_with("/state") => (
            content_type.to_owned(),
            br#"{"taskRunId": "x", "state": "SUCCESS"}"#.to_vec(),
        ),
        "application/json" => (content_type.to_owned(), b"{}".to_vec()),
        yaml if yaml.contains("yaml") => (yaml.to_owned(), PROBE.as_bytes().to_vec()),
        other => (other.to_owned(), b"x".to_vec()),
    }
}

/// The best-formed request of a route: its first documented content type, or no body.
fn legit(path: &str, types: &[String]) -> Probe {
    let mut p = Probe::own();
    if let Some(ct) = types.first() {
        let (ct, body) = valid_body(path, ct);
        p.content_type = Some(ct);
        p.body = body;
    }
    p
}

/// The refusals, each with the words its message must hold.
fn attacks(path: &str, types: &[String]) -> Vec<(&'static str, Probe, StatusCode, &'static str)> {
    let base = legit(path, types);
    let foreign_origin = Probe {
        origin: Some("http://evil.example".into()),
        fetch_site: Some("cross-site"),
        ..base.clone()
    };
    let foreign_origin_only = Probe {
        origin: Some("http://evil.example".into()),
        ..base.clone()
    };
    let null_origin = Probe {
        origin: Some("null".into()),
        ..base.clone()
    };
    let other_port = Probe {
        origin: Some("http://localhost:3000".into()),
        fetch_site: Some("same-site"),
        ..base.clone()
    };
    let rebinding = Probe {
        host: Some("evil.example:8080".into()),
        origin: Some("http://evil.example:8080".into()),
        fetch_site: Some("same-origin"),
        ..base.clone()
    };
    let rebinding_no_origin = Probe {
        host: Some("attacker.example".into()),
        ..base.clone()
    };
    let cross_site = Probe {
        fetch_site: Some("cross-site"),
        ..base.clone()
    };
    let text_plain = Probe {
        content_type: Some("text/plain;charset=UTF-8".into()),
        body: PROBE.as_bytes().to_vec(),
        ..Probe::own()
    };
    let form = Probe {
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: b"cmd=id&name=x".to_vec(),
        ..Probe::own()
    };
    let blob = Probe {
        content_type: None,
        body: PROBE.as_bytes().to_vec(),
        ..Probe::own()
    };
    vec![
        (
            "foreign Origin",
            foreign_origin,
            StatusCode::FORBIDDEN,
            "Cross-origin",
        ),
        (
            "foreign Origin without Sec-Fetch-Site",
            foreign_origin_only,
            StatusCode::FORBIDDEN,
            "evil.example",
        ),
        (
            "Origin: null",
            null_origin,
            StatusCode::FORBIDDEN,
            "Cross-origin",
        ),
        (
            "another port of localhost",
            other_port,
            StatusCode::FORBIDDEN,
            "localhost:3000",
        ),
        (
            "foreign Host (DNS rebinding)",
            rebinding,
            StatusCode::MISDIRECTED_REQUEST,
            "--public-host",
        ),
        (
            "foreign Host without Origin",
            rebinding_no_origin,
            StatusCode::MISDIRECTED_REQUEST,
            "attacker.example",
        ),
        (
            "Sec-Fetch-Site: cross-site",
            cross_site,
            StatusCode::FORBIDDEN,
            "cross-site",
        ),
        (
            "text/plain body",
            text_plain,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
        ),
        (
            "form body",
            form,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/x-www-form-urlencoded",
        ),
        (
            "body without Content-Type",
            blob,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_state_changing_route_refuses_what_a_foreign_page_can_send() {
    let h = harness().await;
    let doc = h.get("/api/v1/openapi.json").await;
    let routes = state_changing(&doc);
    let found: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.clone()))
        .collect();
    for expected in [
        ("POST", "/api/v1/flows"),
        ("POST", "/api/v1/flows/validate"),
        ("PUT", "/api/v1/flows/{namespace}/{id}"),
        ("DELETE", "/api/v1/flows/{namespace}/{id}"),
        ("POST", "/api/v1/executions/{namespace}/{id}"),
        ("POST", "/api/v1/executions/{executionId}/resume"),
        ("POST", "/api/v1/executions/{executionId}/restart"),
        ("DELETE", "/api/v1/executions/{executionId}/kill"),
        ("PUT", "/api/v1/namespaces/{namespace}/kv/{key}"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "the OpenAPI document lists {expected:?}; found {found:?}"
        );
    }
    assert!(routes.len() >= 13, "{} state-changing routes", routes.len());
    for (_, path, types) in &routes {
        for t in types {
            assert!(
                !matches!(
                    t.as_str(),
                    "text/plain" | "application/x-www-form-urlencoded"
                ),
                "{path} documents {t}"
            );
        }
    }

    let r = h.post_probe_flow("application/x-yaml", Probe::own()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before = h.snapshot().await;
    assert_eq!(before.0, 1);
    assert_eq!(before.1, 0);

    let mut refused = 0;
    for (method, path, types) in &routes {
        let uri = concrete(path);
        for (what, probe, status, words) in attacks(path, types) {
            let r = h.send(method, &uri, &probe).await;
            assert_eq!(r.status, status, "{what}: {method} {path}: {}", r.text);
            let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
            assert!(
                message.contains(words),
                "{what}: {method} {path}: `{message}` should say `{words}`"
            );
            refused += 1;
        }
    }
    assert!(refused >= 130, "{refused} refusals");
    assert_eq!(
        h.snapshot().await,
        before,
        "nothing changed: no flow, execution, revision or KV key"
    );

    // The same requests from the server's own origin, or without Origin (the CLI), get
    // through the checks (whatever the handler then says).
    for (method, path, types) in &routes {
        let uri = concrete(path);
        let own = legit(path, types);
        let same_origin = Probe {
            origin: Some(format!("http://{HOST}")),
            fetch_site: Some("same-origin"),
            ..own.clone()
        };
        let loopback_ip = Probe {
            host: Some("127.0.0.1:8080".into()),
            origin: Some("http://127.0.0.1:8080".into()),
            ..own.clone()
        };
        for (what, p) in [
            ("no Origin", own),
            ("same origin", same_origin),
            ("127.0.0.1", loopback_ip),
        ] {
            let r = h.send(method, &uri, &p).await;
            assert!(
                !matches!(
                    r.status,
                    StatusCode::FORBIDDEN
                        | StatusCode::MISDIRECTED_REQUEST
                        | StatusCode::UNSUPPORTED_MEDIA_TYPE
                        | StatusCode::UNAUTHORIZED
                ),
                "{what}: {method} {path}: {} {}",
                r.status,
                r.text
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_original_attack_is_refused_and_nothing_runs() {
    // A page posts a flow as text/plain (a "simple" request: no preflight), then starts it
    // with a form body. Here even with the right credentials (a browser may hold them).
    let h = harness().await;
    let page = "http://attacker.example";
    let r = h
        .post_probe_flow(
            "text/plain",
            Probe {
                origin: Some(page.into()),
                fetch_site: Some("cross-site"),
                ..Probe::own()
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Without Origin headers (an old browser, or a DNS-rebound name): still refused.
    let r = h.post_probe_flow("text/plain", Probe::own()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert!(r.text.contains("application/x-yaml"), "{}", r.text);
    let r = h
        .send(
            &Method::GET,
            &format!("/api/v1/flows/{NS}/probe"),
            &Probe::own(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no flow was stored");

    // The flow exists (deployed by its owner); the form-body start is refused.
    let r = h.post_probe_flow("application/x-yaml", Probe::own()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = h
        .send(
            &Method::POST,
            &format!("/api/v1/executions/{NS}/probe?wait=true"),
            &Probe {
                content_type: Some("application/x-www-form-urlencoded".into()),
                body: b"cmd=touch%20/tmp/pwned".to_vec(),
                ..Probe::own()
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert!(
        r.text.contains("multipart/form-data, application/json"),
        "{}",
        r.text
    );
    let total = h
        .get(&format!("/api/v1/executions/search?namespace={NS}"))
        .await["total"]
        .clone();
    assert_eq!(total, 0, "nothing was executed");
    let stored = h
        .platform
        .repos
        .executions
        .list(NS, Some("probe"), 10)
        .await
        .unwrap();
    assert!(stored.is_empty());

    // JSON inputs from the CLI's side still work.
    let r = h
        .send(
            &Method::POST,
            &format!("/api/v1/executions/{NS}/probe?wait=true"),
            &Probe {
                content_type: Some("application/json".into()),
                body: br#"{"cmd": "hello"}"#.to_vec(),
                ..Probe::own()
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["state"]["current"], "SUCCESS", "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_any_host_and_allow_listed_origins_pass() {
    let h = harness().await;
    let r = h
        .send(
            &Method::GET,
            "/health",
            &Probe {
                host: Some("10.0.0.7:8080".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = h
        .send(
            &Method::GET,
            "/api/v1/flows/search",
            &Probe {
                host: Some("10.0.0.7:8080".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{}", r.text);

    let work = tempfile::tempdir().unwrap();
    let p = Platform::in_memory(QueueNames::with_prefix("allow-"), work.path().to_path_buf());
    p.ensure_queues().await.unwrap();
    let app = router(
        AppState::new(Arc::new(p))
            .with_token(TOKEN)
            .with_public_hosts(["kite.example.com".to_owned()])
            .with_allowed_origins(["https://ui.example.com".to_owned()]),
    );
    for (host, origin, site, expected) in [
        (
            "kite.example.com",
            Some("https://ui.example.com"),
            Some("cross-site"),
            StatusCode::OK,
        ),
        ("kite.example.com:443", None, None, StatusCode::OK),
        (
            "kite.example.com",
            Some("https://kite.example.com"),
            Some("same-origin"),
            StatusCode::OK,
        ),
        (
            "kite.example.com",
            Some("https://other.example.com"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "other.example.com",
            None,
            None,
            StatusCode::MISDIRECTED_REQUEST,
        ),
    ] {
        let mut b = Request::builder()
            .uri("/api/v1/flows/search")
            .header(header::HOST, host)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            b = b.header("sec-fetch-site", s);
        }
        let resp = app
            .clone()
            .oneshot(b.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), expected, "{host} {origin:?} {site:?}");
    }
}
