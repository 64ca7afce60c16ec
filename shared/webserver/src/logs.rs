//! `/api/v1/logs/{executionId}`: the log lines of an execution as JSON (all, or one page),
//! as streamed text, or as a live stream of server-sent events.
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
use futures::{Stream, TryStreamExt};
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

/// Largest `size` of a page of `GET /api/v1/logs/{executionId}`.
pub const MAX_LOG_PAGE_SIZE: usize = 10_000;

/// Header giving the number of lines that match the filters (all pages).
pub const TOTAL_HEADER: &str = "x-total-count";

/// `GET /api/v1/logs/{executionId}`: the lines, oldest first, as a plain array (Kestra's
/// shape). With `page` (1-based) and/or `size` (default 100, at most
/// [`MAX_LOG_PAGE_SIZE`]) only that page; without them every line. The header
/// `X-Total-Count` gives how many lines match in all. Lines are read from the store as a
/// stream: a page holds only its own lines in memory.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let filter = Filter::from(&params)?;
    let paged = params.get("page").is_some() || params.get("size").is_some();
    let (skip, take) = if paged {
        let page = params.number("page", 1, 1)?;
        let size = params.number("size", 100, 1)?;
        if size > MAX_LOG_PAGE_SIZE {
            return Err(ApiError::invalid(
                "size",
                format!("`size` must be at most {MAX_LOG_PAGE_SIZE}, not {size}"),
            ));
        }
        ((page - 1).saturating_mul(size), size)
    } else {
        (0, usize::MAX)
    };
    load(state.platform(), &id).await?;
    let mut stream = std::pin::pin!(state.platform().repos.logs.stream(&id));
    let mut total: u64 = 0;
    let mut out: Vec<LogEntry> = Vec::new();
    while let Some(l) = stream.try_next().await? {
        if !filter.keeps(&l) {
            continue;
        }
        let index = total as usize;
        total += 1;
        if index >= skip && index - skip < take {
            out.push(l);
        }
    }
    let mut resp = Json(out).into_response();
    resp.headers_mut()
        .insert(TOTAL_HEADER, HeaderValue::from(total));
    Ok(resp)
}

fn level_name(l: LogLevel) -> String {
    serde_json::to_value(l)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One line of the download: `timestamp LEVEL [task] message`.
fn text_line(l: &LogEntry) -> String {
    let task = l
        .task_id
        .as_deref()
        .map(|t| format!(" [{t}]"))
        .unwrap_or_default();
    format!(
        "{} {}{} {}\n",
        l.timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        level_name(l.level),
        task,
        l.message
    )
}

/// `GET /api/v1/logs/{executionId}/download`: `timestamp LEVEL [task] message` lines,
/// streamed as they are read from the store.
pub(crate) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let filter = Filter::from(&params)?;
    load(state.platform(), &id).await?;
    let lines = state
        .platform()
        .repos
        .logs
        .stream(&id)
        .try_filter(move |l| futures::future::ready(filter.keeps(l)))
        .map_ok(|l| text_line(&l))
        // A few lines per body chunk.
        .try_chunks(64)
        .map_ok(|chunk| axum::body::Bytes::from(chunk.concat()))
        .map_err(|e| {
            tracing::warn!(error = %e.1, "log download stopped");
            std::io::Error::other(e.1.to_string())
        });
    let mut resp = axum::body::Body::from_stream(lines).into_response();
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
