//! `GET|POST|PUT /api/v1/executions/webhook/{namespace}/{flowId}/{key}`: the
//! `io.kestra.plugin.core.trigger.Webhook` trigger.
//!
//! # Matching
//! The flow is the latest revision of `{namespace}.{flowId}`; among its Webhook triggers,
//! the first whose `key`, rendered with `flow.*` when it is an expression
//! (`{{ secret('WEBHOOK_KEY') }}`), equals the path's key (compared in constant time). An
//! unknown or disabled flow, no trigger with that key, and a trigger disabled (by its
//! definition, or by an operator through the trigger state, which overrides it) all get
//! the same 404 `{"message": "Flow not found"}`, so neither flows nor keys can be probed.
//!
//! # Variables
//! `trigger.body`: the body parsed as JSON when it parses (whatever the `Content-Type`),
//! else the text, `null` when empty; `trigger.headers`: lower-case name → list of values;
//! `trigger.parameters`: query-string name → list of values.
//!
//! # Answers
//! The trigger's `conditions` false (or not decidable: logged, as Kestra) → 204 without a
//! body. Otherwise the execution is created through [`kite_engine::triggers::fire`] and
//! the answer is 200 with the execution (Kestra's shape, as `POST /executions`); with
//! `wait: true`, once it has ended, and with `returnOutputs: true` its outputs map.
//! Inputs the flow requires without defaults make the execution impossible: 422.
//!
//! # Exactly once
//! Each request is one occurrence under a fresh random key, so each call starts one
//! execution. A caller that retries (a timeout, a lost answer) sends the same
//! `Idempotency-Key` header: the occurrence key is then derived from it (within the flow
//! and trigger), so every retry answers the one execution the first call created.
//!
//! # Security
//! A webhook is authenticated by its key, never by the API token: the `auth` layer lets
//! this route through ([`Route::public`](crate::openapi::Route::public)). The `guard` still
//! checks the `Host` (DNS rebinding), but not the Origin / `Sec-Fetch-Site` rule
//! ([`Route::cross_site`](crate::openapi::Route::cross_site)) nor the content type: that
//! rule stops a page from using the credentials a browser attaches by itself (cached
//! basic auth), and a webhook uses none — its only credential is the key in the URL,
//! which a page must know as any other caller must. Webhooks are called by other services
//! and other sites by design. No CORS header is sent, so a foreign page cannot read the
//! answer. Bodies are limited to [`MAX_BODY_BYTES`] (413 above).

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kite_engine::conditions::{ConditionContext, evaluate_all};
use kite_engine::model::ids;
use kite_engine::services::{Platform, ServiceError};
use kite_engine::triggers::{self, FireOutcome, Occurrence};
use kite_flow::plugin::Trigger;
use kite_flow::triggers::webhook::Webhook;

/// The trigger types this module serves (the behaviour guard test checks that every
/// registered trigger type is served by someone).
pub const TRIGGER_TYPES: &[&str] = &[<Webhook as kite_flow::plugin::PluginType>::TYPE];
use kite_flow::{Flow, property::is_expression};
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::params::{check_id, check_namespace};

/// Largest webhook body: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The header a caller sets to make retries start one execution.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Longest `Idempotency-Key` value.
const MAX_IDEMPOTENCY_KEY: usize = 256;

/// The one answer for an unknown flow, a disabled flow or trigger, and a wrong key.
fn not_found() -> ApiError {
    ApiError::not_found("Flow not found")
}

