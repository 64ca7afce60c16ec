//! `/api/v1/executions`: create (optionally waiting for the end), read, search, kill,
//! resume, delete, download files, follow (server-sent events).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use kite_engine::executor::Event;
use kite_engine::model::{Execution, State as RunState, ids};
use kite_engine::services::{CreateOptions, Platform, ServiceError};
use kite_flow::tasks::pause::Pause;
use kite_ports::StorageKey;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::io::ReaderStream;

use crate::AppState;
use crate::error::{ApiError, inputs_error};
use crate::inputs::{self, Target};
use crate::params::{Params, check_id, check_namespace};

/// Executions a search reads per query page (it reads every page: the total is exact).
const SEARCH_PAGE: usize = 1000;

fn execution_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Unable to find execution '{id}'"))
}

/// The execution `id` or a 404.
pub(crate) async fn load(platform: &Platform, id: &str) -> Result<Execution, ApiError> {
    check_id("executionId", id).map_err(|_| execution_not_found(id))?;
    platform
        .execution(id)
        .await?
        .ok_or_else(|| execution_not_found(id))
}

fn storage_key(e: &Execution) -> Result<StorageKey, ApiError> {
    Ok(StorageKey::for_execution(&e.namespace, &e.flow_id, &e.id)?)
}

/// Waits for a change notification or `poll`, whichever comes first.
pub(crate) async fn wait_change(
    ended: &mut broadcast::Receiver<(String, RunState)>,
    poll: Duration,
) {
    tokio::select! {
        r = ended.recv() => {
            if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                tokio::time::sleep(poll).await;
            }
        }
        _ = tokio::time::sleep(poll) => {}
    }
}

/// `POST /api/v1/executions/{namespace}/{id}?labels=k:v&wait=&revision=`: inputs as
/// multipart (files streamed to storage), JSON or form; 200 with the execution.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path((namespace, flow_id)): Path<(String, String)>,
    params: Params,
    req: Request,
) -> Result<Response, ApiError> {
    check_namespace(&namespace)?;
    check_id("id", &flow_id)?;
    let labels = params.labels()?;
    if let Some(l) = labels
        .iter()
        .find(|l| l.key.starts_with("system.") && l.key != "system.correlationId")
    {
        return Err(ApiError::invalid(
            "labels",
            format!(
                "System labels can only be set by Kite itself, offending label: {}={}",
                l.key, l.value
            ),
        ));
    }
    let wait = params.bool("wait", false)?;
    let revision = params.optional_u32("revision")?;
    let platform = state.platform().clone();
    let flow = platform.load_flow(&namespace, &flow_id, revision).await?;
    if flow.disabled {
        return Err(ApiError::conflict(format!(
            "Cannot execute the disabled flow {namespace}.{flow_id}"
        )));
    }
    let execution_id = ids::random_id();
    let execution_key = StorageKey::for_execution(&flow.namespace, &flow.id, &execution_id)?;
    let flow_key = StorageKey::for_flow(&flow.namespace, &flow.id)?;
    let target = Target {
        declared: &flow.inputs,
        execution_key: &execution_key,
        flow_key: &flow_key,
    };
    let received = inputs::read(&state, req, target).await?;
    let mut ended = platform.subscribe_ended();
    let schedule_date = match params.text("scheduleDate") {
        Some(d) => Some(
            chrono::DateTime::parse_from_rfc3339(d)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    ApiError::invalid(
                        "scheduleDate",
                        format!("`{d}` is not an ISO-8601 date-time like 2025-01-31T10:00:00Z"),
                    )
                })?,
        ),
        None => None,
    };
    let options = CreateOptions {
        labels,
        id: Some(execution_id.clone()),
        schedule_date,
        ..Default::default()
    };
    let execution = match platform
        .create_execution(&flow, received.values, options)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            inputs::discard(&state, &received.uploaded).await;
            return Err(match e {
                ServiceError::Inputs(errs) => inputs_error(&errs),
                other => other.into(),
            });
        }
    };
    if !wait {
        return Ok(Json(execution).into_response());
    }
    let ended = until_ended(&state, &execution_id, &mut ended).await?;
    Ok(Json(ended).into_response())
}

