//! Logs. Table `logs`: one item per append (the lines a task attempt or an executor step
//! produced together, a JSON array), key `executionId|timestamp|digest`; index `execution`
//! (partition = execution id, sort = `timestamp|digest`, the timestamp being the earliest of
//! the append's lines). One item per append rather than per line: a task's logs cost one
//! write, not one per line inside a transaction.
//!
//! An append is idempotent: the key is derived from the lines' content, so the same lines
//! appended again (a redelivered handler re-sending its outbox) find their item already
//! there. Appends larger than [`CHUNK_BYTES`] are split into several items, and a line never
//! makes an item too large: its message is cut to [`MAX_LOG_MESSAGE_BYTES`] (further if its
//! JSON is still over [`MAX_LINE_JSON_BYTES`]) with a marker saying so. A chunk the store
//! refuses for good (too large, invalid) is replaced by one line saying what was lost, so an
//! append never fails forever; store failures that may pass (throttling, network) are
//! returned for the caller to retry.
//!
//! Reading streams the items in index order and merges their lines by time: an item's sort
//! timestamp is a lower bound of its lines and of every later item's, so the lines before
//! it can be handed out, and only the overlapping lines stay in memory.

use std::sync::Arc;

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use futures::Stream;
use kite_ports::{Document, DocumentError, DocumentStore, Expect, Query, RangeCond};

use super::RepoError;
use crate::model::LogEntry;
use crate::model::log::{MARKER_SLACK_BYTES, MAX_LOG_MESSAGE_BYTES, truncated};

const TABLE: &str = "logs";

/// Most bytes of JSON lines stored in one item (the store's limit is 400 000 bytes).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Most bytes of one line's JSON in an item (a message full of characters that JSON escapes
/// grows up to six times).
pub const MAX_LINE_JSON_BYTES: usize = 128 * 1024;

/// Items read per query page when streaming (each at most [`CHUNK_BYTES`] of lines).
const READ_PAGE_ITEMS: usize = 64;

/// A line as JSON, its message cut until it fits in [`MAX_LINE_JSON_BYTES`].
fn encode(e: &LogEntry) -> Result<String, RepoError> {
    let to_json =
        |e: &LogEntry| serde_json::to_string(e).map_err(|x| RepoError::Invalid(x.to_string()));
    let json = to_json(e)?;
    if json.len() <= MAX_LINE_JSON_BYTES
        && e.message.len() <= MAX_LOG_MESSAGE_BYTES + MARKER_SLACK_BYTES
    {
        return Ok(json);
    }
    let mut keep = MAX_LOG_MESSAGE_BYTES.min(e.message.len());
    loop {
        let mut cut = e.clone();
        cut.message = truncated(&e.message, keep);
        let json = to_json(&cut)?;
        if json.len() <= MAX_LINE_JSON_BYTES || keep == 0 {
            return Ok(json);
        }
        keep /= 2;
    }
}

/// The log repository.
#[derive(Clone, Debug)]
pub struct LogRepo {
    docs: Arc<dyn DocumentStore>,
}

impl LogRepo {
    /// Over `docs`.
    pub fn new(docs: Arc<dyn DocumentStore>) -> Self {
        Self { docs }
    }

    /// Appends lines: one item per execution and chunk of at most [`CHUNK_BYTES`].
    pub async fn append(&self, entries: &[LogEntry]) -> Result<(), RepoError> {
        let mut by_execution: Vec<(&str, Vec<(String, &LogEntry)>)> = Vec::new();
        for e in entries {
            let json = encode(e)?;
            match by_execution
                .iter_mut()
                .find(|(id, _)| *id == e.execution_id)
            {
                Some((_, lines)) => lines.push((json, e)),
                None => by_execution.push((&e.execution_id, vec![(json, e)])),
            }
        }
        let at = entries
            .iter()
            .map(|e| e.timestamp)
            .min()
            .unwrap_or_default();
        for (execution_id, lines) in by_execution {
            let mut chunk: Vec<(String, &LogEntry)> = Vec::new();
            let mut size = 0;
            for line in lines {
                if !chunk.is_empty() && size + line.0.len() + 1 > CHUNK_BYTES {
                    self.put_chunk(execution_id, at, &std::mem::take(&mut chunk))
                        .await?;
                    size = 0;
                }
                size += line.0.len() + 1;
                chunk.push(line);
            }
            if !chunk.is_empty() {
                self.put_chunk(execution_id, at, &chunk).await?;
            }
        }
        Ok(())
    }