/// The handler (GET, POST and PUT).
pub(crate) async fn call(
    State(state): State<AppState>,
    Path((namespace, flow_id, key)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if check_namespace(&namespace).is_err() || check_id("flowId", &flow_id).is_err() {
        return Err(not_found());
    }
    let platform = state.platform().clone();
    let flow = match platform.load_flow(&namespace, &flow_id, None).await {
        Ok(f) => f,
        Err(ServiceError::FlowNotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if flow.disabled {
        return Err(not_found());
    }
    let variables = variables(&body, &headers, query.as_deref());
    let (flow, found) = decide(&platform, flow, key, variables).await?;
    let Some(Decision {
        trigger_index,
        variables,
        conditions_hold,
    }) = found
    else {
        return Err(not_found());
    };
    let trigger = &flow.triggers[trigger_index];
    if trigger_disabled(&platform, &flow, trigger).await? {
        return Err(not_found());
    }
    if !conditions_hold {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let occurrence_key = occurrence_key(&headers)?;
    let spec = trigger.spec::<Webhook>();
    let wait = spec.is_some_and(|w| w.wait);
    let return_outputs = spec.is_some_and(|w| w.return_outputs);
    let mut ended = platform.subscribe_ended();
    let occurrence = Occurrence::new(occurrence_key, variables);
    let execution = match triggers::fire(&platform, &flow, trigger, &occurrence)
        .await
        .map_err(ServiceError::from)?
    {
        FireOutcome::Created(e) => *e,
        FireOutcome::Existed(id) => crate::executions::load(&platform, &id).await?,
        FireOutcome::Refused(reason) => {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason));
        }
    };
    if !wait {
        return Ok(Json(execution).into_response());
    }
    let ended = crate::executions::until_ended(&state, &execution.id, &mut ended).await?;
    if return_outputs {
        Ok(Json(ended.outputs).into_response())
    } else {
        Ok(Json(ended).into_response())
    }
}

/// The trigger a call matched, and what its conditions said.
struct Decision {
    trigger_index: usize,
    variables: Map<String, Value>,
    conditions_hold: bool,
}

/// Finds the Webhook trigger of `flow` whose key is `key` and evaluates its conditions.
/// Keys and conditions that are expressions may call `secret()` or `kv()`, which block on
/// the store: they are decided on the blocking pool; literal keys without conditions here.
async fn decide(
    platform: &std::sync::Arc<Platform>,
    flow: Flow,
    key: String,
    variables: Map<String, Value>,
) -> Result<(Flow, Option<Decision>), ApiError> {
    let dynamic = flow.triggers.iter().any(|t| {
        t.spec::<Webhook>()
            .is_some_and(|w| w.key_is_expression() || !t.common.conditions.is_empty())
    });
    if !dynamic {
        let found = find_trigger(platform, &flow, &key);
        let decision = found.map(|trigger_index| Decision {
            trigger_index,
            variables,
            conditions_hold: true,
        });
        return Ok((flow, decision));
    }
    let platform = platform.clone();
    tokio::task::spawn_blocking(move || {
        let decision = find_trigger(&platform, &flow, &key).map(|trigger_index| {
            let conditions_hold =
                conditions_hold(&platform, &flow, &flow.triggers[trigger_index], &variables);
            Decision {
                trigger_index,
                variables,
                conditions_hold,
            }
        });
        (flow, decision)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("webhook matching stopped: {e}"),
        )
    })
}

/// The index of the first Webhook trigger of `flow` whose rendered key is `key`.
fn find_trigger(platform: &Platform, flow: &Flow, key: &str) -> Option<usize> {
    let mut context = None;
    let mut found = None;
    for (i, t) in flow.triggers.iter().enumerate() {
        let Some(w) = t.spec::<Webhook>() else {
            continue;
        };
        let expected = if is_expression(&w.key) {
            let ctx = context
                .get_or_insert_with(|| triggers::fire::render_context(platform, flow, &Map::new()));
            match platform.rt.engine.render(&w.key, ctx) {
                Ok(k) => k,
                Err(e) => {
                    tracing::warn!(
                        namespace = %flow.namespace, flow = %flow.id, trigger = %t.id,
                        "the webhook key does not render: {e}"
                    );
                    continue;
                }
            }
        } else {
            w.key.clone()
        };
        // Every trigger is compared (no early exit), each in constant time.
        if crate::auth::constant_time_eq(expected.as_bytes(), key.as_bytes()) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// Whether `trigger`'s conditions hold for a call with `variables`; a condition that
/// cannot be decided counts as false (logged), as in Kestra.
fn conditions_hold(
    platform: &Platform,
    flow: &Flow,
    trigger: &Trigger,
    variables: &Map<String, Value>,
) -> bool {
    if trigger.common.conditions.is_empty() {
        return true;
    }
    let cx = ConditionContext {
        rt: &platform.rt,
        now: platform.clock.now(),
        flow,
        trigger: variables,
        execution: None,
    };
    match evaluate_all(&trigger.common.conditions, &cx) {
        Ok(holds) => holds,
        Err(e) => {
            tracing::warn!(
                namespace = %flow.namespace, flow = %flow.id, trigger = %trigger.id,
                "webhook conditions cannot be decided, no execution: {e}"
            );
            false
        }
    }
}

/// Whether the trigger is disabled: the operator's override in its state, else its
/// definition.
async fn trigger_disabled(
    platform: &Platform,
    flow: &Flow,
    trigger: &Trigger,
) -> Result<bool, ApiError> {
    let stored = platform
        .repos
        .triggers
        .get(&flow.namespace, &flow.id, &trigger.id)
        .await?;
    Ok(match stored {
        Some((s, _)) => s.state.is_disabled(trigger.common.disabled),
        None => trigger.common.disabled,
    })
}

/// The occurrence key: derived from `Idempotency-Key` when the caller sends one, else a
/// fresh random id.
fn occurrence_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(format!("request:{}", ids::random_id()));
    };
    let v = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_IDEMPOTENCY_KEY)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
            ))
        })?;
    Ok(format!("idempotency:{v}"))
}

