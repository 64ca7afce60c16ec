//! The JDBC plugins' queries (`io.kestra.plugin.jdbc.{postgresql,sqlite}.Query`) and the
//! function the JDBC triggers call, [`run_query`].
//!
//! **Clients.** PostgreSQL through `tokio-postgres` ([`postgres`]) with TLS by rustls (the
//! JDBC driver's `sslmode`s, `prefer` by default; Kestra's `ssl*` properties). SQLite
//! through `rusqlite` ([`sqlite`]) on the blocking pool, an attempt that times out
//! interrupting its query.
//!
//! **Statements.** `sql` may hold several statements separated by `;`: they run in order,
//! each committed on its own (PostgreSQL's NONE without parameters sends the script as one
//! simple query, run by the server in one implicit transaction), and the rows fetched are
//! those of the last one.
//!
//! **Parameters.** `parameters` gives the values of named `:name` placeholders. On
//! PostgreSQL they become `$n` parameters sent as text, so the server converts them to the
//! type it infers (a JSON array given for an array type becomes an array literal, an object
//! its JSON text); SQLite binds them natively (`:name`, `@name`, `$name`; `null`, booleans as
//! 0/1, numbers, text, other values as JSON text). A placeholder missing from `parameters`
//! fails the query; positional `?` placeholders are refused.
//!
//! **Rows** are JSON objects, columns in order: integers and floats as numbers (NaN and
//! infinities as strings), `numeric` as a number when a double holds it exactly, as a string
//! otherwise, booleans, text, `json`/`jsonb` as JSON, `bytea`/BLOB as base64, `uuid`,
//! `inet`, `bit` as text, `date` `YYYY-MM-DD`, `time` `HH:MM:SS[.f]`, `timestamp` as a local
//! ISO date-time, `timestamptz` as an ISO date-time with offset in `timeZoneId` (default
//! UTC), `interval` as an ISO-8601 duration, arrays as JSON arrays, composites as objects,
//! enums as their label, NULL as `null`; any other type as its text when it is UTF-8, else
//! base64. SQLite values keep their storage class (a column declared BOOLEAN gives
//! `true`/`false`).
//!
//! **STORE** writes the rows to internal storage as this project stores row files
//! elsewhere (`log.Fetch`, ForEachItem's merge): one JSON object per line, in a `.ion` file
//! (JSON is a subset of Ion text, so Kestra's readers accept it; timestamps are strings and
//! bytes base64 strings, not Ion's typed values). The file is streamed, never held whole.
//!
//! **Secrets.** The password (property or URL parameter) is never logged: the runners log
//! the host, port, database and user only, and add the password to the attempt's masks.

pub mod postgres;
mod sql;
pub mod sqlite;
mod tls;

use std::path::PathBuf;

use async_trait::async_trait;
use kite_flow::plugin::LogLevel;
use kite_flow::property::Dyn;
use kite_flow::tasks::jdbc::{Dialect, JdbcQuery, PgUrl, SqliteUrl, deprecated_fetch_type};
use kite_ports::{Storage, StorageError, StorageKey};
use serde_json::{Map, Value};
use tokio::io::{AsyncWrite, AsyncWriteExt};

pub use kite_flow::tasks::jdbc::FetchType;

use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// One query, its properties rendered.
#[derive(Clone)]
pub struct QuerySpec {
    /// The JDBC URL (`jdbc:postgresql:...` or `jdbc:sqlite:...`: it picks the client).
    pub url: String,
    /// The user (over the URL's `user`).
    pub username: Option<String>,
    /// The password (over the URL's `password`).
    pub password: Option<String>,
    /// The SQL.
    pub sql: String,
    /// What to do with the rows.
    pub fetch_type: FetchType,
    /// Values of the `:name` placeholders.
    pub parameters: Map<String, Value>,
    /// The zone `timestamptz` values are given in.
    pub time_zone: chrono_tz::Tz,
    /// Where a relative SQLite path is resolved (the process's directory when `None`).
    pub base_dir: Option<PathBuf>,
    /// PostgreSQL TLS (over the URL's `sslmode`, `sslrootcert`...).
    pub ssl: SslOptions,
}

