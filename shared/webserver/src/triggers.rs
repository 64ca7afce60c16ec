//! `/api/v1/triggers`: the state of every trigger, and an operator's actions on it, in
//! Kestra's shapes.
//!
//! A trigger context (Kestra's `Trigger`) is `{namespace, flowId, triggerId, date,
//! nextExecutionDate, backfill, disabled, executionId, updatedDate, stopAfter}` (absent
//! dates are left out; `disabled` is the effective value: an operator's choice over the
//! definition's). Search results pair it with the definition:
//! `{results: [{abstractTrigger, triggerContext}], total}`.
//!
//! | route | does |
//! |---|---|
//! | `GET /triggers/search` | `namespace` (prefix), `flowId`, `q`, `page`, `size`, `sort` (`field:asc\|desc`) |
//! | `GET /triggers/{namespace}/{flowId}` | the flow's trigger contexts, `{results, total}` |
//! | `PUT /triggers` | a context: `disabled` sets the operator's override, a new `backfill` (`{start, end?, inputs?, labels?}`, no `created`) starts one; answers the new context |
//! | `POST /triggers/{namespace}/{flowId}/{triggerId}/unlock` | forgets `executionId` |
//! | `PUT /triggers/backfill/pause`, `/unpause` | pauses or resumes the backfill of the context's trigger |
//! | `POST /triggers/backfill/delete` | deletes it |
//! | `POST /triggers/set-disabled/by-triggers` | `{triggers: [contexts], disabled}`: `{count}` |
//!
//! A backfill echoed back with its `created` (a client sending the context it read) is not
//! a new one: backfills change through the pause, unpause and delete routes. The rules
//! (Schedule triggers only, `start` before `end` and not in the future) are in
//! [`kite_engine::triggers::control`]; a refused backfill is a 422 saying why.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kite_engine::model::Label;
use kite_engine::repo::triggers::StoredTrigger;
use kite_engine::services::{Platform, ServiceError};
use kite_engine::triggers::TriggerError;
use kite_engine::triggers::control::{self, BackfillRequest, ControlError, TriggerRef};
use kite_flow::Flow;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::catalog;
use crate::error::ApiError;
use crate::params::{Params, check_id, check_namespace};

/// Kestra's trigger context of a stored state (`stop_after`: the definition's).
pub(crate) fn context_json(stored: &StoredTrigger, stop_after: &[String]) -> Value {
    let s = &stored.state;
    let mut m = Map::new();
    m.insert("namespace".into(), json!(s.namespace));
    m.insert("flowId".into(), json!(s.flow_id));
    m.insert("triggerId".into(), json!(s.trigger_id));
    let mut date = |k: &str, d: Option<DateTime<Utc>>| {
        if let Some(d) = d {
            m.insert(k.into(), json!(d));
        }
    };
    date("date", s.date);
    date("nextExecutionDate", s.next_execution_date);
    date("updatedDate", s.updated_date);
    if let Some(b) = &s.backfill {
        m.insert(
            "backfill".into(),
            serde_json::to_value(b).unwrap_or(Value::Null),
        );
    }
    m.insert("disabled".into(), json!(stored.is_disabled()));
    if let Some(e) = &s.execution_id {
        m.insert("executionId".into(), json!(e));
    }
    if !stop_after.is_empty() {
        m.insert("stopAfter".into(), json!(stop_after));
    }
    Value::Object(m)
}

fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::NotFound {
            namespace,
            flow_id,
            trigger_id,
        } => ApiError::not_found(format!(
            "Unable to find trigger {namespace}.{flow_id}.{trigger_id}"
        )),
        ControlError::Invalid(m) => ApiError::invalid("backfill", m),
        ControlError::Conflict(m) => ApiError::conflict(m),
        ControlError::Trigger(t) => trigger_error(t),
    }
}