    async fn put_chunk(
        &self,
        execution_id: &str,
        at: DateTime<Utc>,
        lines: &[(String, &LogEntry)],
    ) -> Result<(), RepoError> {
        let json = format!(
            "[{}]",
            lines
                .iter()
                .map(|(j, _)| j.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        match self.put_item(execution_id, at, json).await {
            Err(RepoError::Store(
                e @ (DocumentError::TooLarge { .. } | DocumentError::Invalid { .. }),
            )) => {
                // Refused for good: retrying would fail forever and hold back every later
                // line. One line says what was lost instead.
                tracing::error!(execution = %execution_id, lines = lines.len(), error = %e, "log lines could not be stored");
                let Some((_, first)) = lines.first() else {
                    return Ok(());
                };
                let mut marker = (*first).clone();
                marker.level = kite_flow::plugin::LogLevel::Error;
                marker.message = format!("[{} log lines could not be stored: {e}]", lines.len());
                let json = format!("[{}]", encode(&marker)?);
                match self.put_item(execution_id, at, json).await {
                    Err(RepoError::Store(
                        e @ (DocumentError::TooLarge { .. } | DocumentError::Invalid { .. }),
                    )) => {
                        tracing::error!(execution = %execution_id, error = %e, "the log marker could not be stored either");
                        Ok(())
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn put_item(
        &self,
        execution_id: &str,
        at: DateTime<Utc>,
        json: String,
    ) -> Result<(), RepoError> {
        let digest = {
            use sha2::Digest as _;
            let d = sha2::Sha256::digest(json.as_bytes());
            d.iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let sort = format!("{}|{digest}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        let key = format!("{execution_id}|{sort}");
        let doc = Document::new(json).index("execution", execution_id.to_owned(), sort);
        match self.docs.put(TABLE, &key, doc, Expect::Absent).await {
            Ok(_) => Ok(()),
            // The same lines, appended before.
            Err(DocumentError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Lines of an execution, oldest first (lines of one append keep their order).
    pub async fn of_execution(&self, execution_id: &str) -> Result<Vec<LogEntry>, RepoError> {
        use futures::TryStreamExt as _;
        self.stream(execution_id).try_collect().await
    }

    /// The lines of an execution as a stream, oldest first (lines of one append keep their
    /// order), reading the store page by page.
    pub fn stream(
        &self,
        execution_id: &str,
    ) -> impl Stream<Item = Result<LogEntry, RepoError>> + Send + 'static {
        let reader = Reader {
            docs: self.docs.clone(),
            query: Query::new(TABLE, "execution", execution_id)
                .range(RangeCond::All)
                .limit(READ_PAGE_ITEMS),
            more: true,
            pending: BTreeMap::new(),
            ready: VecDeque::new(),
            seq: 0,
        };
        futures::stream::try_unfold(reader, Reader::next)
    }
}

/// The state of [`LogRepo::stream`].
struct Reader {
    docs: Arc<dyn DocumentStore>,
    query: Query,
    more: bool,
    /// Lines read but maybe not the earliest yet, by (timestamp, reading order).
    pending: BTreeMap<(DateTime<Utc>, u64), LogEntry>,
    /// Lines in order, to hand out.
    ready: VecDeque<LogEntry>,
    seq: u64,
}

impl Reader {
    async fn next(mut self) -> Result<Option<(LogEntry, Self)>, RepoError> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Ok(Some((e, self)));
            }
            if !self.more {
                return Ok(self.pending.pop_first().map(|(_, e)| (e, self)));
            }
            let page = self.docs.query(&self.query).await?;
            for i in &page.items {
                // Every line of this item and of the later ones is at or after this time.
                if let Some(bound) = i
                    .sort
                    .split('|')
                    .next()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                {
                    let bound = bound.with_timezone(&Utc);
                    while let Some(entry) = self.pending.first_entry() {
                        if entry.key().0 >= bound {
                            break;
                        }
                        self.ready.push_back(entry.remove());
                    }
                }
                let corrupt = |source| RepoError::Corrupt {
                    what: "log",
                    key: i.key.clone(),
                    source,
                };
                let lines: Vec<LogEntry> = if i.doc.value.starts_with('[') {
                    serde_json::from_str(&i.doc.value).map_err(corrupt)?
                } else {
                    // One line per item, as stored before.
                    vec![serde_json::from_str(&i.doc.value).map_err(corrupt)?]
                };
                for l in lines {
                    self.seq += 1;
                    self.pending.insert((l.timestamp, self.seq), l);
                }
            }
            match page.next {
                Some(c) => self.query.cursor = Some(c),
                None => self.more = false,
            }
        }
    }
}