/// PostgreSQL TLS options (Kestra's `ssl*` properties, rendered).
#[derive(Clone, Default)]
pub struct SslOptions {
    /// `ssl: true` (VERIFY_FULL unless `mode` says otherwise).
    pub ssl: Option<bool>,
    /// `sslMode` (`VERIFY_FULL` or `verify-full`...).
    pub mode: Option<String>,
    /// `sslRootCert`: CA certificates, PEM.
    pub root_cert: Option<String>,
    /// `sslCert`: the client certificate, PEM.
    pub cert: Option<String>,
    /// `sslKey`: its private key, unencrypted PEM.
    pub key: Option<String>,
    /// `sslKeyPassword` (refused: encrypted keys are not supported).
    pub key_password: Option<String>,
}

impl std::fmt::Debug for SslOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslOptions")
            .field("ssl", &self.ssl)
            .field("mode", &self.mode)
            .field("root_cert", &self.root_cert.is_some())
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.as_ref().map(|_| "******"))
            .finish_non_exhaustive()
    }
}

impl QuerySpec {
    /// A query of `sql` on `url`, every other property at its default.
    pub fn new(url: impl Into<String>, sql: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            sql: sql.into(),
            fetch_type: FetchType::None,
            parameters: Map::new(),
            time_zone: chrono_tz::UTC,
            base_dir: None,
            ssl: SslOptions::default(),
        }
    }

    /// The password and private key given, by property or URL parameter (to mask them).
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.password.iter().cloned().collect();
        out.extend(self.ssl.key.iter().cloned());
        out.extend(self.ssl.key_password.iter().cloned());
        if let Ok(u) = PgUrl::parse(&self.url)
            && let Some(p) = u.param("password")
        {
            out.push(p.to_owned());
        }
        out.retain(|p| !p.is_empty());
        out
    }
}

impl std::fmt::Debug for QuerySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySpec")
            .field("target", &describe_target(&self.url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "******"))
            .field("fetch_type", &self.fetch_type)
            .field("parameters", &self.parameters.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a query returned, per its fetch type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOutput {
    /// FETCH_ONE: the first row, if any.
    pub row: Option<Map<String, Value>>,
    /// FETCH: every row.
    pub rows: Option<Vec<Map<String, Value>>>,
    /// STORE: the `kestra:///` URI of the rows' file.
    pub uri: Option<String>,
    /// The number of rows fetched or stored (0 for NONE).
    pub size: u64,
}

impl QueryOutput {
    /// Kestra's outputs: `row` and `size` (FETCH_ONE), `rows` and `size` (FETCH), `uri` and
    /// `size` (STORE), nothing for NONE.
    pub fn to_outputs(&self, fetch_type: FetchType) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(r) = &self.row {
            out.insert("row".into(), Value::Object(r.clone()));
        }
        if let Some(rows) = &self.rows {
            out.insert(
                "rows".into(),
                Value::Array(rows.iter().cloned().map(Value::Object).collect()),
            );
        }
        if let Some(u) = &self.uri {
            out.insert("uri".into(), Value::String(u.clone()));
        }
        if fetch_type != FetchType::None {
            out.insert("size".into(), Value::from(self.size));
        }
        out
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum JdbcError {
    /// The URL is not one of the supported databases, or malformed (never retried).
    #[error("invalid `url`: {0}")]
    Url(String),
    /// A property is unusable (never retried).
    #[error("{0}")]
    Invalid(String),
    /// The database could not be reached or refused the login.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// Host, port and database (no credentials).
        target: String,
        /// The client's or server's message.
        message: String,
        /// Whether trying again later may work (refused connection, timeout; not a bad
        /// password).
        retryable: bool,
    },
    /// The database rejected a statement: its message (never retried).
    #[error("{0}")]
    Query(String),
    /// Storing the rows failed (retryable when the storage says so).
    #[error("storing the rows failed: {0}")]
    Storage(#[from] StorageError),
    /// A local file (SQLite database) or the blocking pool failed.
    #[error("{0}")]
    Local(String),
}

impl JdbcError {
    /// Whether the same query may succeed when tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            JdbcError::Connect { retryable, .. } => *retryable,
            JdbcError::Storage(e) => matches!(e, StorageError::Backend { .. }),
            JdbcError::Local(_) => true,
            _ => false,
        }
    }
}