fn trigger_error(e: TriggerError) -> ApiError {
    match e {
        TriggerError::Service(s) => (*s).into(),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// The context of a trigger after an action, with its definition's `stopAfter`.
async fn answer(platform: &Platform, stored: &StoredTrigger) -> Result<Json<Value>, ApiError> {
    let st = &stored.state;
    let stop_after = match platform.load_flow(&st.namespace, &st.flow_id, None).await {
        Ok(f) => stop_after_of(&f, &st.trigger_id),
        Err(ServiceError::FlowNotFound { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(Json(context_json(stored, &stop_after)))
}

fn stop_after_of(flow: &Flow, trigger_id: &str) -> Vec<String> {
    flow.triggers
        .iter()
        .find(|t| t.id == trigger_id)
        .map(|t| t.common.stop_after.clone())
        .unwrap_or_default()
}

/// A JSON object body, or a 422 saying what is expected.
fn object_body(body: &Bytes, expected: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid(
            "body",
            format!("the body must be a JSON object: {expected}"),
        )),
        Err(e) if body.iter().all(u8::is_ascii_whitespace) => Err(ApiError::invalid(
            "body",
            format!("the body is empty ({e}): send {expected}"),
        )),
        Err(e) => Err(ApiError::invalid(
            "body",
            format!("the body is not JSON ({e}): send {expected}"),
        )),
    }
}

const CONTEXT: &str = "a trigger context `{\"namespace\", \"flowId\", \"triggerId\", ...}`";

/// The trigger a context names (ids checked).
fn reference(m: &Map<String, Value>, at: &str) -> Result<(String, String, String), ApiError> {
    let text = |k: &str| -> Result<String, ApiError> {
        match m.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(ApiError::invalid(
                format!("{at}{k}"),
                format!("`{at}{k}` is required (a string): send {CONTEXT}"),
            )),
        }
    };
    let (ns, flow, trig) = (text("namespace")?, text("flowId")?, text("triggerId")?);
    check_namespace(&ns).map_err(|e| e.with_field(format!("{at}namespace")))?;
    check_id("flowId", &flow).map_err(|e| e.with_field(format!("{at}flowId")))?;
    check_id("triggerId", &trig).map_err(|e| e.with_field(format!("{at}triggerId")))?;
    Ok((ns, flow, trig))
}

fn trigger_ref<'a>(ids: &'a (String, String, String)) -> TriggerRef<'a> {
    TriggerRef {
        namespace: &ids.0,
        flow_id: &ids.1,
        trigger_id: &ids.2,
    }
}

fn date_field(b: &Map<String, Value>, k: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match b.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s.trim())
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::invalid(
                    format!("backfill.{k}"),
                    format!(
                        "backfill.{k}: `{s}` is not an ISO-8601 date-time with a zone (e.g. 2026-01-31T00:00:00Z)"
                    ),
                )
            }),
        Some(other) => Err(ApiError::invalid(
            format!("backfill.{k}"),
            format!("backfill.{k} must be an ISO-8601 date-time string, not {other}"),
        )),
    }
}

/// `{key, value}` pairs or a `{key: value}` map.
fn labels_field(b: &Map<String, Value>) -> Result<Vec<Label>, ApiError> {
    let bad = || {
        ApiError::invalid(
            "backfill.labels",
            "backfill.labels must be a list of `{\"key\", \"value\"}` (or a map of strings)",
        )
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    match b.get("labels") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let key = i.get("key").and_then(text).ok_or_else(bad)?;
                let value = i.get("value").and_then(text).ok_or_else(bad)?;
                Ok(Label { key, value })
            })
            .collect(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                Ok(Label {
                    key: k.clone(),
                    value: text(v).ok_or_else(bad)?,
                })
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn backfill_request(b: &Map<String, Value>) -> Result<BackfillRequest, ApiError> {
    let inputs = match b.get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                "backfill.inputs",
                "backfill.inputs must be an object of input values",
            ));
        }
    };
    Ok(BackfillRequest {
        start: date_field(b, "start")?,
        end: date_field(b, "end")?,
        inputs,
        labels: labels_field(b)?,
    })
}