/// Waits for execution `id` to end and returns it; `ended` was subscribed before the
/// execution was created (so its end cannot be missed), and the record is read again every
/// poll interval (an end in another process sends no notification here).
pub(crate) async fn until_ended(
    state: &AppState,
    id: &str,
    ended: &mut broadcast::Receiver<(String, RunState)>,
) -> Result<Execution, ApiError> {
    loop {
        match state.platform().execution(id).await? {
            Some(e) if e.state.current.is_terminated() => return Ok(e),
            Some(_) => {}
            None => return Err(execution_not_found(id)),
        }
        wait_change(ended, state.options().poll_interval).await;
    }
}

/// `GET /api/v1/executions/{executionId}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(load(state.platform(), &id).await?))
}

/// `GET /api/v1/executions/search?namespace=&flowId=&state=&labels=&q=&page=&size=`
/// (also `GET /api/v1/executions`): Kestra's page `{results, total}`, newest first.
pub(crate) async fn search(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let page = params.number("page", 1, 1)?;
    let size = params.number("size", 10, 1)?;
    let flow_id = params.text("flowId");
    if let Some(f) = flow_id {
        check_id("flowId", f)?;
    }
    let mut states = Vec::new();
    for s in params.all("state") {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            states
                .push(RunState::parse(part).ok_or_else(|| {
                    ApiError::invalid("state", format!("unknown state `{part}`"))
                })?);
        }
    }
    let labels = params.labels()?;
    let q = params.text("q").map(str::to_lowercase);
    let date = |key: &'static str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        params
            .text(key)
            .map(|d| {
                chrono::DateTime::parse_from_rfc3339(d)
                    .map(|d| d.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        ApiError::invalid(key, format!("`{d}` is not an ISO-8601 date-time"))
                    })
            })
            .transpose()
    };
    let (start, end) = (date("startDate")?, date("endDate")?);
    let platform = state.platform();
    let namespaces = match params.text("namespace") {
        Some(ns) => {
            check_namespace(ns)?;
            let mut all: Vec<String> = crate::catalog::namespaces(platform)
                .await?
                .into_iter()
                .filter(|n| n.starts_with(&format!("{ns}.")))
                .collect();
            all.insert(0, ns.to_owned());
            all
        }
        None => crate::catalog::namespaces(platform).await?,
    };
    // Every matching execution is counted; only the newest `page * size` are kept.
    let keep_n = page.saturating_mul(size);
    let newest_first = |a: &Execution, b: &Execution| {
        b.state
            .start_date
            .cmp(&a.state.start_date)
            .then_with(|| a.id.cmp(&b.id))
    };
    let mut seen = std::collections::HashSet::new();
    let mut total = 0usize;
    let mut found: Vec<Execution> = Vec::new();
    for ns in &namespaces {
        let mut cursor = None;
        loop {
            let (records, next) = platform
                .repos
                .executions
                .list_page(ns, flow_id, SEARCH_PAGE, cursor)
                .await?;
            for rec in records {
                let e = rec.execution;
                let began = e.state.start_date;
                let keep = (states.is_empty() || states.contains(&e.state.current))
                    && start.is_none_or(|s| began.is_some_and(|b| b >= s))
                    && end.is_none_or(|x| began.is_some_and(|b| b <= x))
                    && labels.iter().all(|l| {
                        e.labels
                            .iter()
                            .any(|x| x.key == l.key && x.value == l.value)
                    })
                    && q.as_deref().is_none_or(|q| {
                        e.id.to_lowercase().contains(q)
                            || e.flow_id.to_lowercase().contains(q)
                            || e.namespace.to_lowercase().contains(q)
                    });
                if keep && seen.insert(e.id.clone()) {
                    total += 1;
                    found.push(e);
                }
            }
            if found.len() > keep_n.saturating_mul(2).saturating_add(SEARCH_PAGE) {
                found.sort_by(newest_first);
                found.truncate(keep_n);
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    found.sort_by(newest_first);
    let results: Vec<Execution> = found
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .collect();
    Ok(Json(json!({ "results": results, "total": total })))
}

/// `DELETE /api/v1/executions/{executionId}/kill`: 202 once the kill is sent; 409 when
/// the execution already ended.
pub(crate) async fn kill(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let e = load(state.platform(), &id).await?;
    if e.state.current.is_terminated() {
        return Err(ApiError::conflict(format!(
            "Execution '{id}' is already terminated ({})",
            e.state.current
        )));
    }
    state.platform().send_event(&id, Event::Kill).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/executions/{executionId}/restart`: same execution, new attempts of its
/// failed task runs; 409 unless FAILED, KILLED, WARNING or PAUSED.
pub(crate) async fn restart(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    let e = load(state.platform(), &id).await?;
    if !matches!(
        e.state.current,
        RunState::Failed | RunState::Killed | RunState::Warning | RunState::Paused
    ) {
        return Err(ApiError::conflict(format!(
            "Execution '{id}' cannot be restarted: it is {}",
            e.state.current
        )));
    }
    state.platform().send_event(&id, Event::Restart).await?;
    Ok(Json(e))
}

/// `POST /api/v1/executions/{executionId}/replay?taskRunId=`: a new execution.
pub(crate) async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Execution>, ApiError> {
    let e = load(state.platform(), &id).await?;
    let task_run = q
        .get("taskRunId")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    if let Some(t) = task_run
        && e.task_run(t).is_none()
    {
        return Err(ApiError::invalid(
            "taskRunId",
            format!("task run '{t}' is not part of execution '{id}'"),
        ));
    }
    let replayed = state.platform().replay(&id, task_run).await?;
    Ok(Json(replayed))
}

/// `POST /api/v1/executions/{executionId}/state` with `{taskRunId, state}`.
pub(crate) async fn change_state(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Execution>, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!("expected a JSON body {{taskRunId, state}}: {e}"))
    })?;
    let e = load(state.platform(), &id).await?;
    let task_run = body["taskRunId"].as_str().unwrap_or_default().to_owned();
    if e.task_run(&task_run).is_none() {
        return Err(ApiError::invalid(
            "taskRunId",
            format!("task run '{task_run}' is not part of execution '{id}'"),
        ));
    }
    let new_state = body["state"]
        .as_str()
        .and_then(RunState::parse)
        .filter(|s| s.is_terminated())
        .ok_or_else(|| {
            ApiError::invalid(
                "state",
                "state must be a terminal state such as SUCCESS, WARNING or FAILED",
            )
        })?;
    state
        .platform()
        .send_event(
            &id,
            Event::ChangeTaskRunState {
                task_run_id: task_run,
                state: new_state,
            },
        )
        .await?;
    Ok(Json(e))
}

/// `POST /api/v1/executions/{executionId}/resume`: `onResume` inputs as multipart, JSON or
/// form; 204; 409 when the execution is not PAUSED; 422 naming an invalid input.
pub(crate) async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let platform = state.platform().clone();
    let e = load(&platform, &id).await?;
    if e.state.current != RunState::Paused {
        return Err(ApiError::conflict(format!(
            "Execution '{id}' is not paused ({})",
            e.state.current
        )));
    }
    let flow = platform
        .load_flow(&e.namespace, &e.flow_id, Some(e.flow_revision))
        .await?;
    // The engine resumes the first paused task run: its `onResume` inputs are the ones.
    let pause: Option<&Pause> = e
        .task_run_list
        .iter()
        .find(|r| r.state.current == RunState::Paused)
        .and_then(|r| flow.find_task(&r.task_id))
        .and_then(|t| t.spec::<Pause>());
    let declared: Vec<kite_flow::model::input::Input> =
        pause.map(|p| p.on_resume.clone()).unwrap_or_default();
    let execution_key = storage_key(&e)?;
    let flow_key = StorageKey::for_flow(&e.namespace, &e.flow_id)?;
    let target = Target {
        declared: &declared,
        execution_key: &execution_key,
        flow_key: &flow_key,
    };
    let received = inputs::read(&state, req, target).await?;
    let resolved =
        kite_flow::inputs::resolve(&declared, &received.values, &kite_flow::inputs::NoRenderer);
    if let Err(errs) = resolved {
        inputs::discard(&state, &received.uploaded).await;
        return Err(inputs_error(&errs));
    }
    platform
        .send_event(
            &id,
            Event::Resume {
                inputs: received.values,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/executions/{executionId}`: the record and its files; 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let platform = state.platform();
    let e = load(platform, &id).await?;
    let legacy = StorageKey::legacy_for_execution(&e.namespace, &e.flow_id, &e.id)?;
    for prefix in [storage_key(&e)?, legacy] {
        for key in platform.storage.list(&prefix).await? {
            platform.storage.delete(&key).await?;
        }
    }
    platform.repos.executions.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The storage key of `?path=` if it is a file of execution `e` (422 when malformed, 403
/// when outside the execution's folder: the folder is the security boundary).
fn file_key(e: &Execution, params: &Params) -> Result<StorageKey, ApiError> {
    let Some(path) = params.text("path") else {
        return Err(ApiError::invalid(
            "path",
            "`path` is required: a kestra:/// URI of a file of this execution",
        ));
    };
    let key = StorageKey::parse_uri(path)
        .map_err(|err| ApiError::invalid("path", format!("Invalid path: {err}")))?;
    let prefix = storage_key(e)?;
    // Files written before the key layout changed stay under the execution's old folder.
    let legacy = StorageKey::legacy_for_execution(&e.namespace, &e.flow_id, &e.id)?;
    if !key.is_under(&prefix) && !key.is_under(&legacy) {
        return Err(ApiError::forbidden(format!(
            "Invalid prefix path: {path} is not a file of execution '{}' (files live under {})",
            e.id,
            prefix.to_uri()
        ))
        .with_field("path"));
    }
    Ok(key)
}

/// `GET /api/v1/executions/{executionId}/file?path=kestra:///...`: streams the file.
pub(crate) async fn file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let platform = state.platform();
    let e = load(platform, &id).await?;
    let key = file_key(&e, &params)?;
    let size = platform.storage.size(&key).await?;
    let reader = platform.storage.open(&key).await?;
    let mut resp = Body::from_stream(ReaderStream::new(reader)).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::CONTENT_DISPOSITION,
        crate::disposition::attachment(key.file_name()),
    );
    Ok(resp)
}

/// `GET /api/v1/executions/{executionId}/file/metas?path=`: `{size}`.
pub(crate) async fn file_metas(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let platform = state.platform();
    let e = load(platform, &id).await?;
    let key = file_key(&e, &params)?;
    Ok(Json(json!({ "size": platform.storage.size(&key).await? })))
}

struct Follow {
    platform: Arc<Platform>,
    id: String,
    last: Option<String>,
    done: bool,
    ended: broadcast::Receiver<(String, RunState)>,
    poll: Duration,
}

async fn follow_next(mut s: Follow) -> Option<(Result<SseEvent, Infallible>, Follow)> {
    if s.done {
        return None;
    }
    loop {
        match s.platform.execution(&s.id).await {
            Ok(Some(e)) => {
                let terminated = e.state.current.is_terminated();
                let json = serde_json::to_string(&e).unwrap_or_default();
                if s.last.as_deref() != Some(json.as_str()) {
                    s.last = Some(json.clone());
                    s.done = terminated;
                    let event = SseEvent::default()
                        .id(if terminated { "end" } else { "progress" })
                        .data(json);
                    return Some((Ok(event), s));
                }
                if terminated {
                    return None;
                }
            }
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(execution = %s.id, "follow stopped: {err}");
                return None;
            }
        }
        wait_change(&mut s.ended, s.poll).await;
    }
}

/// `GET /api/v1/executions/{executionId}/follow`: server-sent events, the execution JSON on
/// every change (`id: progress`), the final one with `id: end`, then the stream closes.
pub(crate) async fn follow(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let platform = state.platform().clone();
    load(&platform, &id).await?;
    let init = Follow {
        ended: platform.subscribe_ended(),
        platform,
        id,
        last: None,
        done: false,
        poll: state.options().poll_interval,
    };
    Ok(Sse::new(futures::stream::unfold(init, follow_next)).keep_alive(KeepAlive::default()))
}