/// Where the rows of the running query go.
pub(crate) enum Sink<'a> {
    /// NONE: rows are not read.
    Discard,
    /// FETCH_ONE.
    One(Option<Map<String, Value>>),
    /// FETCH.
    All(Vec<Map<String, Value>>),
    /// STORE: JSON lines written to `out`.
    Lines {
        out: &'a mut (dyn AsyncWrite + Send + Unpin),
        count: u64,
    },
}

impl Sink<'_> {
    /// Whether rows are read at all.
    pub(crate) fn wants_rows(&self) -> bool {
        !matches!(self, Sink::Discard)
    }

    /// Takes one row; `false` when no more are wanted.
    pub(crate) async fn push(&mut self, row: Map<String, Value>) -> Result<bool, JdbcError> {
        match self {
            Sink::Discard => Ok(false),
            Sink::One(slot) => {
                *slot = Some(row);
                Ok(false)
            }
            Sink::All(rows) => {
                rows.push(row);
                Ok(true)
            }
            Sink::Lines { out, count } => {
                let mut line = Value::Object(row).to_string();
                line.push('\n');
                out.write_all(line.as_bytes())
                    .await
                    .map_err(|e| JdbcError::Local(format!("writing the rows failed: {e}")))?;
                *count += 1;
                Ok(true)
            }
        }
    }
}

/// Runs `spec` on the database its URL names. With STORE the rows are written to
/// `store_key` (one JSON object per line); the output's `uri` is that key's URI.
pub async fn run_query(
    spec: &QuerySpec,
    storage: &dyn Storage,
    store_key: &StorageKey,
) -> Result<QueryOutput, JdbcError> {
    let dialect = dialect_of(&spec.url)?;
    match spec.fetch_type {
        FetchType::None => {
            execute(dialect, spec, &mut Sink::Discard).await?;
            Ok(QueryOutput::default())
        }
        FetchType::FetchOne => {
            let mut sink = Sink::One(None);
            execute(dialect, spec, &mut sink).await?;
            let row = match sink {
                Sink::One(r) => r,
                _ => None,
            };
            Ok(QueryOutput {
                size: u64::from(row.is_some()),
                row,
                ..QueryOutput::default()
            })
        }
        FetchType::Fetch => {
            let mut sink = Sink::All(Vec::new());
            execute(dialect, spec, &mut sink).await?;
            let rows = match sink {
                Sink::All(r) => r,
                _ => Vec::new(),
            };
            Ok(QueryOutput {
                size: rows.len() as u64,
                rows: Some(rows),
                ..QueryOutput::default()
            })
        }
        FetchType::Store => {
            let (writer, reader) = tokio::io::duplex(64 * 1024);
            let produce = async move {
                let mut writer = tokio::io::BufWriter::new(writer);
                let mut sink = Sink::Lines {
                    out: &mut writer,
                    count: 0,
                };
                let result = execute(dialect, spec, &mut sink).await;
                let count = match sink {
                    Sink::Lines { count, .. } => count,
                    _ => 0,
                };
                let closed = async {
                    writer.flush().await?;
                    writer.shutdown().await
                }
                .await;
                result?;
                closed.map_err(|e| JdbcError::Local(format!("writing the rows failed: {e}")))?;
                Ok::<u64, JdbcError>(count)
            };
            // The reader is dropped as soon as the storage stops reading, so a failed
            // upload cannot leave the query blocked on a full pipe.
            let consume = async move {
                let mut reader = reader;
                storage.put_stream(store_key, &mut reader).await
            };
            let (produced, consumed) = tokio::join!(produce, consume);
            let failure = match (produced, consumed) {
                (Ok(count), Ok(_)) => {
                    return Ok(QueryOutput {
                        uri: Some(store_key.to_uri()),
                        size: count,
                        ..QueryOutput::default()
                    });
                }
                // A failed upload makes the query's writes fail: report the upload's error.
                (Ok(_) | Err(JdbcError::Local(_)), Err(e)) => JdbcError::Storage(e),
                (Err(e), _) => e,
            };
            // No partial file is left behind.
            let _ = storage.delete(store_key).await;
            Err(failure)
        }
    }
}

async fn execute(dialect: Dialect, spec: &QuerySpec, sink: &mut Sink<'_>) -> Result<(), JdbcError> {
    match dialect {
        Dialect::Postgres => postgres::execute(spec, sink).await,
        Dialect::Sqlite => sqlite::execute(spec, sink).await,
    }
}