/// `PUT /api/v1/triggers` (a trigger context): applies `disabled` and a new `backfill`;
/// answers the new context.
pub(crate) async fn update(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let m = object_body(&body, CONTEXT)?;
    let ids = reference(&m, "")?;
    let t = trigger_ref(&ids);
    let platform = state.platform();
    let disabled = match m.get("disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(ApiError::invalid(
                "disabled",
                format!("`disabled` must be true or false, not {other}"),
            ));
        }
    };
    let backfill = match m.get("backfill") {
        None | Some(Value::Null) => None,
        // An echo of the backfill under way (it has its `created`): not a new one.
        Some(Value::Object(b)) if b.get("created").is_some_and(|c| !c.is_null()) => None,
        Some(Value::Object(b)) => Some(backfill_request(b)?),
        Some(_) => {
            return Err(ApiError::invalid(
                "backfill",
                "`backfill` must be an object `{start, end?, inputs?, labels?}`",
            ));
        }
    };
    let mut last = None;
    if let Some(request) = &backfill {
        last = Some(
            control::create_backfill(platform, t, request)
                .await
                .map_err(control_error)?,
        );
    }
    if let Some(d) = disabled {
        last = Some(
            control::set_disabled(platform, t, d)
                .await
                .map_err(control_error)?,
        );
    }
    let stored = match last {
        Some(s) => s,
        None => current(platform, t).await?,
    };
    answer(platform, &stored).await
}