/// `body`, `headers` and `parameters`, in Kestra's shapes.
fn variables(body: &[u8], headers: &HeaderMap, query: Option<&str>) -> Map<String, Value> {
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    let mut vars = Map::new();
    vars.insert("body".into(), body);
    vars.insert("headers".into(), Value::Object(header_map(headers)));
    vars.insert("parameters".into(), Value::Object(parameter_map(query)));
    vars
}

/// Header name (lower-case) → its values, in the order received.
fn header_map(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    let mut seen = HashSet::new();
    for name in headers.keys() {
        if !seen.insert(name.as_str()) {
            continue;
        }
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        out.insert(name.as_str().to_owned(), Value::Array(values));
    }
    out
}

/// Query-string name → its values, in the order received.
fn parameter_map(query: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let entry = out
            .entry(k.into_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(v.into_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn body_is_json_when_it_parses_else_text_else_null() {
        let h = HeaderMap::new();
        assert_eq!(variables(b"", &h, None)["body"], Value::Null);
        assert_eq!(
            variables(br#"{"a": 1}"#, &h, None)["body"],
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            variables(b"[1, 2]", &h, None)["body"],
            serde_json::json!([1, 2])
        );
        assert_eq!(variables(b"bla", &h, None)["body"], "bla");
        assert_eq!(variables(b"42", &h, None)["body"], 42);
        assert_eq!(variables(b"{not json", &h, None)["body"], "{not json");
    }

    #[test]
    fn headers_and_parameters_are_lists() {
        let mut h = HeaderMap::new();
        h.append("X-Tag", HeaderValue::from_static("a"));
        h.append("x-tag", HeaderValue::from_static("b"));
        h.append("Content-Type", HeaderValue::from_static("text/plain"));
        let v = variables(b"", &h, Some("name=john&age=12&age=13&e=%C3%A9+x"));
        assert_eq!(v["headers"]["x-tag"], serde_json::json!(["a", "b"]));
        assert_eq!(
            v["headers"]["content-type"],
            serde_json::json!(["text/plain"])
        );
        assert_eq!(v["parameters"]["name"], serde_json::json!(["john"]));
        assert_eq!(v["parameters"]["age"], serde_json::json!(["12", "13"]));
        assert_eq!(v["parameters"]["e"], serde_json::json!(["é x"]));
        assert_eq!(
            variables(b"", &h, None)["parameters"],
            serde_json::json!({})
        );
    }

    #[test]
    fn occurrence_keys() {
        let mut h = HeaderMap::new();
        let a = occurrence_key(&h).unwrap();
        let b = occurrence_key(&h).unwrap();
        assert_ne!(a, b, "a fresh key per request");
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("order-17"));
        assert_eq!(occurrence_key(&h).unwrap(), "idempotency:order-17");
        assert_eq!(occurrence_key(&h).unwrap(), occurrence_key(&h).unwrap());
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(&"x".repeat(MAX_IDEMPOTENCY_KEY + 1)).unwrap(),
        );
        assert_eq!(
            occurrence_key(&h).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
