//! `/api/v1/flows`: flows as YAML sources with revisions.
//!
//! Sources are stored exactly as sent; responses show the parsed flow as JSON (Kestra's
//! `Flow`), with `revision`, and with `source` on writes and when `?source=true`.
//! Invalid YAML or an invalid flow is a 422 listing every problem with its property path
//! and position.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kite_engine::repo::StoredFlow;
use kite_flow::{Diagnostic, Flow, Severity};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::catalog;
use crate::error::{ApiError, Violation};
use crate::params::{Params, check_id, check_namespace};

/// The flow as JSON: the parsed model plus `revision` (and `source` when asked).
pub(crate) fn flow_json(stored: &StoredFlow, with_source: bool) -> Value {
    let mut obj = match stored.parse() {
        Ok(flow) => match serde_json::to_value(&flow) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        Err(e) => {
            // A source the current parser rejects (stored by an older version): show
            // what is known, like Kestra's FlowWithException.
            let mut m = Map::new();
            m.insert("exception".into(), Value::String(e.to_string()));
            m
        }
    };
    obj.insert("id".into(), Value::String(stored.id.clone()));
    obj.insert("namespace".into(), Value::String(stored.namespace.clone()));
    obj.insert("revision".into(), json!(stored.revision));
    obj.insert("deleted".into(), Value::Bool(stored.deleted));
    if with_source {
        obj.insert("source".into(), Value::String(stored.source.clone()));
    }
    Value::Object(obj)
}

/// The request body as a YAML source.
fn yaml_body(body: &Bytes) -> Result<String, ApiError> {
    if body.len() > kite_flow::yaml::MAX_SOURCE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the flow source is {} bytes, over the {}-byte limit",
                body.len(),
                kite_flow::yaml::MAX_SOURCE_BYTES
            ),
        ));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid("body", "the flow source is not UTF-8 text"))
}

/// `path: message (line L, column C)`, with lines counted from `first_line`.
fn describe(d: &Diagnostic, first_line: u32) -> String {
    let path = if d.path.is_empty() {
        "flow"
    } else {
        d.path.as_str()
    };
    if d.loc.is_known() {
        format!(
            "{path}: {} (line {}, column {})",
            d.message,
            d.loc.line + first_line - 1,
            d.loc.col
        )
    } else {
        format!("{path}: {}", d.message)
    }
}

fn violation(d: &Diagnostic) -> Violation {
    Violation {
        message: describe(d, 1),
        path: Some(if d.path.is_empty() {
            "flow".to_owned()
        } else {
            d.path.clone()
        }),
    }
}

/// Runs `parse` (flow parsing: CPU-bound, bounded by the loader's budget) on the blocking
/// pool, so a hostile source never holds an async thread.
async fn off_the_async_threads<T: Send + 'static>(
    state: &AppState,
    parse: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let hook = state.options().parse_hook.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(h) = hook {
            h();
        }
        parse()
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("parsing the flow failed: {e}"),
        )
    })
}

/// Parses one flow (off the async threads) or answers 422 with every error.
async fn parse_one(state: &AppState, source: &str) -> Result<Flow, ApiError> {
    let owned = source.to_owned();
    let flow = off_the_async_threads(state, move || parse_source(&owned)).await??;
    // A SECRET input or output is stored encrypted: refused when there is no key.
    if let Some(message) =
        kite_engine::crypto::missing_key_message(&flow, state.platform().rt.encryption())
    {
        return Err(ApiError::invalid("flow.inputs", message));
    }
    Ok(flow)
}

fn parse_source(source: &str) -> Result<Flow, ApiError> {
    let parsed = kite_flow::parse_flow(source);
    match parsed.flow {
        Some(flow) => {
            check_namespace(&flow.namespace).map_err(|e| e.with_field("flow.namespace"))?;
            check_id("id", &flow.id).map_err(|e| e.with_field("flow.id"))?;
            Ok(flow)
        }
        None => {
            let errors: Vec<Violation> = parsed.errors().map(violation).collect();
            let message = format!(
                "Invalid entity: {}",
                errors
                    .iter()
                    .map(|v| v.message.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            let field = errors.first().and_then(|v| v.path.clone());
            Err(ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message,
                field,
                errors,
            })
        }
    }
}

fn check_path(namespace: &str, id: &str) -> Result<(), ApiError> {
    check_namespace(namespace)?;
    check_id("id", id)
}

fn flow_not_found(namespace: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("Unable to find flow {namespace}.{id}"))
}