/// The stored state of a trigger that the latest flow still defines, or a 404.
async fn current(platform: &Platform, t: TriggerRef<'_>) -> Result<StoredTrigger, ApiError> {
    let not_found = || {
        control_error(ControlError::NotFound {
            namespace: t.namespace.to_owned(),
            flow_id: t.flow_id.to_owned(),
            trigger_id: t.trigger_id.to_owned(),
        })
    };
    let flow = match platform.load_flow(t.namespace, t.flow_id, None).await {
        Ok(f) => f,
        Err(ServiceError::FlowNotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if !flow.triggers.iter().any(|x| x.id == t.trigger_id) {
        return Err(not_found());
    }
    match platform
        .repos
        .triggers
        .get(t.namespace, t.flow_id, t.trigger_id)
        .await?
    {
        Some((s, _)) => Ok(s),
        None => Err(not_found()),
    }
}

/// `POST /api/v1/triggers/{namespace}/{flowId}/{triggerId}/unlock`.
pub(crate) async fn unlock(
    State(state): State<AppState>,
    Path((namespace, flow_id, trigger_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_namespace(&namespace)?;
    check_id("flowId", &flow_id)?;
    check_id("triggerId", &trigger_id)?;
    let ids = (namespace, flow_id, trigger_id);
    let stored = control::unlock(state.platform(), trigger_ref(&ids))
        .await
        .map_err(control_error)?;
    answer(state.platform(), &stored).await
}

async fn pause(state: &AppState, body: &Bytes, paused: bool) -> Result<Json<Value>, ApiError> {
    let m = object_body(body, CONTEXT)?;
    let ids = reference(&m, "")?;
    let stored = control::pause_backfill(state.platform(), trigger_ref(&ids), paused)
        .await
        .map_err(control_error)?;
    answer(state.platform(), &stored).await
}

/// `PUT /api/v1/triggers/backfill/pause` (a trigger context).
pub(crate) async fn pause_backfill(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    pause(&state, &body, true).await
}

/// `PUT /api/v1/triggers/backfill/unpause` (a trigger context).
pub(crate) async fn unpause_backfill(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    pause(&state, &body, false).await
}

/// `POST /api/v1/triggers/backfill/delete` (a trigger context).
pub(crate) async fn delete_backfill(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let m = object_body(&body, CONTEXT)?;
    let ids = reference(&m, "")?;
    let stored = control::delete_backfill(state.platform(), trigger_ref(&ids))
        .await
        .map_err(control_error)?;
    answer(state.platform(), &stored).await
}

/// `POST /api/v1/triggers/set-disabled/by-triggers` (`{triggers: [contexts], disabled}`):
/// `{count}` of the triggers changed (unknown ones are skipped).
pub(crate) async fn set_disabled_by_triggers(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const EXPECTED: &str = "`{\"triggers\": [trigger contexts], \"disabled\": true|false}`";
    let m = object_body(&body, EXPECTED)?;
    let disabled = match m.get("disabled") {
        Some(Value::Bool(b)) => *b,
        _ => {
            return Err(ApiError::invalid(
                "disabled",
                format!("`disabled` (true or false) is required: send {EXPECTED}"),
            ));
        }
    };
    let Some(Value::Array(items)) = m.get("triggers") else {
        return Err(ApiError::invalid(
            "triggers",
            format!("`triggers` (a list) is required: send {EXPECTED}"),
        ));
    };
    let mut refs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            return Err(ApiError::invalid(
                format!("triggers[{i}]"),
                format!("triggers[{i}] must be {CONTEXT}"),
            ));
        };
        refs.push(reference(o, &format!("triggers[{i}]."))?);
    }
    let mut count = 0;
    for ids in &refs {
        match control::set_disabled(state.platform(), trigger_ref(ids), disabled).await {
            Ok(_) => count += 1,
            Err(ControlError::NotFound { .. }) => {}
            Err(e) => return Err(control_error(e)),
        }
    }
    Ok(Json(json!({ "count": count })))
}

/// One row of a search.
struct Row {
    stored: StoredTrigger,
    definition: Value,
    stop_after: Vec<String>,
}

/// Sort keys of a search (`field:asc|desc`).
fn sorter(params: &Params) -> Result<Vec<(String, bool)>, ApiError> {
    let mut out = Vec::new();
    for raw in params.all("sort") {
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, dir) = part.split_once(':').unwrap_or((part, "asc"));
            let desc = match dir.trim().to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                other => {
                    return Err(ApiError::invalid(
                        "sort",
                        format!("sort `{part}`: the direction must be asc or desc, not `{other}`"),
                    ));
                }
            };
            let field = field.trim();
            if !SORT_FIELDS.contains(&field) {
                return Err(ApiError::invalid(
                    "sort",
                    format!(
                        "sort `{part}`: unknown field `{field}` (one of {})",
                        SORT_FIELDS.join(", ")
                    ),
                ));
            }
            out.push((field.to_owned(), desc));
        }
    }
    Ok(out)
}

const SORT_FIELDS: &[&str] = &[
    "namespace",
    "flowId",
    "triggerId",
    "date",
    "nextExecutionDate",
    "updatedDate",
    "executionId",
];

fn sort_key(s: &StoredTrigger, field: &str) -> String {
    let st = &s.state;
    let date = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    match field {
        "namespace" => st.namespace.clone(),
        "flowId" => st.flow_id.clone(),
        "triggerId" => st.trigger_id.clone(),
        "date" => date(st.date),
        "nextExecutionDate" => date(st.next_execution_date),
        "updatedDate" => date(st.updated_date),
        _ => st.execution_id.clone().unwrap_or_default(),
    }
}

