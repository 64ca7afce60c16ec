//! `/api/v1/namespaces/{namespace}/kv`: the namespace key-value store.
//!
//! `PUT` takes a JSON body (stored typed) or any other text (stored as a string), with an
//! optional `ttl` header (ISO-8601 duration); `GET` answers `{type, value}` with `type` one
//! of STRING, NUMBER, BOOLEAN, JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::params::{check_id, check_namespace};

fn check(namespace: &str, key: &str) -> Result<(), ApiError> {
    check_namespace(namespace)?;
    check_id("key", key)
}

/// Kestra's type name of a stored value.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "STRING",
        Value::Number(_) => "NUMBER",
        Value::Bool(_) => "BOOLEAN",
        _ => "JSON",
    }
}

/// `GET /api/v1/namespaces/{namespace}/kv`: `[{key}]`, sorted.
pub(crate) async fn keys(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_namespace(&namespace)?;
    let mut keys = state.platform().repos.kv.keys(&namespace, None).await?;
    keys.sort();
    Ok(Json(Value::Array(
        keys.into_iter().map(|k| json!({ "key": k })).collect(),
    )))
}

/// `GET /api/v1/namespaces/{namespace}/kv/{key}`: `{type, value}`; 404 when absent.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check(&namespace, &key)?;
    match state.platform().repos.kv.get(&namespace, &key).await? {
        Some(v) => Ok(Json(json!({ "type": type_of(&v), "value": v }))),
        None => Err(ApiError::not_found(format!(
            "No value found for key '{key}' in namespace '{namespace}'"
        ))),
    }
}

/// `PUT /api/v1/namespaces/{namespace}/kv/{key}`: sets the value (200).
pub(crate) async fn put(
    State(state): State<AppState>,
    Path((namespace, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    check(&namespace, &key)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("body", "the value must be UTF-8 text or JSON"))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid(
            "body",
            "the value is empty: send JSON (`\"text\"`, `42`, `{...}`) or plain text",
        ));
    }
    let value =
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    let expires = match headers.get("ttl").map(|v| v.to_str().unwrap_or("")) {
        None => None,
        Some(ttl) => {
            let d: kite_flow::IsoDuration =
                ttl.trim()
                    .parse()
                    .map_err(|e: kite_flow::duration::DurationError| {
                        ApiError::invalid("ttl", format!("invalid ttl `{ttl}`: {e}"))
                    })?;
            Some(state.platform().clock.now() + d.to_chrono())
        }
    };
    state
        .platform()
        .repos
        .kv
        .set(&namespace, &key, value, expires, true)
        .await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v1/namespaces/{namespace}/kv/{key}`: `true` if it existed, else `false`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<bool>, ApiError> {
    check(&namespace, &key)?;
    Ok(Json(
        state.platform().repos.kv.delete(&namespace, &key).await?,
    ))
}
