//! `/api/v1/logs/{executionId}`: the log lines of an execution as JSON, as text, or as a
//! live stream of server-sent events.
//!
//! Filters: `minLevel` (TRACE < DEBUG < INFO < WARN < ERROR), `taskId`, `taskRunId`,
//! `attempt`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use kite_engine::model::{LogEntry, State as RunState};
use kite_engine::services::Platform;
use kite_flow::plugin::LogLevel;
use tokio::sync::broadcast;

use crate::AppState;
use crate::error::ApiError;
use crate::executions::{load, wait_change};
use crate::params::Params;

/// The filters of a log request.
#[derive(Debug, Clone, Default)]
struct Filter {
    min_level: Option<LogLevel>,
    task_id: Option<String>,
    task_run_id: Option<String>,
    attempt: Option<u32>,
}

impl Filter {
    fn from(params: &Params) -> Result<Self, ApiError> {
        let min_level = match params.text("minLevel") {
            None => None,
            Some(l) => {
                let upper = match l.to_ascii_uppercase().as_str() {
                    "WARNING" => "WARN".to_owned(),
                    other => other.to_owned(),
                };
                Some(
                    serde_json::from_value::<LogLevel>(serde_json::Value::String(upper)).map_err(
                        |_| {
                            ApiError::invalid(
                                "minLevel",
                                format!(
                                    "unknown level `{l}`: use TRACE, DEBUG, INFO, WARN or ERROR"
                                ),
                            )
                        },
                    )?,
                )
            }
        };
        let attempt = match params.text("attempt") {
            None => None,
            Some(a) => Some(a.parse().map_err(|_| {
                ApiError::invalid(
                    "attempt",
                    format!("`attempt` must be an integer, not `{a}`"),
                )
            })?),
        };
        Ok(Self {
            min_level,
            task_id: params.text("taskId").map(str::to_owned),
            task_run_id: params.text("taskRunId").map(str::to_owned),
            attempt,
        })
    }

    fn keeps(&self, l: &LogEntry) -> bool {
        self.min_level.is_none_or(|m| l.level >= m)
            && self
                .task_id
                .as_deref()
                .is_none_or(|t| l.task_id.as_deref() == Some(t))
            && self
                .task_run_id
                .as_deref()
                .is_none_or(|t| l.task_run_id.as_deref() == Some(t))
            && self.attempt.is_none_or(|a| l.attempt_number == Some(a))
    }
}

async fn lines(platform: &Platform, id: &str, filter: &Filter) -> Result<Vec<LogEntry>, ApiError> {
    let mut logs = platform.repos.logs.of_execution(id).await?;
    logs.retain(|l| filter.keeps(l));
    Ok(logs)
}

/// `GET /api/v1/logs/{executionId}`: the lines, oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Vec<LogEntry>>, ApiError> {
    let filter = Filter::from(&params)?;
    load(state.platform(), &id).await?;
    Ok(Json(lines(state.platform(), &id, &filter).await?))
}

fn level_name(l: LogLevel) -> String {
    serde_json::to_value(l)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `GET /api/v1/logs/{executionId}/download`: `timestamp LEVEL [task] message` lines.
pub(crate) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let filter = Filter::from(&params)?;
    load(state.platform(), &id).await?;
    let mut text = String::new();
    for l in lines(state.platform(), &id, &filter).await? {
        let task = l
            .task_id
            .as_deref()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{} {}{} {}\n",
            l.timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            level_name(l.level),
            task,
            l.message
        ));
    }
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        crate::disposition::attachment(&format!("{id}.log")),
    );
    Ok(resp)
}

struct Tail {
    platform: Arc<Platform>,
    id: String,
    filter: Filter,
    /// How many times each line (as JSON) was sent: lines may be stored out of order.
    seen: HashMap<String, usize>,
    pending: VecDeque<SseEvent>,
    done: bool,
    quiet_rounds: u8,
    ended: broadcast::Receiver<(String, RunState)>,
    poll: Duration,
}

async fn tail_next(mut s: Tail) -> Option<(Result<SseEvent, Infallible>, Tail)> {
    loop {
        if let Some(ev) = s.pending.pop_front() {
            return Some((Ok(ev), s));
        }
        if s.done {
            return None;
        }
        // Read the state before the lines: once terminated, these lines are the last.
        let terminated = match s.platform.execution(&s.id).await {
            Ok(Some(e)) => e.state.current.is_terminated(),
            Ok(None) => true,
            Err(_) => true,
        };
        let Ok(all) = lines(&s.platform, &s.id, &s.filter).await else {
            return None;
        };
        let mut counts: HashMap<String, usize> = HashMap::new();
        for l in all {
            let json = serde_json::to_string(&l).unwrap_or_default();
            let n = counts.entry(json.clone()).or_insert(0);
            *n += 1;
            let sent = s.seen.entry(json.clone()).or_insert(0);
            if *n > *sent {
                *sent += 1;
                s.pending
                    .push_back(SseEvent::default().id("progress").data(json));
            }
        }
        // The executor stores the last lines just after the final state: close only after
        // rounds without new lines once the execution is over.
        if terminated && s.pending.is_empty() {
            s.quiet_rounds += 1;
        } else {
            s.quiet_rounds = 0;
        }
        s.done = s.quiet_rounds >= 2;
        if s.pending.is_empty() && !s.done {
            wait_change(&mut s.ended, s.poll).await;
        }
    }
}

/// `GET /api/v1/logs/{executionId}/follow`: server-sent events, one line per event
/// (`id: progress`), until the execution ends and its last lines are sent.
pub(crate) async fn follow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let filter = Filter::from(&params)?;
    let platform = state.platform().clone();
    load(&platform, &id).await?;
    let init = Tail {
        ended: platform.subscribe_ended(),
        platform,
        id,
        filter,
        seen: HashMap::new(),
        pending: VecDeque::new(),
        done: false,
        quiet_rounds: 0,
        poll: state.options().poll_interval,
    };
    Ok(Sse::new(futures::stream::unfold(init, tail_next)).keep_alive(KeepAlive::default()))
}