/// `POST /api/v1/flows` (YAML body): creates a flow.
pub(crate) async fn create(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let source = yaml_body(&body)?;
    let flow = parse_one(&state, &source).await?;
    let platform = state.platform();
    if platform
        .repos
        .flows
        .get(&flow.namespace, &flow.id)
        .await?
        .is_some()
    {
        return Err(ApiError::invalid(
            "flow.id",
            format!(
                "Flow id already exists: {}.{} (update it with PUT /api/v1/flows/{}/{})",
                flow.namespace, flow.id, flow.namespace, flow.id
            ),
        ));
    }
    let stored = catalog::save_flow(platform, &flow, &source).await?;
    Ok(Json(flow_json(&stored, true)).into_response())
}

/// `PUT /api/v1/flows/{namespace}/{id}` (YAML body): a new revision of an existing flow.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path((namespace, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_path(&namespace, &id)?;
    let platform = state.platform();
    if platform.repos.flows.get(&namespace, &id).await?.is_none() {
        return Err(flow_not_found(&namespace, &id));
    }
    let source = yaml_body(&body)?;
    let flow = parse_one(&state, &source).await?;
    if flow.id != id {
        return Err(ApiError::invalid(
            "flow.id",
            format!(
                "Illegal flow id update: the path says `{id}` but the source says `{}`",
                flow.id
            ),
        ));
    }
    if flow.namespace != namespace {
        return Err(ApiError::invalid(
            "flow.namespace",
            format!(
                "Illegal namespace update: the path says `{namespace}` but the source says `{}`",
                flow.namespace
            ),
        ));
    }
    let stored = catalog::save_flow(platform, &flow, &source).await?;
    Ok(Json(flow_json(&stored, true)).into_response())
}

/// `GET /api/v1/flows/{namespace}/{id}?source=&revision=`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((namespace, id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    check_path(&namespace, &id)?;
    let with_source = params.bool("source", false)?;
    let revision = params.optional_u32("revision")?;
    let stored = state
        .platform()
        .repos
        .flows
        .get_revision(&namespace, &id, revision)
        .await?;
    match stored {
        Some(s) if !s.deleted || revision.is_some() => Ok(Json(flow_json(&s, with_source))),
        _ => Err(flow_not_found(&namespace, &id)),
    }
}

/// `GET /api/v1/flows/{namespace}`: every flow of a namespace.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_namespace(&namespace)?;
    let mut flows = state.platform().repos.flows.list(&namespace).await?;
    flows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(Value::Array(
        flows.iter().map(|f| flow_json(f, false)).collect(),
    )))
}

/// `GET /api/v1/flows/search?namespace=&q=&page=&size=`: Kestra's page of flows.
pub(crate) async fn search(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let page = params.number("page", 1, 1)?;
    let size = params.number("size", 10, 1)?;
    let prefix = params.text("namespace");
    let q = params.text("q").map(str::to_lowercase);
    let platform = state.platform();
    let mut namespaces = catalog::namespaces(platform).await?;
    if let Some(p) = prefix {
        check_namespace(p)?;
        namespaces.retain(|ns| ns == p || ns.starts_with(&format!("{p}.")));
    }
    let mut flows = Vec::new();
    for ns in namespaces {
        for f in platform.repos.flows.list(&ns).await? {
            let hit = q.as_deref().is_none_or(|q| {
                f.id.to_lowercase().contains(q) || f.namespace.to_lowercase().contains(q)
            });
            if hit {
                flows.push(f);
            }
        }
    }
    flows.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
    let total = flows.len();
    let results: Vec<Value> = flows
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|f| flow_json(f, false))
        .collect();
    Ok(Json(json!({ "results": results, "total": total })))
}

/// `GET /api/v1/flows/distinct-namespaces?q=`.
pub(crate) async fn distinct_namespaces(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<String>>, ApiError> {
    let q = params.text("q").map(str::to_lowercase);
    let mut out = catalog::namespaces(state.platform()).await?;
    if let Some(q) = q {
        out.retain(|ns| ns.to_lowercase().contains(&q));
    }
    Ok(Json(out))
}

/// `DELETE /api/v1/flows/{namespace}/{id}`: soft delete (204; 404 when unknown).
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_path(&namespace, &id)?;
    if state.platform().delete_flow(&namespace, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(flow_not_found(&namespace, &id))
    }
}

