//! `io.kestra.plugin.core.http.Trigger` against a local HTTP server, on explicit ticks of a
//! manual clock: it polls every `interval`, fires once per matching poll with the response
//! as `trigger.*`, applies a custom `responseCondition`, fires once per due date with two
//! schedulers, encrypts the body with `encryptBody`, retries a failed request after the
//! interval, and `stopAfter` disables it when its execution ends so.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kite_engine::crypto::{ENCRYPTED_TYPE, EncryptionKey};
use kite_engine::model::Execution;
use kite_engine::services::Platform;
use kite_engine::services::poller::{self, Component, PollerConfig};
use kite_ports::{Clock, DocumentStore, ManualClock, MemoryDocuments};
use tokio::sync::watch;

const NS: &str = "kite.tests.http";

/// What the endpoint answers, and what it was asked.
#[derive(Debug, Clone)]
struct Endpoint(Arc<Mutex<Answer>>);

#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
    /// (query, `X-Flow` header) of each request.
    requests: Vec<(String, String)>,
}

impl Endpoint {
    fn answer(&self, status: u16, body: &str) {
        let mut a = self.0.lock().unwrap();
        a.status = status;
        a.body = body.to_owned();
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().requests.clone()
    }
}

async fn status(
    State(ep): State<Endpoint>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    let mut a = ep.0.lock().unwrap();
    let flow = headers
        .get("x-flow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    a.requests
        .push((uri.query().unwrap_or_default().to_owned(), flow));
    (
        StatusCode::from_u16(a.status).unwrap(),
        [("X-Mode", "on")],
        a.body.clone(),
    )
}

/// Starts the endpoint; its URL is `http://127.0.0.1:PORT/status`.
async fn endpoint() -> (String, Endpoint) {
    let ep = Endpoint(Arc::new(Mutex::new(Answer {
        status: 200,
        body: String::new(),
        requests: Vec::new(),
    })));
    let app = Router::new()
        .route("/status", axum::routing::any(status))
        .with_state(ep.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/status", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, ep)
}

fn flow(url: &str, extra: &str) -> String {
    format!(
        r#"
id: poll
namespace: kite.tests.http
tasks:
  - id: check
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.code }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.core.http.Trigger
    uri: "{url}?flow={{{{ flow.id }}}}"
    headers:
      X-Flow: "{{{{ flow.namespace }}}}"
    interval: PT10S
{extra}"#
    )
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn platform(clock: &ManualClock, key: Option<&str>) -> (Arc<Platform>, tempfile::TempDir) {
    platform_on(clock, key, None).await
}

async fn platform_on(
    clock: &ManualClock,
    key: Option<&str>,
    docs: Option<Arc<dyn DocumentStore>>,
) -> (Arc<Platform>, tempfile::TempDir) {
    let mut setup = support::Setup::new()
        .clock(Arc::new(clock.clone()))
        .pollers(None);
    if let Some(d) = docs {
        setup = setup.documents(d);
    }
    if let Some(k) = key {
        let key = EncryptionKey::parse(k).unwrap();
        setup = setup.runtime(move |rt| rt.with_encryption_key(key));
    }
    setup.platform().await
}

/// Runs the executor's poller only (no ticker: the test ticks).
fn run_executor(p: &Arc<Platform>) -> watch::Sender<bool> {
    let (stop, rx) = watch::channel(false);
    poller::spawn(
        p.clone(),
        Component::Executor,
        PollerConfig {
            wait: Duration::from_millis(50),
            ..PollerConfig::default()
        },
        rx,
    );
    stop
}

async fn executions(p: &Platform) -> Vec<Execution> {
    p.repos
        .executions
        .list(NS, Some("poll"), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.execution)
        .collect()
}

async fn tick(p: &Platform) -> kite_engine::triggers::tick::TriggerTick {
    p.tick().await.unwrap().triggers
}

async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_every_interval_and_fires_once_per_matching_poll() {
    let (url, ep) = endpoint().await;
    let clock = ManualClock::new(start());
    let (p, _work) = platform(&clock, None).await;
    support::deploy(&p, &flow(&url, "")).await;

    // Deployed: the first poll at once; a 503 is not < 400.
    ep.answer(503, "warming up");
    let r = tick(&p).await;
    assert_eq!((r.evaluated, r.created), (1, 0));
    assert_eq!(ep.requests().len(), 1);
    let (state, _) = p
        .repos
        .triggers
        .get(NS, "poll", "watch")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.state.date, Some(start()));
    assert_eq!(
        state.state.next_execution_date,
        Some(start() + chrono::Duration::seconds(10))
    );

    // Not due before the interval.
    clock.advance(Duration::from_secs(1));
    assert_eq!(tick(&p).await.evaluated, 0);
    assert_eq!(ep.requests().len(), 1);

    ep.answer(200, "ready");
    clock.advance(Duration::from_secs(9));
    assert_eq!(tick(&p).await.created, 1);
    assert_eq!(tick(&p).await.created, 0, "once per poll");
    assert_eq!(ep.requests().len(), 2);
    assert_eq!(
        ep.requests()[1],
        ("flow=poll".to_owned(), NS.to_owned()),
        "uri and headers rendered"
    );
    let e = executions(&p).await.remove(0);
    let t = e.trigger.expect("started by the trigger");
    assert_eq!(t.id, "watch");
    assert_eq!(t.kind, "io.kestra.plugin.core.http.Trigger");
    assert_eq!(t.variables["uri"], format!("{url}?flow=poll"));
    assert_eq!(t.variables["code"], 200);
    assert_eq!(t.variables["body"], "ready");
    assert_eq!(t.variables["headers"]["X-Mode"][0], "on");

    // The next matching poll starts another execution.
    clock.advance(Duration::from_secs(10));
    assert_eq!(tick(&p).await.created, 1);
    let all = executions(&p).await;
    assert_eq!(all.len(), 2);
    assert_ne!(all[0].id, all[1].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_condition_sees_the_status_body_and_headers() {
    let (url, ep) = endpoint().await;
    let clock = ManualClock::new(start());
    let (p, _work) = platform(&clock, None).await;
    let extra = "    responseCondition: \"{{ response.statusCode == 200 and json(response.body).price <= 110 and response.headers['X-Mode'][0] == 'on' }}\"\n";
    support::deploy(&p, &flow(&url, extra)).await;
    ep.answer(200, r#"{"price": 120}"#);
    assert_eq!(tick(&p).await.created, 0);
    ep.answer(500, r#"{"price": 100}"#);
    clock.advance(Duration::from_secs(10));
    assert_eq!(tick(&p).await.created, 0);
    ep.answer(200, r#"{"price": 100}"#);
    clock.advance(Duration::from_secs(10));
    assert_eq!(tick(&p).await.created, 1);
    assert_eq!(ep.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_fire_once_per_due_date() {
    let (url, ep) = endpoint().await;
    let clock = ManualClock::new(start());
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let docs: Arc<dyn DocumentStore> = Arc::new(MemoryDocuments::new(c));
    let (a, _work) = platform_on(&clock, None, Some(docs.clone())).await;
    // A second scheduler (its own caches) over the same store and queue.
    let b = Platform::on_ports(
        a.queue.clone(),
        a.storage.clone(),
        docs,
        Arc::new(clock.clone()),
        a.names.clone(),
        _work.path().to_owned(),
    );
    support::deploy(&a, &flow(&url, "")).await;
    ep.answer(200, "ok");
    let mut created = 0;
    for _ in 0..20 {
        clock.advance(Duration::from_secs(5));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        created += ra.unwrap().triggers.created + rb.unwrap().triggers.created;
    }
    // Due at 10:00:00 (seen at :05), then every 10 s from each poll: :05, :15 ... :95.
    let all = executions(&a).await;
    assert_eq!(all.len(), 10);
    assert_eq!(created, 10);
    let polls = ep.requests().len();
    assert!((10..=20).contains(&polls), "{polls} polls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_body_is_stored_encrypted_and_rendered_in_clear() {
    let (url, ep) = endpoint().await;
    let clock = ManualClock::new(start());
    let key = EncryptionKey::generate().unwrap();
    let (p, _work) = platform(&clock, Some(&key)).await;
    let source = flow(&url, "    encryptBody: true\n").replace(
        "format: \"{{ trigger.code }}\"",
        "format: \"{{ trigger.encryptedBody == 'top secret' }}\"",
    );
    support::deploy(&p, &source).await;
    ep.answer(200, "top secret");
    let stop = run_executor(&p);
    assert_eq!(tick(&p).await.created, 1);
    let id = executions(&p).await.remove(0).id;
    let e = wait_for("the execution ends", async || {
        p.execution(&id)
            .await
            .unwrap()
            .filter(|e| e.state.current.is_terminated())
    })
    .await;
    let _ = stop.send(true);
    let vars = &e.trigger.as_ref().unwrap().variables;
    assert!(vars.get("body").is_none());
    assert_eq!(vars["encryptedBody"]["type"], ENCRYPTED_TYPE);
    assert!(
        !serde_json::to_string(&e).unwrap().contains("top secret"),
        "never stored in clear"
    );
    let out = &e.task_run_list[0].outputs;
    assert_eq!(out["value"], "true", "decrypted into the render context");

    // Without a key, the trigger refuses to poll.
    let clock = ManualClock::new(start());
    let (p, _work) = platform(&clock, None).await;
    support::deploy(&p, &source).await;
    let r = tick(&p).await;
    assert_eq!((r.failed, r.created), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_request_is_retried_after_the_interval() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/status", l.local_addr().unwrap())
    };
    let clock = ManualClock::new(start());
    let (p, _work) = platform(&clock, None).await;
    support::deploy(&p, &flow(&closed, "")).await;
    let r = tick(&p).await;
    assert_eq!((r.failed, r.created), (1, 0));
    let (state, _) = p
        .repos
        .triggers
        .get(NS, "poll", "watch")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.state.next_execution_date,
        Some(start() + chrono::Duration::seconds(10))
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(tick(&p).await.evaluated, 0, "not before the interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_after_disables_the_trigger_once_its_execution_ends_so() {
    let (url, ep) = endpoint().await;
    let clock = ManualClock::new(start());
    let (p, _work) = platform(&clock, None).await;
    support::deploy(&p, &flow(&url, "    stopAfter:\n      - SUCCESS\n")).await;
    ep.answer(200, "done");
    let stop = run_executor(&p);
    assert_eq!(tick(&p).await.created, 1);
    let disabled = wait_for("stopAfter disables the trigger", async || {
        let (s, _) = p
            .repos
            .triggers
            .get(NS, "poll", "watch")
            .await
            .unwrap()
            .unwrap();
        (s.state.disabled == Some(true)).then_some(s)
    })
    .await;
    assert!(disabled.is_disabled());
    let e = executions(&p).await.remove(0);
    assert_eq!(e.state.current.to_string(), "SUCCESS");
    for _ in 0..3 {
        clock.advance(Duration::from_secs(10));
        assert_eq!(tick(&p).await.evaluated, 0, "off the tick");
    }
    assert_eq!(ep.requests().len(), 1);
    let _ = stop.send(true);

    // Enabled again by an operator: it polls at once.
    let t = kite_engine::triggers::control::TriggerRef {
        namespace: NS,
        flow_id: "poll",
        trigger_id: "watch",
    };
    kite_engine::triggers::control::set_disabled(&p, t, false)
        .await
        .unwrap();
    assert_eq!(tick(&p).await.created, 1);
    assert_eq!(ep.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_after_ignores_other_end_states() {
    let (url, ep) = endpoint().await;
    let clock = ManualClock::new(start());
    let (p, _work) = platform(&clock, None).await;
    support::deploy(&p, &flow(&url, "    stopAfter:\n      - FAILED\n")).await;
    ep.answer(200, "done");
    let stop = run_executor(&p);
    assert_eq!(tick(&p).await.created, 1);
    let id = executions(&p).await.remove(0).id;
    wait_for("the execution ends", async || {
        p.execution(&id)
            .await
            .unwrap()
            .filter(|e| e.state.current.is_terminated())
    })
    .await;
    let _ = stop.send(true);
    let (s, _) = p
        .repos
        .triggers
        .get(NS, "poll", "watch")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.state.disabled, None, "SUCCESS is not listed");
    clock.advance(Duration::from_secs(10));
    assert_eq!(tick(&p).await.created, 1);
}