/// The database a URL names.
pub fn dialect_of(url: &str) -> Result<Dialect, JdbcError> {
    let lower = url.trim().to_ascii_lowercase();
    [Dialect::Postgres, Dialect::Sqlite]
        .into_iter()
        .find(|d| lower.starts_with(d.scheme()))
        .ok_or_else(|| {
            JdbcError::Url(
                "Kite's JDBC plugins support `jdbc:postgresql:` and `jdbc:sqlite:` URLs".into(),
            )
        })
}

/// The URL without credentials: `host:port/database` or the SQLite path.
pub fn describe_target(url: &str) -> String {
    if let Ok(u) = PgUrl::parse(url) {
        let hosts: Vec<String> = u
            .hosts
            .iter()
            .map(|(h, p)| {
                if h.contains(':') {
                    format!("[{h}]:{p}")
                } else {
                    format!("{h}:{p}")
                }
            })
            .collect();
        return format!(
            "{}/{}",
            hosts.join(","),
            u.database.as_deref().unwrap_or_default()
        );
    }
    match SqliteUrl::parse(url) {
        Ok(SqliteUrl::Memory) => "an in-memory SQLite database".into(),
        Ok(SqliteUrl::File { path, .. }) => path,
        Err(_) => "the database".into(),
    }
}

/// The worker runner of both Query types.
#[derive(Debug)]
pub struct Runner {
    dialect: Dialect,
}

impl Runner {
    /// The runner of `io.kestra.plugin.jdbc.postgresql.Query`.
    pub fn postgres() -> Self {
        Self {
            dialect: Dialect::Postgres,
        }
    }

    /// The runner of `io.kestra.plugin.jdbc.sqlite.Query`.
    pub fn sqlite() -> Self {
        Self {
            dialect: Dialect::Sqlite,
        }
    }

    fn props<'a>(&self, ctx: &'a RunContext) -> Result<&'a JdbcQuery, TaskError> {
        use kite_flow::tasks::jdbc::{postgresql::PostgresQuery, sqlite::SqliteQuery};
        match self.dialect {
            Dialect::Postgres => ctx.task.spec::<PostgresQuery>().map(|q| &q.0),
            Dialect::Sqlite => ctx.task.spec::<SqliteQuery>().map(|q| &q.0),
        }
        .ok_or_else(|| TaskError::new(format!("not a {} Query task", self.dialect.name())))
    }
}

/// Renders a fetch type: the deprecated booleans first, then `fetchType` (default NONE).
pub(crate) fn render_fetch_type(
    ctx: &RunContext,
    fetch_type: Option<&Dyn<FetchType>>,
    fetch_one: Option<bool>,
    store: Option<bool>,
    fetch: Option<bool>,
) -> Result<FetchType, TaskError> {
    if let Some(f) = deprecated_fetch_type(fetch_one, store, fetch) {
        return Ok(f);
    }
    match fetch_type {
        None => Ok(FetchType::None),
        Some(Dyn::Value(f)) => Ok(*f),
        Some(Dyn::Expr(e)) => {
            let text = ctx.render(e)?;
            FetchType::parse(&text).ok_or_else(|| {
                TaskError::new(format!(
                    "`fetchType` must be one of FETCH_ONE, FETCH, STORE, NONE, got `{text}`"
                ))
            })
        }
    }
}

/// Renders `parameters` to a JSON object.
pub(crate) fn render_parameters(
    ctx: &RunContext,
    parameters: Option<&Dyn<indexmap::IndexMap<String, Value>>>,
) -> Result<Map<String, Value>, TaskError> {
    match parameters {
        None => Ok(Map::new()),
        Some(Dyn::Value(m)) => {
            let mut out = Map::new();
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => ctx.render_typed(s)?,
                    other => ctx.render_value(other)?,
                };
                out.insert(k.clone(), v);
            }
            Ok(out)
        }
        Some(Dyn::Expr(e)) => match ctx.render_typed(e)? {
            Value::Object(m) => Ok(m),
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(TaskError::new(format!(
                    "`parameters` must render to a map of names to values, got `{s}`"
                ))),
            },
            other => Err(TaskError::new(format!(
                "`parameters` must render to a map of names to values, got {other}"
            ))),
        },
    }
}