/// `GET /api/v1/flows/{namespace}/{id}/revisions`: every revision with its source.
pub(crate) async fn revisions(
    State(state): State<AppState>,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_path(&namespace, &id)?;
    let revisions = state
        .platform()
        .repos
        .flows
        .revisions(&namespace, &id)
        .await?;
    if revisions.is_empty() {
        return Err(flow_not_found(&namespace, &id));
    }
    Ok(Json(Value::Array(
        revisions.iter().map(|f| flow_json(f, true)).collect(),
    )))
}

/// `GET /api/v1/flows/{namespace}/{id}/graph?revision=`.
pub(crate) async fn graph(
    State(state): State<AppState>,
    Path((namespace, id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    check_path(&namespace, &id)?;
    let revision = params.optional_u32("revision")?;
    let flow = state
        .platform()
        .load_flow(&namespace, &id, revision)
        .await?;
    Ok(Json(crate::graph::flow_graph(&flow)))
}

/// `POST /api/v1/flows/validate` (multi-document YAML): one result per document.
pub(crate) async fn validate(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let source = yaml_body(&body)?;
    let has_key = state.platform().rt.encryption().is_some();
    off_the_async_threads(&state, move || validate_all(&source, has_key)).await?
}

fn validate_all(source: &str, has_key: bool) -> Result<Json<Value>, ApiError> {
    let mut docs = catalog::split_documents(source);
    if docs.is_empty() {
        docs.push(catalog::Document {
            first_line: 1,
            source: String::new(),
        });
    }
    let results: Vec<Value> = docs
        .iter()
        .enumerate()
        .map(|(index, doc)| validate_one(index, doc, has_key))
        .collect();
    Ok(Json(Value::Array(results)))
}

fn validate_one(index: usize, doc: &catalog::Document, has_key: bool) -> Value {
    let parsed = kite_flow::parse_flow(&doc.source);
    let (flow_id, namespace) = match &parsed.flow {
        Some(f) => (Some(f.id.clone()), Some(f.namespace.clone())),
        None => identity_of(&doc.source),
    };
    let mut errors: Vec<String> = parsed
        .errors()
        .map(|d| describe(d, doc.first_line))
        .collect();
    if let Some(f) = &parsed.flow {
        if let Err(e) = check_namespace(&f.namespace) {
            errors.push(format!("namespace: {}", e.message));
        }
        if let Err(e) = check_id("id", &f.id) {
            errors.push(format!("id: {}", e.message));
        }
        if !has_key && let Some(message) = kite_engine::crypto::missing_key_message(f, None) {
            errors.push(format!("inputs: {message}"));
        }
    }
    let of = |sev: Severity| parsed.diagnostics.iter().filter(move |d| d.severity == sev);
    let warnings: Vec<String> = of(Severity::Warning)
        .map(|d| describe(d, doc.first_line))
        .collect();
    let deprecation_paths: Vec<String> = of(Severity::Warning)
        .filter(|d| !d.path.is_empty())
        .map(|d| d.path.clone())
        .collect();
    let infos: Vec<String> = of(Severity::Info)
        .map(|d| describe(d, doc.first_line))
        .collect();
    json!({
        "index": index,
        "flow": flow_id,
        "namespace": namespace,
        "constraints": if errors.is_empty() { Value::Null } else { Value::String(errors.join("\n")) },
        "outdated": false,
        "deprecationPaths": deprecation_paths,
        "warnings": warnings,
        "infos": infos,
    })
}

/// The `id` and `namespace` of a document that does not parse as a flow, when readable.
fn identity_of(source: &str) -> (Option<String>, Option<String>) {
    let Ok(nodes) = kite_flow::yaml::load_documents(source) else {
        return (None, None);
    };
    let Some(root) = nodes.first() else {
        return (None, None);
    };
    let field = |k: &str| root.get(k).and_then(|n| n.as_str()).map(str::to_owned);
    (field("id"), field("namespace"))
}
