//! The API at the router level (`tower::ServiceExt::oneshot`) over an in-memory platform
//! whose pollers run: flows, executions with JSON and multipart inputs (a file read back
//! by a task), waiting, searching, killing, resuming, logs, KV, file downloads (and
//! traversal attempts), error statuses (never a 500 for client mistakes) and auth.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use kite_engine::services::{Platform, QueueNames, poller};
use kite_ports::StorageKey;
use kite_webserver::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const NS: &str = "kite.api";

const GREET: &str = r#"id: greet
namespace: kite.api
labels:
  owner: api-tests
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 1
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "Hello {{ inputs.name }} x{{ inputs.count }}"
"#;

const UPLOAD: &str = r#"id: upload
namespace: kite.api
inputs:
  - id: doc
    type: FILE
  - id: note
    type: STRING
    required: false
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.doc) }}"
"#;

const SLEEPY: &str = r#"id: sleepy
namespace: kite.api
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never reached
"#;

const APPROVE: &str = r#"id: approve
namespace: kite.api
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: "approved: {{ outputs.wait.onResume.reason }}"
"#;

const CHATTY: &str = r#"id: chatty
namespace: kite.api
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: an info line
  - id: second
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: a warning line
  - id: third
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: an error line
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

async fn harness_with(configure: impl FnOnce(AppState) -> AppState) -> Harness {
    harness_on(Arc::new(kite_ports::SystemClock), configure).await
}

