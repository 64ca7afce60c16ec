//! The SQLite client of the JDBC tasks: `rusqlite` on the blocking pool, rows handed to the
//! async side through a small channel (so FETCH_ONE stops stepping after one row and STORE
//! never holds the rows). A query whose attempt is abandoned (timeout, failure to store)
//! is interrupted.
//!
//! The database is the URL's file (a relative path resolved in the task's working
//! directory), opened read-only with `?mode=ro`, or a private in-memory database. The
//! `sqliteFile` property copies a file of internal storage to that path first;
//! `outputDbFile` stores the file afterwards (output `databaseUri`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kite_flow::tasks::jdbc::{Dialect, SqliteUrl};
use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

use super::sql::{self, Statement};
use super::{JdbcError, QuerySpec, Sink};
use crate::worker::{RunContext, TaskError};

/// How long a statement waits for a lock held by another connection to the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows in flight between the blocking query and its consumer.
const CHANNEL_ROWS: usize = 64;

/// Resolves the database file of `spec` for a task run: copies `sqlite_file` there when
/// given; returns the path to store afterwards when `output_db` is set.
pub(crate) async fn prepare_file(
    ctx: &RunContext,
    spec: &mut QuerySpec,
    sqlite_file: Option<&str>,
    output_db: bool,
) -> Result<Option<PathBuf>, TaskError> {
    let target = SqliteUrl::parse(&spec.url).map_err(TaskError::new)?;
    let path = match target {
        SqliteUrl::Memory if sqlite_file.is_none() && !output_db => return Ok(None),
        SqliteUrl::Memory => {
            return Err(TaskError::new(
                "`sqliteFile` and `outputDbFile` need a database file in `url`, e.g. \
                 jdbc:sqlite:my.db (a path in the task's working directory)",
            ));
        }
        SqliteUrl::File { path, .. } => resolve(spec.base_dir.as_deref(), &path),
    };
    if let Some(uri) = sqlite_file {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let key = ctx.input_key(uri.trim())?;
        ctx.storage.get_to_file(&key, &path).await?;
    }
    Ok(output_db.then_some(path))
}

fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
    let p = Path::new(path);
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// The interrupt handle of the running query, and whether its consumer gave up.
#[derive(Default)]
struct InterruptSlot {
    handle: Option<rusqlite::InterruptHandle>,
    cancelled: bool,
}

/// Interrupts the query when dropped while armed.
struct InterruptOnDrop {
    slot: Arc<Mutex<InterruptSlot>>,
    armed: bool,
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(mut s) = self.slot.lock() {
            s.cancelled = true;
            if let Some(h) = &s.handle {
                h.interrupt();
            }
        }
    }
}

/// Runs `spec` on SQLite, rows to `sink`.
pub(crate) async fn execute(spec: &QuerySpec, sink: &mut Sink<'_>) -> Result<(), JdbcError> {
    let file = match SqliteUrl::parse(&spec.url).map_err(JdbcError::Url)? {
        SqliteUrl::Memory => None,
        SqliteUrl::File { path, read_only } => {
            Some((resolve(spec.base_dir.as_deref(), &path), read_only))
        }
    };
    let statements = sql::split(&spec.sql, Dialect::Sqlite, false);
    if statements.is_empty() {
        return Err(JdbcError::Invalid(
            "`sql` holds no statement (only comments or `;`)".into(),
        ));
    }
    let wants_rows = sink.wants_rows();
    let params = spec.parameters.clone();
    let slot = Arc::new(Mutex::new(InterruptSlot::default()));
    let mut guard = InterruptOnDrop {
        slot: slot.clone(),
        armed: true,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL_ROWS);
    let job = tokio::task::spawn_blocking(move || {
        run_blocking(file, &statements, &params, wants_rows, &tx, &slot)
    });
    while let Some(row) = rx.recv().await {
        if !sink.push(row).await? {
            break;
        }
    }
    // The query stops at its next row once nobody receives them.
    drop(rx);
    let result = job
        .await
        .map_err(|e| JdbcError::Local(format!("the SQLite query crashed: {e}")))?;
    guard.armed = false;
    result
}

