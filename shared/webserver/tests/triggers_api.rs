//! `/api/v1/triggers` at the router level over an in-memory platform on a manual clock,
//! ticked explicitly: every route needs credentials, search and per-flow listings in
//! Kestra's shapes (filters, pages, sort), disable/enable, backfills created, paused,
//! resumed and deleted through the API and run by the tick, unlock, the bulk disable, and
//! the errors (unknown trigger 404, bad backfill 422 with a message, 409, 415).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use kite_engine::services::{Platform, QueueNames};
use kite_engine::triggers::TickConfig;
use kite_ports::{Clock, ManualClock, MemoryDocuments, MemoryQueue, MemoryStorage};
use kite_webserver::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "trigger-token";

const HOURLY: &str = r#"id: hourly
namespace: kite.trig
inputs:
  - id: when
    type: STRING
  - id: mode
    type: STRING
    defaults: regular
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.mode }} {{ inputs.when }}"
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    stopAfter:
      - FAILED
    inputs:
      when: "{{ trigger.date }}"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: trigger-api-hook
"#;

const DAILY: &str = r#"id: other
namespace: kite.trig.sub
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: daily
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 6 * * *"
    disabled: true
"#;

struct Harness {
    app: Router,
    platform: Arc<Platform>,
    clock: ManualClock,
    _work: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00.250Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Backfills fire at most 3 dates per tick here, so a pause shows mid-way.
async fn harness() -> Harness {
    let clock = ManualClock::new(start());
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let work = tempfile::tempdir().unwrap();
    let platform = Platform::on_ports(
        Arc::new(MemoryQueue::new(c.clone())),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryDocuments::new(c.clone())),
        c,
        QueueNames::with_prefix("trig-"),
        work.path().to_owned(),
    )
    .with_tick_config(TickConfig {
        max_per_trigger: 3,
        ..TickConfig::local()
    });
    platform.ensure_queues().await.unwrap();
    let platform = Arc::new(platform);
    let app = router(AppState::new(platform.clone()).with_token(TOKEN));
    let h = Harness {
        app,
        platform,
        clock,
        _work: work,
    };
    for source in [HOURLY, DAILY] {
        let r = h
            .call(
                Method::POST,
                "/api/v1/flows",
                Some("application/x-yaml"),
                source,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
    h
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

    async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        self.send(b.body(body.into()).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None, Body::empty()).await
    }

    async fn json(&self, method: Method, uri: &str, body: Value) -> Reply {
        self.call(method, uri, Some("application/json"), body.to_string())
            .await
    }

    async fn search(&self, query: &str) -> Value {
        let r = self.get(&format!("/api/v1/triggers/search?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.message());
        r.json()
    }

    /// The context of one trigger, from the search.
    async fn context(&self, flow: &str, trigger: &str) -> Value {
        let page = self.search(&format!("flowId={flow}&size=100")).await;
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["triggerContext"].clone())
            .find(|c| c["triggerId"] == trigger)
            .unwrap_or_else(|| panic!("no trigger {flow}.{trigger} in {page}"))
    }

    /// Advances the clock a second and ticks: the executions created.
    async fn tick(&self) -> usize {
        self.clock.advance(Duration::from_secs(1));
        self.platform.tick().await.unwrap().triggers.created
    }

    async fn executions(&self) -> Vec<Value> {
        let r = self
            .get("/api/v1/executions/search?namespace=kite.trig&flowId=hourly&size=100")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()["results"].as_array().unwrap().clone()
    }
}

fn ctx(trigger: &str) -> Value {
    json!({"namespace": "kite.trig", "flowId": "hourly", "triggerId": trigger})
}

fn backfill_body(start: &str, end: &str) -> Value {
    let mut c = ctx("hourly");
    c["backfill"] = json!({"start": start, "end": end});
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_route_needs_credentials_and_is_documented() {
    let h = harness().await;
    let mut seen = 0;
    for r in kite_webserver::openapi::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/triggers"))
    {
        let path = r
            .path
            .replace("{namespace}", "kite.trig")
            .replace("{flowId}", "hourly")
            .replace("{triggerId}", "hourly");
        let method = Method::from_bytes(r.method.to_uppercase().as_bytes()).unwrap();
        let mut req = Request::builder().method(method.clone()).uri(&path);
        if !r.body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = if r.body.is_empty() {
            Body::empty()
        } else {
            Body::from(ctx("hourly").to_string())
        };
        let reply = h.send(req.body(body).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert!(!r.public);
        seen += 1;
    }
    assert_eq!(
        seen, 8,
        "search, per flow, update, unlock, pause, unpause, delete, bulk"
    );
    let doc = h.get("/api/v1/openapi.json").await.json();
    assert!(doc["paths"]["/api/v1/triggers/search"]["get"].is_object());
    assert!(doc["components"]["schemas"]["TriggerContext"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pairs_each_definition_with_its_state_in_kestras_shape() {
    let h = harness().await;
    let page = h.search("").await;
    assert_eq!(page["total"], 3);
    let results = page["results"].as_array().unwrap();
    let ids: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["triggerContext"]["flowId"].as_str().unwrap(),
                r["triggerContext"]["triggerId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [("hourly", "hook"), ("hourly", "hourly"), ("other", "daily")],
        "by namespace, flow, trigger"
    );
    let hourly = &results[1];
    assert_eq!(hourly["abstractTrigger"]["id"], "hourly");
    assert_eq!(
        hourly["abstractTrigger"]["type"],
        "io.kestra.plugin.core.trigger.Schedule"
    );
    assert_eq!(hourly["abstractTrigger"]["cron"], "0 * * * *");
    let c = &hourly["triggerContext"];
    assert_eq!(c["namespace"], "kite.trig");
    assert_eq!(c["nextExecutionDate"], "2026-03-01T11:00:00Z");
    assert_eq!(c["disabled"], false);
    assert_eq!(c["stopAfter"], json!(["FAILED"]));
    assert!(c["updatedDate"].is_string());
    assert!(c.get("backfill").is_none() && c.get("executionId").is_none());
    for internal in ["fingerprint", "memory", "flowRevision", "definedDisabled"] {
        assert!(c.get(internal).is_none(), "{internal} is Kite's own");
    }
    let daily = &results[2]["triggerContext"];
    assert_eq!(daily["disabled"], true, "disabled in its definition");

    // Filters, pages and sort.
    assert_eq!(h.search("namespace=kite.trig.sub").await["total"], 1);
    assert_eq!(
        h.search("namespace=kite.trig").await["total"],
        3,
        "a prefix"
    );
    assert_eq!(h.search("namespace=kite.none").await["total"], 0);
    assert_eq!(h.search("flowId=hourly").await["total"], 2);
    assert_eq!(h.search("q=HOOK").await["total"], 1);
    let p2 = h.search("size=1&page=2").await;
    assert_eq!(p2["total"], 3);
    assert_eq!(p2["results"][0]["triggerContext"]["triggerId"], "hourly");
    let desc = h.search("sort=triggerId:desc").await;
    assert_eq!(desc["results"][0]["triggerContext"]["triggerId"], "hourly");
    assert_eq!(desc["results"][2]["triggerContext"]["triggerId"], "daily");
    for bad in ["sort=color:asc", "sort=triggerId:up", "page=0", "size=x"] {
        let r = h.get(&format!("/api/v1/triggers/search?{bad}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(!r.message().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triggers_of_one_flow() {
    let h = harness().await;
    let r = h.get("/api/v1/triggers/kite.trig/hourly").await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.json();
    assert_eq!(page["total"], 2);
    assert_eq!(page["results"][0]["triggerId"], "hook");
    assert_eq!(page["results"][1]["triggerId"], "hourly");
    assert_eq!(page["results"][1]["flowId"], "hourly");
    let r = h.get("/api/v1/triggers/kite.trig/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.message().contains("kite.trig.nope"), "{}", r.message());
    let r = h.get("/api/v1/triggers/bad..ns/hourly").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_disables_and_enables_a_trigger_at_once() {
    let h = harness().await;
    let mut body = ctx("hourly");
    body["disabled"] = json!(true);
    let r = h.json(Method::PUT, "/api/v1/triggers", body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());
    assert_eq!(r.json()["disabled"], true);
    assert_eq!(h.context("hourly", "hourly").await["disabled"], true);
    // Two hours: nothing fires.
    for _ in 0..2 {
        h.clock.advance(Duration::from_secs(3600));
        assert_eq!(h.platform.tick().await.unwrap().triggers.created, 0);
    }
    body["disabled"] = json!(false);
    let r = h.json(Method::PUT, "/api/v1/triggers", body).await;
    assert_eq!(r.status, StatusCode::OK);
    let c = r.json();
    assert_eq!(c["disabled"], false);
    assert_eq!(
        c["nextExecutionDate"], "2026-03-01T13:00:00Z",
        "from now on"
    );
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.platform.tick().await.unwrap().triggers.created, 1);

    // A trigger disabled in its definition, enabled by an operator.
    let r = h
        .json(
            Method::PUT,
            "/api/v1/triggers",
            json!({"namespace": "kite.trig.sub", "flowId": "other", "triggerId": "daily", "disabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["disabled"], false);
    assert_eq!(r.json()["nextExecutionDate"], "2026-03-02T06:00:00Z");

    // A body with neither: the context as it is.
    let r = h.json(Method::PUT, "/api/v1/triggers", ctx("hook")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["triggerId"], "hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_created_through_the_api_runs_paused_resumed_and_deleted() {
    let h = harness().await;
    let mut body = backfill_body("2026-02-28T00:00:00Z", "2026-02-28T09:00:00Z");
    body["backfill"]["inputs"] = json!({"mode": "replay"});
    body["backfill"]["labels"] = json!([{"key": "run", "value": "api"}]);
    let r = h.json(Method::PUT, "/api/v1/triggers", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());
    let c = r.json();
    let b = &c["backfill"];
    assert_eq!(b["start"], "2026-02-28T00:00:00Z");
    assert_eq!(b["end"], "2026-02-28T09:00:00Z");
    assert_eq!(b["paused"], false);
    assert_eq!(b["created"], "2026-03-01T10:00:00.250Z");
    assert_eq!(b["inputs"]["mode"], "replay");

    // Sending the context back (its backfill has `created`) starts nothing new.
    let r = h.json(Method::PUT, "/api/v1/triggers", c.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());

    assert_eq!(h.tick().await, 3);
    let r = h
        .json(
            Method::PUT,
            "/api/v1/triggers/backfill/pause",
            ctx("hourly"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());
    assert_eq!(r.json()["backfill"]["paused"], true);
    assert_eq!(r.json()["backfill"]["currentDate"], "2026-02-28T03:00:00Z");
    for _ in 0..3 {
        assert_eq!(h.tick().await, 0, "paused");
    }
    let r = h
        .json(
            Method::PUT,
            "/api/v1/triggers/backfill/unpause",
            ctx("hourly"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["backfill"]["paused"], false);
    assert_eq!(h.tick().await, 3);
    let r = h
        .json(
            Method::POST,
            "/api/v1/triggers/backfill/delete",
            ctx("hourly"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().get("backfill").is_none());
    for _ in 0..3 {
        assert_eq!(h.tick().await, 0, "deleted");
    }
    let execs = h.executions().await;
    assert_eq!(execs.len(), 6);
    for e in &execs {
        assert_eq!(e["inputs"]["mode"], "replay");
        let labels = e["labels"].as_array().unwrap();
        assert!(labels.contains(&json!({"key": "run", "value": "api"})));
        assert!(labels.contains(&json!({"key": "system.backfill", "value": "true"})));
    }

    // Nothing left to pause or resume: 409; deleting again is harmless.
    for path in [
        "/api/v1/triggers/backfill/pause",
        "/api/v1/triggers/backfill/unpause",
    ] {
        let r = h.json(Method::PUT, path, ctx("hourly")).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{path}");
        assert!(r.message().contains("no backfill"), "{}", r.message());
    }
    let r = h
        .json(
            Method::POST,
            "/api/v1/triggers/backfill/delete",
            ctx("hourly"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_shows_what_started_it_and_unlock_forgets_it() {
    let h = harness().await;
    let r = h
        .json(
            Method::PUT,
            "/api/v1/triggers",
            backfill_body("2026-02-28T05:00:00Z", "2026-02-28T05:00:00.001Z"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());
    assert_eq!(h.tick().await, 1);
    let c = h.context("hourly", "hourly").await;
    let id = c["executionId"]
        .as_str()
        .expect("the last execution")
        .to_owned();
    let e = h.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(e.status, StatusCode::OK);
    let t = &e.json()["trigger"];
    assert_eq!(t["id"], "hourly");
    assert_eq!(t["type"], "io.kestra.plugin.core.trigger.Schedule");
    assert_eq!(t["variables"]["date"], "2026-02-28T05:00:00Z");
    assert_eq!(t["variables"]["next"], "2026-02-28T06:00:00Z");

    let r = h
        .call(
            Method::POST,
            "/api/v1/triggers/kite.trig/hourly/hourly/unlock",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());
    assert!(r.json().get("executionId").is_none());
    assert!(
        h.context("hourly", "hourly")
            .await
            .get("executionId")
            .is_none()
    );
    let r = h
        .call(
            Method::POST,
            "/api/v1/triggers/kite.trig/hourly/nope/unlock",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.message().contains("kite.trig.hourly.nope"),
        "{}",
        r.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_disabled_by_triggers_counts_the_triggers_changed() {
    let h = harness().await;
    let body = json!({
        "triggers": [
            ctx("hourly"),
            {"namespace": "kite.trig.sub", "flowId": "other", "triggerId": "daily"},
            ctx("unknown"),
        ],
        "disabled": true,
    });
    let r = h
        .json(
            Method::POST,
            "/api/v1/triggers/set-disabled/by-triggers",
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.message());
    assert_eq!(r.json(), json!({"count": 2}));
    assert_eq!(h.context("hourly", "hourly").await["disabled"], true);
    assert_eq!(h.context("hourly", "hook").await["disabled"], false);
    let r = h
        .json(
            Method::POST,
            "/api/v1/triggers/set-disabled/by-triggers",
            json!({"triggers": [ctx("hourly")], "disabled": false}),
        )
        .await;
    assert_eq!(r.json()["count"], 1);
    assert_eq!(h.context("hourly", "hourly").await["disabled"], false);
    for bad in [
        json!({"triggers": [ctx("hourly")]}),
        json!({"disabled": true}),
        json!({"triggers": [{"namespace": "kite.trig"}], "disabled": true}),
    ] {
        let r = h
            .json(
                Method::POST,
                "/api/v1/triggers/set-disabled/by-triggers",
                bad.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_get_clear_answers() {
    let h = harness().await;
    let hr = &h;
    let put = |body: Value| async move { hr.json(Method::PUT, "/api/v1/triggers", body).await };

    // Unknown trigger, flow: 404.
    let mut body = ctx("nope");
    body["disabled"] = json!(true);
    let r = put(body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.message().contains("kite.trig.hourly.nope"),
        "{}",
        r.message()
    );
    let r = put(json!({"namespace": "kite.trig", "flowId": "ghost", "triggerId": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for path in [
        "/api/v1/triggers/backfill/pause",
        "/api/v1/triggers/backfill/unpause",
    ] {
        assert_eq!(
            h.json(Method::PUT, path, ctx("nope")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        h.json(
            Method::POST,
            "/api/v1/triggers/backfill/delete",
            ctx("nope")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Bad backfills: 422 saying why.
    for (body, says) in [
        (
            backfill_body("2026-02-28T09:00:00Z", "2026-02-28T00:00:00Z"),
            "must be before",
        ),
        (
            backfill_body("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"),
            "in the future",
        ),
        (
            backfill_body("yesterday", "2026-02-28T00:00:00Z"),
            "not an ISO-8601",
        ),
        (
            {
                let mut b = ctx("hook");
                b["backfill"] = json!({"start": "2026-02-28T00:00:00Z"});
                b
            },
            "only for Schedule triggers",
        ),
        (
            {
                let mut b = backfill_body("2026-02-28T00:00:00Z", "2026-02-28T01:00:00Z");
                b["backfill"]["inputs"] = json!({"ghost": 1});
                b
            },
            "no input `ghost`",
        ),
        (
            {
                let mut b = ctx("hourly");
                b["backfill"] = json!({"end": "2026-02-28T01:00:00Z"});
                b
            },
            "start is required",
        ),
    ] {
        let r = put(body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(r.message().contains(says), "{says}: {}", r.message());
        assert_eq!(
            r.json()["field"].as_str().unwrap_or("").split('.').next(),
            Some("backfill")
        );
    }

    // One backfill at a time: 409.
    let ok = backfill_body("2026-02-28T00:00:00Z", "2026-02-28T01:00:00Z");
    assert_eq!(put(ok.clone()).await.status, StatusCode::OK);
    let r = put(ok).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.message().contains("already runs a backfill"),
        "{}",
        r.message()
    );

    // Bodies that are not a trigger context.
    for (body, ct, status) in [
        ("", "application/json", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "not json",
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("[1]", "application/json", StatusCode::UNPROCESSABLE_ENTITY),
        (
            r#"{"namespace": "kite.trig", "flowId": "hourly"}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"namespace": "kite.trig", "flowId": "hourly", "triggerId": "hourly", "disabled": "yes"}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"namespace": "kite.trig", "flowId": "hourly", "triggerId": "hourly"}"#,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let r = h
            .call(Method::PUT, "/api/v1/triggers", Some(ct), body.to_owned())
            .await;
        assert_eq!(r.status, status, "{body}");
        assert!(!r.message().is_empty(), "{body}");
    }
}