/// The harness on `clock` (a manual one lets a test decide when time passes).
async fn harness_on(
    clock: Arc<dyn kite_ports::Clock>,
    configure: impl FnOnce(AppState) -> AppState,
) -> Harness {
    let work = tempfile::tempdir().unwrap();
    let platform = Platform::on_ports(
        Arc::new(kite_ports::MemoryQueue::new(clock.clone())),
        Arc::new(kite_ports::MemoryStorage::new()),
        Arc::new(kite_ports::MemoryDocuments::new(clock.clone())),
        clock,
        QueueNames::with_prefix("api-"),
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

async fn harness() -> Harness {
    harness_with(|s| s).await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
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

impl Harness {
    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        self.send(b.body(body.into()).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None, Body::empty()).await
    }

    async fn deploy(&self, yaml: &str) -> Value {
        let r = self
            .call(
                Method::POST,
                "/api/v1/flows",
                Some("application/x-yaml"),
                yaml.to_owned(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    async fn execute_json(&self, flow: &str, query: &str, inputs: Value) -> Reply {
        let uri = format!("/api/v1/executions/{NS}/{flow}{query}");
        self.call(
            Method::POST,
            &uri,
            Some("application/json"),
            inputs.to_string(),
        )
        .await
    }

    /// Polls the execution until `done` holds (or fails after a generous 60 s).
    async fn until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.get(&format!("/api/v1/executions/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let e = r.json();
            if done(&e) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {e:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn until_state(&self, id: &str, state: &str) -> Value {
        self.until(id, state, |e| e["state"]["current"] == state)
            .await
    }
}

/// A multipart body: (name, file name, content).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "kite-test-boundary-7d1c";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn output(e: &Value, task: &str) -> Value {
    e["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == task)
        .map(|r| r["outputs"]["value"].clone())
        .unwrap_or(Value::Null)
}

fn assert_error(r: &Reply, status: StatusCode, needle: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    let body = r.json();
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    let all = body.to_string();
    assert!(all.contains(needle), "expected `{needle}` in {body:#}");
    assert!(!message.is_empty());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_crud_revisions_search_graph() {
    let h = harness().await;
    let created = h.deploy(GREET).await;
    assert_eq!(created["id"], "greet");
    assert_eq!(created["namespace"], NS);
    assert_eq!(created["revision"], 1);
    assert_eq!(created["source"], GREET);
    assert_eq!(
        created["tasks"][0]["type"],
        "io.kestra.plugin.core.debug.Return"
    );

    let again = h
        .call(
            Method::POST,
            "/api/v1/flows",
            Some("application/x-yaml"),
            GREET,
        )
        .await;
    assert_error(&again, StatusCode::UNPROCESSABLE_ENTITY, "flow.id");

    let got = h.get("/api/v1/flows/kite.api/greet").await.json();
    assert_eq!(got["revision"], 1);
    assert!(got.get("source").is_none());
    let with_source = h
        .get("/api/v1/flows/kite.api/greet?source=true")
        .await
        .json();
    assert_eq!(with_source["source"], GREET);

    let v2 = GREET.replace("owner: api-tests", "owner: api-tests-v2");
    let updated = h
        .call(
            Method::PUT,
            "/api/v1/flows/kite.api/greet",
            Some("application/x-yaml"),
            v2.clone(),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(updated.json()["revision"], 2);

    let renamed = GREET.replace("id: greet", "id: other");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/flows/kite.api/greet",
            Some("application/x-yaml"),
            renamed,
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "flow.id");
    let moved = GREET.replace("namespace: kite.api", "namespace: kite.elsewhere");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/flows/kite.api/greet",
            Some("application/x-yaml"),
            moved,
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "flow.namespace");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/flows/kite.api/ghost",
            Some("application/x-yaml"),
            GREET,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "ghost");

    let old = h
        .get("/api/v1/flows/kite.api/greet?revision=1&source=true")
        .await
        .json();
    assert_eq!(old["source"], GREET);
    let revisions = h.get("/api/v1/flows/kite.api/greet/revisions").await.json();
    assert_eq!(revisions.as_array().unwrap().len(), 2);
    assert_eq!(revisions[1]["source"], v2);

    h.deploy(CHATTY).await;
    let listed = h.get("/api/v1/flows/kite.api").await.json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["chatty", "greet"]);
    let found = h.get("/api/v1/flows/search?q=gre").await.json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["results"][0]["id"], "greet");
    let by_ns = h
        .get("/api/v1/flows/search?namespace=kite&size=1&page=2")
        .await
        .json();
    assert_eq!(by_ns["total"], 2);
    assert_eq!(by_ns["results"][0]["id"], "greet");
    let namespaces = h.get("/api/v1/flows/distinct-namespaces").await.json();
    assert_eq!(namespaces, json!([NS]));

    let graph = h.get("/api/v1/flows/kite.api/chatty/graph").await.json();
    let uids: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, ["root.start", "root.end", "first", "second", "third"]);
    assert_eq!(graph["edges"].as_array().unwrap().len(), 4);

    let r = h
        .call(
            Method::DELETE,
            "/api/v1/flows/kite.api/greet",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &h.get("/api/v1/flows/kite.api/greet").await,
        StatusCode::NOT_FOUND,
        "greet",
    );
    let r = h
        .call(
            Method::DELETE,
            "/api/v1/flows/kite.api/greet",
            None,
            Body::empty(),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "greet");
    // A deleted flow can be created again.
    h.deploy(GREET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_flows_are_422_with_their_violations() {
    let h = harness().await;
    let typo = "id: bad\nnamespace: kite.api\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Logg\n    message: hi\n";
    let body = assert_error(
        &h.call(
            Method::POST,
            "/api/v1/flows",
            Some("application/x-yaml"),
            typo,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Did you mean `io.kestra.plugin.core.log.Log`?",
    );
    assert_eq!(body["errors"][0]["path"], "tasks[0].type", "{body:#}");
    assert!(
        body["message"].as_str().unwrap().contains("line 5"),
        "{body:#}"
    );

    for bad in [
        &b"tasks: [unclosed"[..],
        b"",
        b"\xff\xfe not utf8",
        b"- just\n- a list\n",
    ] {
        let r = h
            .call(
                Method::POST,
                "/api/v1/flows",
                Some("application/x-yaml"),
                bad.to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    }
    let two = format!("{GREET}---\n{CHATTY}");
    let r = h
        .call(
            Method::POST,
            "/api/v1/flows",
            Some("application/x-yaml"),
            two,
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "several YAML documents",
    );
    assert_error(
        &h.get("/api/v1/flows/kite.api/bad").await,
        StatusCode::NOT_FOUND,
        "bad",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validate_answers_per_document() {
    let h = harness().await;
    let body = format!(
        "{GREET}---\nid: broken\nnamespace: kite.api\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n---\n{CHATTY}"
    );
    let r = h
        .call(
            Method::POST,
            "/api/v1/flows/validate",
            Some("application/x-yaml"),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let results = r.json();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["flow"], "greet");
    assert_eq!(results[0]["namespace"], NS);
    assert!(results[0]["constraints"].is_null());
    assert_eq!(results[1]["flow"], "broken");
    let constraints = results[1]["constraints"].as_str().unwrap();
    assert!(constraints.contains("mesage"), "{constraints}");
    // Lines count from the start of the whole body.
    let line = GREET.lines().count() + 1 + 6;
    assert!(
        constraints.contains(&format!("line {line}")),
        "{constraints}"
    );
    assert!(results[2]["constraints"].is_null());
    for key in ["deprecationPaths", "warnings", "infos"] {
        assert!(results[0][key].is_array());
    }
    let empty = h
        .call(
            Method::POST,
            "/api/v1/flows/validate",
            Some("application/x-yaml"),
            "",
        )
        .await
        .json();
    assert!(empty[0]["constraints"].is_string());
    // Nothing was saved.
    assert_error(
        &h.get("/api/v1/flows/kite.api/greet").await,
        StatusCode::NOT_FOUND,
        "greet",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_inputs_labels_and_wait() {
    let h = harness().await;
    h.deploy(GREET).await;
    let r = h
        .execute_json(
            "greet",
            "?wait=true&labels=team:data&labels=env:test",
            json!({"name": "Ada", "count": 3}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let e = r.json();
    assert_eq!(e["state"]["current"], "SUCCESS", "{e:#}");
    assert_eq!(output(&e, "hello"), "Hello Ada x3");
    assert_eq!(e["inputs"]["count"], 3);
    let labels = e["labels"].as_array().unwrap();
    for (k, v) in [("team", "data"), ("env", "test"), ("owner", "api-tests")] {
        assert!(
            labels.iter().any(|l| l["key"] == k && l["value"] == v),
            "{labels:?}"
        );
    }

    // Without wait: the created execution, which then ends.
    let r = h.execute_json("greet", "", json!({"name": "Bob"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let created = r.json();
    assert_eq!(created["state"]["current"], "CREATED");
    let id = created["id"].as_str().unwrap();
    let ended = h.until_state(id, "SUCCESS").await;
    assert_eq!(output(&ended, "hello"), "Hello Bob x1");

    // Form bodies are what a page of another site can send: refused.
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet?wait=true",
            Some("application/x-www-form-urlencoded"),
            "name=Cy&count=2",
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "multipart/form-data, application/json",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_inputs_and_requests_are_4xx() {
    let h = harness().await;
    h.deploy(GREET).await;
    let r = h.execute_json("greet", "", json!({"count": 2})).await;
    let body = assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "name");
    assert_eq!(body["field"], "inputs.name");
    let r = h
        .execute_json("greet", "", json!({"name": "x", "count": "many"}))
        .await;
    let body = assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "count");
    assert_eq!(body["field"], "inputs.count");
    assert_error(
        &h.execute_json("ghost", "", json!({})).await,
        StatusCode::NOT_FOUND,
        "ghost",
    );
    assert_error(
        &h.execute_json("greet", "?labels=nocolon", json!({"name": "x"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "labels",
    );
    assert_error(
        &h.execute_json(
            "greet",
            "?labels=system.readOnly:true",
            json!({"name": "x"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "System labels",
    );
    assert_error(
        &h.execute_json("greet", "?wait=perhaps", json!({"name": "x"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wait",
    );
    assert_error(
        &h.execute_json("greet", "?revision=9", json!({"name": "x"}))
            .await,
        StatusCode::NOT_FOUND,
        "greet",
    );
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some("application/json"),
            "{not json",
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "malformed JSON");
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some("application/json"),
            "[1,2]",
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "object");
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some("multipart/form-data"),
            "x",
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.text());
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some("multipart/form-data; boundary=zz"),
            "--zz\r\ngarbage",
        )
        .await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text());
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some("text/csv"),
            "a,b",
        )
        .await;
    assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "content type");

    let samples = [
        (Method::GET, "/api/v1/executions/nope"),
        (Method::GET, "/api/v1/executions/..%2F..%2Fetc"),
        (Method::DELETE, "/api/v1/executions/nope"),
        (Method::DELETE, "/api/v1/executions/nope/kill"),
        (Method::POST, "/api/v1/executions/nope/resume"),
        (Method::GET, "/api/v1/executions/nope/follow"),
        (
            Method::GET,
            "/api/v1/executions/nope/file?path=kestra:///a/b",
        ),
        (Method::GET, "/api/v1/logs/nope"),
        (Method::GET, "/api/v1/logs/nope/follow"),
        (Method::GET, "/api/v1/flows/bad%7Cns/x"),
        (Method::GET, "/api/v1/flows/kite.api/ghost/revisions"),
        (Method::GET, "/api/v1/flows/kite.api/ghost/graph"),
        (Method::GET, "/api/v1/flows/search?page=0"),
        (Method::GET, "/api/v1/executions/search?state=SLEEPING"),
        (Method::GET, "/api/v1/executions/search?size=-1"),
        (Method::GET, "/api/v1/namespaces/kite.api/kv/ghost"),
        (Method::GET, "/api/v1/namespaces/$kite.namespaces/kv"),
        (Method::GET, "/api/v1/no/such/route"),
        (Method::PATCH, "/api/v1/flows/kite.api/greet"),
        (Method::GET, "/api/v1/logs/nope?minLevel=LOUD"),
    ];
    for (method, uri) in samples {
        let r = h.call(method.clone(), uri, None, Body::empty()).await;
        assert!(
            r.status.is_client_error(),
            "{method} {uri}: {} {}",
            r.status,
            r.text()
        );
        let body = r.json();
        assert!(body["message"].is_string(), "{method} {uri}: {body}");
    }
    let r = h.get("/api/v1/no/such/route").await;
    assert_error(&r, StatusCode::NOT_FOUND, "No route");
    let r = h
        .call(
            Method::PATCH,
            "/api/v1/flows/kite.api/greet",
            None,
            Body::empty(),
        )
        .await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multipart_file_input_read_back_downloaded_and_guarded() {
    let h = harness().await;
    h.deploy(UPLOAD).await;
    h.deploy(GREET).await;
    let content = b"hello from a file\nline two";
    let (ct, body) = multipart(&[
        ("note", None, b"a note"),
        ("doc", Some("../../notes.txt"), content),
        ("ignored", Some("x.bin"), b"zzz"),
    ]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/upload?wait=true",
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let e = r.json();
    assert_eq!(e["state"]["current"], "SUCCESS", "{e:#}");
    assert_eq!(
        output(&e, "echo"),
        String::from_utf8_lossy(content).as_ref()
    );
    assert_eq!(e["inputs"]["note"], "a note");
    let id = e["id"].as_str().unwrap();
    let uri = e["inputs"]["doc"].as_str().unwrap().to_owned();
    assert_eq!(
        uri,
        format!("kestra:///kite.api/upload/executions/{id}/inputs/doc/notes.txt")
    );

    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let r = h
        .get(&format!("/api/v1/executions/{id}/file?path={}", enc(&uri)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(&r.body[..], content);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert!(
        r.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("notes.txt")
    );
    let metas = h
        .get(&format!(
            "/api/v1/executions/{id}/file/metas?path={}",
            enc(&uri)
        ))
        .await
        .json();
    assert_eq!(metas["size"], content.len());

    // Traversal and other executions' files are refused.
    let prefix = format!("kestra:///kite.api/upload/executions/{id}");
    for (path, status) in [
        (
            format!("{prefix}/../../greet/secret.txt"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("{prefix}/inputs/%2e%2e/%2e%2e/x"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "kestra:///kite.api/upload/executions/other-id/inputs/doc/notes.txt".to_owned(),
            StatusCode::FORBIDDEN,
        ),
        (
            format!("{prefix}x/inputs/doc/notes.txt"),
            StatusCode::FORBIDDEN,
        ),
        (prefix.clone(), StatusCode::FORBIDDEN),
        ("/etc/passwd".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "file:///etc/passwd".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("{prefix}/inputs/doc/missing.txt"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = h
            .get(&format!("/api/v1/executions/{id}/file?path={}", enc(&path)))
            .await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
    assert_error(
        &h.get(&format!("/api/v1/executions/{id}/file")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "path",
    );

    // A FILE input given as text must be a file of the same flow.
    let other = StorageKey::for_execution("kite.api", "greet", "x")
        .unwrap()
        .join("f.txt")
        .unwrap();
    h.platform
        .storage
        .put(&other, Bytes::from_static(b"secret"))
        .await
        .unwrap();
    let r = h
        .execute_json("upload", "", json!({"doc": other.to_uri()}))
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "inputs.doc");
    let r = h
        .execute_json("upload", "", json!({"doc": "/etc/passwd"}))
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "inputs.doc");
    let (ct, body) = multipart(&[("doc", None, b"kestra:///kite.api/greet/executions/x/f.txt")]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/upload",
            Some(&ct),
            body,
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "inputs.doc");
    // ...and the file of an earlier execution of the same flow is fine.
    let r = h
        .execute_json("upload", "?wait=true", json!({"doc": uri}))
        .await;
    assert_eq!(
        output(&r.json(), "echo"),
        String::from_utf8_lossy(content).as_ref()
    );

    // Missing file: 422, and nothing stays in storage for rejected requests.
    let (ct, body) = multipart(&[("note", None, b"no file")]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/upload",
            Some(&ct),
            body,
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "inputs.doc");
    let before = h
        .platform
        .storage
        .list(&StorageKey::new("kite.api/greet").unwrap())
        .await
        .unwrap()
        .len();
    let (ct, body) = multipart(&[
        ("name", Some("n.txt"), b"Zed"),
        ("count", None, b"not a number"),
    ]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some(&ct),
            body,
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "inputs.count");
    let after = h
        .platform
        .storage
        .list(&StorageKey::new("kite.api/greet").unwrap())
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);

    // Deleting the execution deletes its files.
    let r = h
        .call(
            Method::DELETE,
            &format!("/api/v1/executions/{id}"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &h.get(&format!("/api/v1/executions/{id}")).await,
        StatusCode::NOT_FOUND,
        id,
    );
    let key = StorageKey::parse_uri(&uri).unwrap();
    assert!(!h.platform.storage.exists(&key).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_and_search_executions() {
    let h = harness().await;
    h.deploy(GREET).await;
    h.deploy(CHATTY).await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let e = h
            .execute_json("greet", "?labels=batch:one", json!({"name": name}))
            .await
            .json();
        ids.push(e["id"].as_str().unwrap().to_owned());
    }
    let chatty = h
        .execute_json("chatty", "?wait=true", json!({}))
        .await
        .json();
    for id in &ids {
        h.until_state(id, "SUCCESS").await;
    }
    let all = h
        .get("/api/v1/executions/search?namespace=kite")
        .await
        .json();
    assert_eq!(all["total"], 4);
    let page = h
        .get("/api/v1/executions/search?namespace=kite.api&flowId=greet&size=2&page=2")
        .await
        .json();
    assert_eq!(page["total"], 3);
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    let labelled = h
        .get("/api/v1/executions/search?labels=batch:one&state=SUCCESS")
        .await
        .json();
    assert_eq!(labelled["total"], 3);
    let failed = h
        .get("/api/v1/executions/search?state=FAILED,KILLED")
        .await
        .json();
    assert_eq!(failed["total"], 0);
    let by_q = h
        .get(&format!(
            "/api/v1/executions?q={}",
            chatty["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(by_q["total"], 1);
    let newest_first = h.get("/api/v1/executions/search?flowId=greet").await.json();
    let dates: Vec<_> = newest_first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let d = e["state"]["startDate"].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(d).unwrap_or_else(|err| panic!("{d}: {err}"))
        })
        .collect();
    // Compared as instants: as text, "…41Z" sorts after "…41.001Z".
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_a_sleeping_execution() {
    let h = harness().await;
    h.deploy(SLEEPY).await;
    let e = h.execute_json("sleepy", "", json!({})).await.json();
    let id = e["id"].as_str().unwrap();
    h.until(id, "the sleep to start", |e| {
        e["taskRunList"][0]["state"]["current"] == "RUNNING"
    })
    .await;
    let r = h
        .call(
            Method::DELETE,
            &format!("/api/v1/executions/{id}/kill"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let killed = h.until_state(id, "KILLED").await;
    assert_eq!(killed["taskRunList"][0]["state"]["current"], "KILLED");
    assert_eq!(killed["taskRunList"].as_array().unwrap().len(), 1);
    let r = h
        .call(
            Method::DELETE,
            &format!("/api/v1/executions/{id}/kill"),
            None,
            Body::empty(),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "terminated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resume_a_paused_execution_with_inputs() {
    let h = harness().await;
    h.deploy(APPROVE).await;
    h.deploy(GREET).await;
    let e = h.execute_json("approve", "", json!({})).await.json();
    let id = e["id"].as_str().unwrap();
    h.until_state(id, "PAUSED").await;
    let resume = format!("/api/v1/executions/{id}/resume");
    let r = h
        .call(Method::POST, &resume, Some("application/json"), "{}")
        .await;
    let body = assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "reason");
    assert_eq!(body["field"], "inputs.reason");
    assert_eq!(
        h.get(&format!("/api/v1/executions/{id}")).await.json()["state"]["current"],
        "PAUSED"
    );

    let (ct, body) = multipart(&[("reason", None, b"looks good")]);
    let r = h.call(Method::POST, &resume, Some(&ct), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let done = h.until_state(id, "SUCCESS").await;
    assert_eq!(output(&done, "answer"), "approved: looks good");
    let r = h
        .call(
            Method::POST,
            &resume,
            Some("application/json"),
            r#"{"reason": "again"}"#,
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "not paused");

    // A running (not paused) execution cannot be resumed either.
    let other = h
        .execute_json("greet", "?wait=true", json!({"name": "x"}))
        .await
        .json();
    let r = h
        .call(
            Method::POST,
            &format!(
                "/api/v1/executions/{}/resume",
                other["id"].as_str().unwrap()
            ),
            None,
            Body::empty(),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "not paused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follow_an_execution_as_server_sent_events() {
    let h = harness().await;
    h.deploy(APPROVE).await;
    let e = h.execute_json("approve", "", json!({})).await.json();
    let id = e["id"].as_str().unwrap().to_owned();
    h.until_state(&id, "PAUSED").await;
    // The follower says when the first event (the PAUSED state) has reached it: only then
    // is the execution resumed, so the stream sees both states whatever the machine's load.
    let (first_event, subscribed) = tokio::sync::oneshot::channel::<()>();
    let follower = {
        let app = h.app.clone();
        let uri = format!("/api/v1/executions/{id}/follow");
        tokio::spawn(async move {
            use futures::StreamExt;
            let resp = app
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
            let mut chunks = resp.into_body().into_data_stream();
            let mut text = String::new();
            let mut first_event = Some(first_event);
            while let Some(chunk) = chunks.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                if text.contains("data: ")
                    && let Some(signal) = first_event.take()
                {
                    let _ = signal.send(());
                }
            }
            text
        })
    };
    tokio::time::timeout(Duration::from_secs(60), subscribed)
        .await
        .expect("the follower got no first event within 60 s")
        .expect("the follower stopped before its first event");
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/resume"),
            Some("application/json"),
            r#"{"reason":"ok"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let text = tokio::time::timeout(Duration::from_secs(60), follower)
        .await
        .unwrap()
        .unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(events.len() >= 2, "{text}");
    assert_eq!(events[0]["state"]["current"], "PAUSED");
    assert_eq!(events.last().unwrap()["state"]["current"], "SUCCESS");
    assert!(text.contains("id: end"), "{text}");
    assert_eq!(text.matches("id: end").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_list_filter_download_and_follow() {
    let h = harness().await;
    h.deploy(CHATTY).await;
    let e = h.execute_json("chatty", "", json!({})).await.json();
    let id = e["id"].as_str().unwrap().to_owned();
    // Follow from the start: every line arrives, then the stream closes.
    let followed = h
        .get(&format!("/api/v1/logs/{id}/follow?minLevel=INFO"))
        .await;
    assert_eq!(followed.status, StatusCode::OK);
    let text = followed.text();
    for m in ["an info line", "a warning line", "an error line"] {
        assert!(text.contains(m), "{m} missing: {text}");
    }
    h.until_state(&id, "SUCCESS").await;
    let all = h.get(&format!("/api/v1/logs/{id}")).await.json();
    let messages: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    for m in ["an info line", "a warning line", "an error line"] {
        assert!(messages.contains(&m), "{messages:?}");
    }
    assert_eq!(all[0]["executionId"], id);
    let warn = h
        .get(&format!("/api/v1/logs/{id}?minLevel=WARN"))
        .await
        .json();
    let levels: Vec<&str> = warn
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["WARN", "ERROR"]);
    let second = h
        .get(&format!("/api/v1/logs/{id}?taskId=second"))
        .await
        .json();
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_eq!(second[0]["message"], "a warning line");
    let download = h.get(&format!("/api/v1/logs/{id}/download")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(
        download.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = download.text();
    assert!(
        text.lines()
            .any(|l| l.contains("WARN [second] a warning line")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kv_store() {
    let h = harness().await;
    let base = "/api/v1/namespaces/kite.api/kv";
    for (key, body, kind, value) in [
        ("count", "42", "NUMBER", json!(42)),
        ("flag", "true", "BOOLEAN", json!(true)),
        ("quoted", "\"text\"", "STRING", json!("text")),
        ("plain", "just some text", "STRING", json!("just some text")),
        ("doc", r#"{"a": [1, 2]}"#, "JSON", json!({"a": [1, 2]})),
    ] {
        let r = h
            .call(
                Method::PUT,
                &format!("{base}/{key}"),
                Some("application/json"),
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let got = h.get(&format!("{base}/{key}")).await.json();
        assert_eq!(got, json!({"type": kind, "value": value}), "{key}");
    }
    let keys = h.get(base).await.json();
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["count", "doc", "flag", "plain", "quoted"]);
    let r = h
        .call(
            Method::DELETE,
            &format!("{base}/count"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.json(), json!(true));
    let r = h
        .call(
            Method::DELETE,
            &format!("{base}/count"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.json(), json!(false));
    assert_error(
        &h.get(&format!("{base}/count")).await,
        StatusCode::NOT_FOUND,
        "count",
    );
    assert_error(
        &h.call(
            Method::PUT,
            &format!("{base}/empty"),
            Some("application/json"),
            "  ",
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty",
    );
    assert_error(
        &h.call(
            Method::PUT,
            &format!("{base}/bad%7Ckey"),
            Some("application/json"),
            "1",
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "key",
    );
    let req = Request::put(format!("{base}/ttl"))
        .header("ttl", "soon")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("1"))
        .unwrap();
    assert_error(&h.send(req).await, StatusCode::UNPROCESSABLE_ENTITY, "ttl");
    let req = Request::put(format!("{base}/ttl"))
        .header("ttl", "PT1H")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("1"))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::OK);
    // A flow reads what the API wrote.
    h.call(
        Method::PUT,
        &format!("{base}/greeting"),
        Some("application/json"),
        "hi there",
    )
    .await;
    let flow = "id: kvread\nnamespace: kite.api\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ kv('greeting') }}\"\n";
    h.deploy(flow).await;
    let e = h
        .execute_json("kvread", "?wait=true", json!({}))
        .await
        .json();
    assert_eq!(output(&e, "r"), "hi there");
}

/// An empty token set through the library never means "no auth": every request but the
/// health probes is refused, `Bearer ` with nothing after it included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_token_admits_nobody() {
    let h = harness_with(|s| s.with_token("")).await;
    let r = h.get("/api/v1/flows/search").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "Unauthorized");
    let bare = Request::get("/api/v1/flows/search")
        .header(header::AUTHORIZATION, "Bearer ")
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(bare).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.get("/health").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auth_token_and_basic() {
    let h = harness_with(|s| s.with_token("t0ken").with_basic_auth("admin", "pw")).await;
    let r = h.get("/api/v1/flows/search").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "Unauthorized");
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    for path in ["/health", "/api/v1/health", "/ready", "/ping"] {
        assert_eq!(h.get(path).await.status, StatusCode::OK, "{path}");
    }
    let with = |v: &str| {
        Request::get("/api/v1/flows/search")
            .header(header::AUTHORIZATION, v)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(h.send(with("Bearer t0ken")).await.status, StatusCode::OK);
    assert_eq!(
        h.send(with("Bearer nope")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.send(with("Basic YWRtaW46cHc=")).await.status,
        StatusCode::OK
    ); // admin:pw
    assert_eq!(
        h.send(with("Basic YWRtaW46eHg=")).await.status,
        StatusCode::UNAUTHORIZED
    ); // admin:xx
    assert_eq!(
        h.get("/api/v1/no/route").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openapi_documents_only_served_routes() {
    let h = harness().await;
    let doc = h.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut count = 0;
    for r in kite_webserver::openapi::ROUTES {
        let path: String = r
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(r.method.to_uppercase().as_bytes()).unwrap();
        let resp = h.call(method, &path, None, Body::empty()).await;
        assert_ne!(
            resp.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            r.method,
            r.path
        );
        assert!(
            !resp.text().contains("No route"),
            "{} {} is documented but not routed",
            r.method,
            r.path
        );
        assert!(
            resp.status.as_u16() < 500,
            "{} {}: {}",
            r.method,
            r.path,
            resp.text()
        );
        assert!(doc["paths"][r.path][r.method]["responses"].is_object());
        count += 1;
    }
    assert!(count >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_over_the_limit_are_413_and_leave_nothing() {
    let h = harness_with(|s| s.with_max_upload_bytes(64 * 1024)).await;
    h.deploy(UPLOAD).await;
    let big = vec![b'x'; 200 * 1024];
    let (ct, body) = multipart(&[("doc", Some("big.bin"), &big)]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/upload",
            Some(&ct),
            body,
        )
        .await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "");
    let left = h
        .platform
        .storage
        .list(&StorageKey::new("kite.api/upload").unwrap())
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    let search = h
        .get("/api/v1/executions/search?namespace=kite.api")
        .await
        .json();
    assert_eq!(search["total"], 0);
    // Under the limit it works.
    let (ct, body) = multipart(&[("doc", Some("small.txt"), b"small")]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/upload?wait=true",
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(output(&r.json(), "echo"), "small");
}

const FLAKY: &str = "id: flaky\nnamespace: kite.api\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n  - id: flaky\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.attemptsCount == 1 ? 'ok' : missing }}\"\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.first.value }}-last\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_replay_and_change_state() {
    let h = harness().await;
    h.deploy(FLAKY).await;
    let e = h
        .execute_json("flaky", "?wait=true", json!({}))
        .await
        .json();
    assert_eq!(e["state"]["current"], "FAILED", "{e:#}");
    let id = e["id"].as_str().unwrap().to_owned();

    // Restart: same execution, a second attempt of the failed run, then `last` runs.
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/restart"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let done = h.until_state(&id, "SUCCESS").await;
    let runs = done["taskRunList"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(output(&done, "last"), "one-last");
    // A SUCCESS execution cannot be restarted.
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/restart"),
            None,
            Body::empty(),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "cannot be restarted");

    // Replay from the last task run: a new execution keeping `first` as it was.
    let last = runs[2]["id"].as_str().unwrap();
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/replay?taskRunId={last}"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let replay = r.json();
    let rid = replay["id"].as_str().unwrap().to_owned();
    assert_ne!(rid, id);
    assert_eq!(replay["parentId"], id.as_str());
    let replayed = h.until_state(&rid, "SUCCESS").await;
    assert_eq!(replayed["taskRunList"].as_array().unwrap().len(), 3);
    assert_eq!(output(&replayed, "last"), "one-last");
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/replay?taskRunId=nope"),
            None,
            Body::empty(),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "nope");

    // Change state: a fresh failure forced to SUCCESS lets the execution go on.
    let e = h
        .execute_json("flaky", "?wait=true", json!({}))
        .await
        .json();
    let id = e["id"].as_str().unwrap().to_owned();
    let failed = e["taskRunList"][1]["id"].as_str().unwrap().to_owned();
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/state"),
            Some("application/json"),
            json!({"taskRunId": failed, "state": "SUCCESS"}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let done = h.until_state(&id, "SUCCESS").await;
    assert_eq!(done["taskRunList"][1]["state"]["current"], "SUCCESS");
    assert_eq!(done["taskRunList"].as_array().unwrap().len(), 3);
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/state"),
            Some("application/json"),
            json!({"taskRunId": failed, "state": "RUNNING"}).to_string(),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "terminal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_and_pause_timeout_through_the_api() {
    let h = harness().await;
    // A Pause holds the slot until the test resumes it: an explicit signal, where a short
    // real Sleep could end before the second execution is created on a loaded machine.
    h.deploy("id: one_at_a_time\nnamespace: kite.api\nconcurrency:\n  limit: 1\n  behavior: QUEUE\ntasks:\n  - id: gate\n    type: io.kestra.plugin.core.flow.Pause\n")
        .await;
    let h = &h;
    let resume = |id: String| async move {
        h.until_state(&id, "PAUSED").await;
        let r = h
            .call(
                Method::POST,
                &format!("/api/v1/executions/{id}/resume"),
                Some("application/json"),
                "{}",
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        h.until_state(&id, "SUCCESS").await
    };
    let a = h.execute_json("one_at_a_time", "", json!({})).await.json();
    let a = a["id"].as_str().unwrap().to_owned();
    h.until_state(&a, "PAUSED").await;
    let b = h.execute_json("one_at_a_time", "", json!({})).await.json();
    let b = b["id"].as_str().unwrap().to_owned();
    h.until_state(&b, "QUEUED").await;
    let a = resume(a).await;
    let b = resume(b).await;
    let states: Vec<&str> = b["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["state"].as_str().unwrap())
        .collect();
    assert_eq!(states[..3], ["CREATED", "QUEUED", "RUNNING"]);
    let date = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let a_end = date(&a["state"]["endDate"]);
    let b_start = date(&b["state"]["histories"][2]["date"]);
    assert!(
        b_start >= a_end,
        "the second started at {b_start}, before the first ended at {a_end}"
    );

    h.deploy("id: short_pause\nnamespace: kite.api\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    timeout: PT0.3S\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: never\n")
        .await;
    let p = h.execute_json("short_pause", "", json!({})).await.json();
    let p = p["id"].as_str().unwrap().to_owned();
    let failed = h.until_state(&p, "FAILED").await;
    assert_eq!(failed["taskRunList"].as_array().unwrap().len(), 1);
    assert_eq!(failed["taskRunList"][0]["state"]["current"], "FAILED");

    // Date filters of the search.
    let r = h.get("/api/v1/executions/search?namespace=kite.api&flowId=short_pause&startDate=2000-01-01T00:00:00Z").await;
    assert_eq!(r.json()["total"], 1, "{}", r.text());
    let r = h.get("/api/v1/executions/search?namespace=kite.api&flowId=short_pause&endDate=2000-01-01T00:00:00Z").await;
    assert_eq!(r.json()["total"], 0, "{}", r.text());
    let r = h.get("/api/v1/executions/search?startDate=yesterday").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "startDate");
}

/// Issue 8 item 7 through the API. With the namespace's dots as folders, a flow of
/// namespace `kite.api.upload.executions` named after an execution of `kite.api`/`upload`
/// had that execution's folder as its own: a FILE input of it could name the other
/// execution's upload (and `read()` it), and its uploads showed up among that execution's
/// files. Keys now keep the namespace in one segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_namespace_built_to_collide_reaches_no_other_execution_files() {
    let h = harness().await;
    h.deploy(UPLOAD).await;
    let (ct, body) = multipart(&[("doc", Some("notes.txt"), b"victim's notes")]);
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/upload?wait=true",
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let victim = r.json();
    let victim_id = victim["id"].as_str().unwrap().to_owned();
    let victim_uri = victim["inputs"]["doc"].as_str().unwrap().to_owned();

    let attacker_ns = "kite.api.upload.executions";
    h.deploy(&format!(
        "id: {victim_id}\nnamespace: {attacker_ns}\ninputs:\n  - id: doc\n    type: FILE\ntasks:\n  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read(inputs.doc) }}}}\"\n"
    ))
    .await;
    // The victim's upload cannot be given as the attacker's FILE input.
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{attacker_ns}/{victim_id}?wait=true"),
            Some("application/json"),
            Body::from(json!({ "doc": victim_uri }).to_string()),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "inputs.doc");

    // The attacker's own upload is not a file of the victim's execution.
    let (ct, body) = multipart(&[("doc", Some("planted.txt"), b"planted")]);
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/executions/{attacker_ns}/{victim_id}?wait=true"),
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let attacker = r.json();
    assert_eq!(output(&attacker, "echo"), "planted");
    let planted = attacker["inputs"]["doc"].as_str().unwrap().to_owned();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let r = h
        .get(&format!(
            "/api/v1/executions/{victim_id}/file?path={}",
            enc(&planted)
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{planted}: {}", r.text());

    // The victim's own file, and one stored under the earlier layout, are served.
    let legacy = StorageKey::new(format!(
        "kite/api/upload/executions/{victim_id}/inputs/doc/old.txt"
    ))
    .unwrap();
    h.platform
        .storage
        .put(&legacy, Bytes::from_static(b"old layout"))
        .await
        .unwrap();
    for (uri, content) in [
        (victim_uri.as_str(), &b"victim's notes"[..]),
        (legacy.to_uri().as_str(), &b"old layout"[..]),
    ] {
        let r = h
            .get(&format!(
                "/api/v1/executions/{victim_id}/file?path={}",
                enc(uri)
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
        assert_eq!(&r.body[..], content);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_are_paged_with_page_and_size_and_the_total_in_a_header() {
    let h = harness().await;
    h.deploy(CHATTY).await;
    let e = h.execute_json("chatty", "", json!({})).await.json();
    let id = e["id"].as_str().unwrap().to_owned();
    let ended = h.until_state(&id, "SUCCESS").await;
    let start: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(ended["state"]["startDate"].clone()).unwrap();
    // 25 lines of a task `extra`, in three appends.
    let extra: Vec<kite_engine::model::LogEntry> = (0..25)
        .map(|i| kite_engine::model::LogEntry {
            namespace: NS.into(),
            flow_id: "chatty".into(),
            task_id: Some("extra".into()),
            execution_id: id.clone(),
            task_run_id: None,
            attempt_number: None,
            timestamp: start + chrono::Duration::milliseconds(i),
            level: kite_flow::plugin::LogLevel::Info,
            thread: "worker".into(),
            message: format!("line {i}"),
        })
        .collect();
    for part in extra.chunks(10) {
        h.platform.repos.logs.append(part).await.unwrap();
    }
    let page = |r: &Reply| -> Vec<String> {
        r.json()
            .as_array()
            .unwrap_or_else(|| panic!("a plain array: {}", r.text()))
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let total = |r: &Reply| r.headers["x-total-count"].to_str().unwrap().to_owned();
    let second = h
        .get(&format!("/api/v1/logs/{id}?taskId=extra&page=2&size=10"))
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    assert_eq!(total(&second), "25");
    assert_eq!(
        page(&second),
        (10..20).map(|i| format!("line {i}")).collect::<Vec<_>>()
    );
    let third = h
        .get(&format!("/api/v1/logs/{id}?taskId=extra&page=3&size=10"))
        .await;
    assert_eq!(page(&third).len(), 5);
    let past = h
        .get(&format!("/api/v1/logs/{id}?taskId=extra&page=9&size=10"))
        .await;
    assert!(page(&past).is_empty());
    assert_eq!(total(&past), "25");
    // `size` alone is the first page; no paging parameter: every line (existing callers).
    let first = h
        .get(&format!("/api/v1/logs/{id}?taskId=extra&size=3"))
        .await;
    assert_eq!(page(&first), ["line 0", "line 1", "line 2"]);
    let extra_only = h.get(&format!("/api/v1/logs/{id}?taskId=extra")).await;
    assert_eq!(page(&extra_only).len(), 25);
    assert_eq!(total(&extra_only), "25");
    // The execution's own lines too (the last ones may still be on their way).
    let all = h.get(&format!("/api/v1/logs/{id}")).await;
    assert!(page(&all).len() >= 28, "{:?}", page(&all));
    assert_eq!(total(&all), page(&all).len().to_string());
    for bad in ["size=0", "size=10001", "page=0", "page=x"] {
        let r = h.get(&format!("/api/v1/logs/{id}?{bad}")).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
    }
    // The download streams every line.
    let download = h
        .get(&format!("/api/v1/logs/{id}/download?taskId=extra"))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    let text = download.text();
    assert_eq!(text.lines().count(), 25, "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .ends_with("INFO [extra] line 24"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_inputs_are_capped_like_multipart_parts_with_a_413() {
    let h = harness().await;
    h.deploy(GREET).await;
    // One value over the 1 MiB of a multipart text part.
    let big = "x".repeat(1024 * 1024 + 1);
    let r = h
        .execute_json("greet", "", json!({"name": big, "count": 1}))
        .await;
    let body = assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "over 1048576 bytes");
    assert!(body.to_string().contains("inputs.name"), "{body}");
    // Nested values count as a whole.
    let nested =
        json!({"name": "n", "other": {"deep": ["y".repeat(600 * 1024), "y".repeat(600 * 1024)]}});
    let r = h.execute_json("greet", "", nested).await;
    assert_error(
        &r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Invalid input for `other`",
    );
    // A body over 4 MiB is refused before it is parsed.
    let parts: serde_json::Map<String, Value> = (0..5)
        .map(|i| (format!("v{i}"), Value::String("z".repeat(1000 * 1024))))
        .collect();
    let r = h.execute_json("greet", "", Value::Object(parts)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "at most 4194304 bytes");
    // Form bodies are refused whatever their size (a foreign page can send them).
    let r = h
        .call(
            Method::POST,
            "/api/v1/executions/kite.api/greet",
            Some("application/x-www-form-urlencoded"),
            format!("name={big}"),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "multipart/form-data",
    );
    // Small inputs still work.
    let ok = h.execute_json("greet", "", json!({"name": "kite"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

/// On a manual clock, so "until then" does not depend on how fast the machine is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_execution_with_a_schedule_date_stays_created_until_then() {
    use kite_ports::Clock;
    let clock = kite_ports::ManualClock::new(kite_ports::contract::start_time());
    let h = harness_on(Arc::new(clock.clone()), |s| s).await;
    h.deploy(GREET).await;
    let at = clock.now() + chrono::Duration::minutes(5);
    let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = h
        .execute_json(
            "greet",
            &format!("?scheduleDate={}", at_text.replace('+', "%2B")),
            json!({"name": "Later"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let created = r.json();
    assert_eq!(created["state"]["current"], "CREATED");
    let id = created["id"].as_str().unwrap().to_owned();
    // Its start waits on the timer queue until the clock reaches `at`.
    let timers = &h.platform.names.timers;
    assert_eq!(h.platform.queue.approximate_len(timers).await.unwrap(), 1);
    let e = h.get(&format!("/api/v1/executions/{id}")).await.json();
    assert_eq!(
        e["state"]["current"], "CREATED",
        "not before its date: {e:#}"
    );
    clock.advance(Duration::from_secs(5 * 60));
    assert!(e["scheduleDate"].is_string(), "{e:#}");
    let ended = h.until_state(&id, "SUCCESS").await;
    let started = ended["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "RUNNING")
        .and_then(|s| s["date"].as_str())
        .map(|d| chrono::DateTime::parse_from_rfc3339(d).unwrap())
        .expect("a RUNNING date");
    assert!(started >= at, "started at {started}, scheduled for {at}");
}