fn run_blocking(
    file: Option<(PathBuf, bool)>,
    statements: &[Statement],
    params: &Map<String, Value>,
    wants_rows: bool,
    tx: &tokio::sync::mpsc::Sender<Map<String, Value>>,
    slot: &Mutex<InterruptSlot>,
) -> Result<(), JdbcError> {
    use rusqlite::OpenFlags;
    let conn = match &file {
        None => rusqlite::Connection::open_in_memory(),
        Some((path, read_only)) => {
            let flags = if *read_only {
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
            } else {
                OpenFlags::default()
            };
            rusqlite::Connection::open_with_flags(path, flags)
        }
    }
    .map_err(|e| {
        let what = match &file {
            Some((p, _)) => format!("the SQLite database {}", p.display()),
            None => "an in-memory SQLite database".to_owned(),
        };
        JdbcError::Local(format!("cannot open {what}: {e}"))
    })?;
    {
        let mut s = slot
            .lock()
            .map_err(|_| JdbcError::Local("the SQLite query's state is poisoned".into()))?;
        if s.cancelled {
            return Ok(());
        }
        s.handle = Some(conn.get_interrupt_handle());
    }
    conn.busy_timeout(BUSY_TIMEOUT).map_err(query_error)?;
    let last = statements.len() - 1;
    for (i, st) in statements.iter().enumerate() {
        let mut stmt = conn.prepare(&st.text).map_err(query_error)?;
        bind(&mut stmt, params)?;
        let fetch = wants_rows && i == last;
        let columns: Vec<(String, bool)> = stmt
            .columns()
            .map(|c| {
                let boolean = c
                    .decl_type()
                    .is_some_and(|t| t.to_ascii_uppercase().contains("BOOL"));
                (c.name().to_owned(), boolean)
            })
            .collect();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(query_error)? {
            if !fetch {
                continue;
            }
            let mut map = Map::with_capacity(columns.len());
            for (idx, (name, boolean)) in columns.iter().enumerate() {
                let v = row.get_ref(idx).map_err(query_error)?;
                map.insert(name.clone(), to_json(v, *boolean));
            }
            if tx.blocking_send(map).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn query_error(e: rusqlite::Error) -> JdbcError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            JdbcError::Local("the SQLite query was interrupted".into())
        }
        _ => JdbcError::Query(format!("SQLite: {e}")),
    }
}

/// Binds the named placeholders of `stmt` from `params`.
fn bind(stmt: &mut rusqlite::Statement<'_>, params: &Map<String, Value>) -> Result<(), JdbcError> {
    for idx in 1..=stmt.parameter_count() {
        let Some(name) = stmt.parameter_name(idx).map(str::to_owned) else {
            return Err(JdbcError::Invalid(
                "positional `?` placeholders are not supported: name them (`:name`) and give \
                 their values in `parameters`"
                    .into(),
            ));
        };
        if name.starts_with('?') {
            return Err(JdbcError::Invalid(format!(
                "numbered placeholders (`{name}`) are not supported: name them (`:name`) and \
                 give their values in `parameters`"
            )));
        }
        let key = name.trim_start_matches([':', '@', '$']);
        let value = params
            .get(key)
            .ok_or_else(|| missing_parameter(&name, key, params))?;
        stmt.raw_bind_parameter(idx, to_sqlite(value))
            .map_err(query_error)?;
    }
    Ok(())
}

/// The error for a placeholder without a value.
pub(crate) fn missing_parameter(
    written: &str,
    key: &str,
    params: &Map<String, Value>,
) -> JdbcError {
    let given = if params.is_empty() {
        "`parameters` is not set".to_owned()
    } else {
        format!(
            "`parameters` has {}",
            params
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    JdbcError::Invalid(format!(
        "`sql` uses the placeholder `{written}` but {given}: add `{key}` to `parameters`"
    ))
}

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Bool(b) => S::Integer(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => S::Integer(i),
            (None, Some(f)) => S::Real(f),
            _ => S::Text(n.to_string()),
        },
        Value::String(s) => S::Text(s.clone()),
        other => S::Text(other.to_string()),
    }
}

fn to_json(v: ValueRef<'_>, boolean: bool) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if boolean && (i == 0 || i == 1) => Value::Bool(i == 1),
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => super::postgres::float(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}