/// The rows of `namespaces`, filtered by `flow_id` and `q`, with their definitions (states
/// whose flow or trigger is gone are left out).
async fn rows(
    platform: &Platform,
    namespaces: &[String],
    flow_id: Option<&str>,
    q: Option<&str>,
) -> Result<Vec<Row>, ApiError> {
    let mut flows: HashMap<(String, String), Option<Flow>> = HashMap::new();
    let mut out = Vec::new();
    for ns in namespaces {
        for (stored, _) in platform.repos.triggers.of_namespace(ns).await? {
            let st = &stored.state;
            if flow_id.is_some_and(|f| f != st.flow_id) {
                continue;
            }
            if let Some(q) = q {
                let hit = [&st.namespace, &st.flow_id, &st.trigger_id]
                    .iter()
                    .any(|s| s.to_lowercase().contains(q));
                if !hit {
                    continue;
                }
            }
            let key = (st.namespace.clone(), st.flow_id.clone());
            if !flows.contains_key(&key) {
                let flow = match platform.load_flow(&key.0, &key.1, None).await {
                    Ok(f) => Some(f),
                    Err(ServiceError::FlowNotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                flows.insert(key.clone(), flow);
            }
            let Some(Some(flow)) = flows.get(&key) else {
                continue;
            };
            let Some(def) = flow.triggers.iter().find(|t| t.id == st.trigger_id) else {
                continue;
            };
            out.push(Row {
                definition: def.to_json(),
                stop_after: def.common.stop_after.clone(),
                stored,
            });
        }
    }
    Ok(out)
}

fn page_of(
    mut rows: Vec<Row>,
    params: &Params,
    item: impl Fn(&Row) -> Value,
) -> Result<Json<Value>, ApiError> {
    let page = params.number("page", 1, 1)?;
    let size = params.number("size", 10, 1)?;
    let sort = sorter(params)?;
    rows.sort_by(|a, b| {
        for (field, desc) in &sort {
            let o = sort_key(&a.stored, field).cmp(&sort_key(&b.stored, field));
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        let k = |r: &Row| {
            (
                r.stored.state.namespace.clone(),
                r.stored.state.flow_id.clone(),
                r.stored.state.trigger_id.clone(),
            )
        };
        k(a).cmp(&k(b))
    });
    let total = rows.len();
    let results: Vec<Value> = rows
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(item)
        .collect();
    Ok(Json(json!({ "results": results, "total": total })))
}

/// `GET /api/v1/triggers/search?namespace=&flowId=&q=&page=&size=&sort=`:
/// `{results: [{abstractTrigger, triggerContext}], total}`.
pub(crate) async fn search(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let platform = state.platform();
    let prefix = params.text("namespace");
    let flow_id = params.text("flowId");
    if let Some(f) = flow_id {
        check_id("flowId", f)?;
    }
    let q = params.text("q").map(str::to_lowercase);
    let mut namespaces = catalog::namespaces(platform).await?;
    if let Some(p) = prefix {
        check_namespace(p)?;
        namespaces.retain(|ns| ns == p || ns.starts_with(&format!("{p}.")));
        if !namespaces.iter().any(|ns| ns == p) {
            // Flows stored without the catalog (deployed by a library caller).
            namespaces.insert(0, p.to_owned());
        }
    }
    let rows = rows(platform, &namespaces, flow_id, q.as_deref()).await?;
    page_of(rows, &params, |r| {
        json!({
            "abstractTrigger": r.definition,
            "triggerContext": context_json(&r.stored, &r.stop_after),
        })
    })
}

/// `GET /api/v1/triggers/{namespace}/{flowId}?q=&page=&size=&sort=`: the flow's trigger
/// contexts, `{results, total}`; 404 for an unknown flow.
pub(crate) async fn of_flow(
    State(state): State<AppState>,
    Path((namespace, flow_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    check_namespace(&namespace)?;
    check_id("flowId", &flow_id)?;
    let platform = state.platform();
    // 404 for an unknown flow.
    platform.load_flow(&namespace, &flow_id, None).await?;
    let q = params.text("q").map(str::to_lowercase);
    let rows = rows(
        platform,
        std::slice::from_ref(&namespace),
        Some(&flow_id),
        q.as_deref(),
    )
    .await?;
    page_of(rows, &params, |r| context_json(&r.stored, &r.stop_after))
}