/// Renders `timeZoneId` (default UTC).
pub(crate) fn render_time_zone(
    ctx: &RunContext,
    tz: Option<&String>,
) -> Result<chrono_tz::Tz, TaskError> {
    match tz {
        None => Ok(chrono_tz::UTC),
        Some(t) => {
            let text = ctx.render(t)?;
            text.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                TaskError::new(format!(
                    "`timeZoneId`: `{text}` is not a valid time-zone ID (e.g. Europe/Paris, UTC)"
                ))
            })
        }
    }
}

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let props = self.props(ctx)?;
        let render_opt = |s: &Option<String>| s.as_ref().map(|v| ctx.render(v)).transpose();
        let url = match &props.url {
            Some(u) => ctx.render(u)?.trim().to_owned(),
            None => self.dialect.scheme().to_owned(),
        };
        let username = render_opt(&props.username)?;
        let password = render_opt(&props.password)?;
        let mut spec = QuerySpec {
            url,
            username,
            password,
            sql: ctx.render(&props.sql)?,
            fetch_type: render_fetch_type(
                ctx,
                props.fetch_type.as_ref(),
                props.fetch_one,
                props.store,
                props.fetch,
            )?,
            parameters: render_parameters(ctx, props.parameters.as_ref())?,
            time_zone: render_time_zone(ctx, props.time_zone_id.as_ref())?,
            base_dir: Some(ctx.workdir.clone()),
            ssl: SslOptions {
                ssl: match &props.ssl {
                    None => None,
                    Some(Dyn::Value(b)) => Some(*b),
                    Some(Dyn::Expr(e)) => {
                        Some(super::render_bool(ctx, &Value::String(e.clone()), "ssl")?)
                    }
                },
                mode: render_opt(&props.ssl_mode)?,
                root_cert: render_opt(&props.ssl_root_cert)?,
                cert: render_opt(&props.ssl_cert)?,
                key: render_opt(&props.ssl_key)?,
                key_password: render_opt(&props.ssl_key_password)?,
            },
        };
        if let Some(masks) = ctx.rt.masks() {
            for s in spec.secrets() {
                masks.add(&s);
            }
        }
        self.dialect.check_url(&spec.url).map_err(TaskError::new)?;
        if spec.sql.trim().is_empty() {
            return Err(TaskError::new(
                "`sql` rendered to an empty text: give the statement to run",
            ));
        }
        if let Some(size) = &props.fetch_size {
            super::render_u32(ctx, size, "fetchSize")?;
        }
        let sqlite_file = render_opt(&props.sqlite_file)?;
        let output_db = match &props.output_db_file {
            None => false,
            Some(Dyn::Value(b)) => *b,
            Some(Dyn::Expr(e)) => {
                super::render_bool(ctx, &Value::String(e.clone()), "outputDbFile")?
            }
        };
        let db_path = if self.dialect == Dialect::Sqlite {
            sqlite::prepare_file(ctx, &mut spec, sqlite_file.as_deref(), output_db).await?
        } else {
            None
        };
        let who = spec.username.clone().or_else(|| {
            PgUrl::parse(&spec.url)
                .ok()
                .and_then(|u| u.param("user").map(str::to_owned))
        });
        ctx.log(
            LogLevel::Info,
            format!(
                "Querying {} {}{} (fetchType {})",
                self.dialect.name(),
                describe_target(&spec.url),
                who.map(|u| format!(" as {u}")).unwrap_or_default(),
                spec.fetch_type.as_str()
            ),
        );
        ctx.log(LogLevel::Debug, format!("SQL: {}", spec.sql));
        let key = ctx.output_key(&format!("{}.ion", ctx.job.task_run_id))?;
        let output = run_query(&spec, ctx.storage.as_ref(), &key)
            .await
            .map_err(|e| TaskError::new(e.to_string()))?;
        match spec.fetch_type {
            FetchType::None => ctx.log(LogLevel::Info, "Query done"),
            FetchType::Store => ctx.log(
                LogLevel::Info,
                format!("Stored {} row(s) in {}", output.size, key.to_uri()),
            ),
            _ => ctx.log(LogLevel::Info, format!("Fetched {} row(s)", output.size)),
        }
        let mut outputs = output.to_outputs(spec.fetch_type);
        if let Some(path) = db_path {
            let uri = ctx
                .put_output_file(
                    &path,
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("database.db"),
                )
                .await?;
            outputs.insert("databaseUri".into(), Value::String(uri));
        }
        Ok(Output::success(outputs))
    }
}
