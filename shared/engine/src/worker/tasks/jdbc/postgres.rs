//! The PostgreSQL client of the JDBC tasks: `tokio-postgres` with rustls ([`tls`]), one
//! connection per query, rows streamed from the server (FETCH_ONE stops after one row).
//!
//! From the URL (the PostgreSQL JDBC driver's forms, see [`PgUrl`]): hosts and ports (tried
//! in order), the database, and the parameters `user`, `password`, `sslmode` (`disable`,
//! `allow`, `prefer` (default), `require`, `verify-ca`, `verify-full`), `ssl=true` (alone:
//! `verify-full`), `sslrootcert`/`sslcert`/`sslkey` (files on the worker),
//! `connectTimeout` (seconds, default 10), `ApplicationName` (default `kite`), `options`,
//! `currentSchema` (the `search_path`) and `targetServerType` (`any`, `primary`/`master`);
//! other parameters are ignored. The properties (`username`, `password`, `ssl`, `sslMode`,
//! `sslRootCert`, `sslCert`, `sslKey` as PEM texts) override the URL's.

use std::error::Error as StdError;
use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use kite_flow::tasks::jdbc::{Dialect, PgUrl, ssl_mode_name};
use serde_json::{Map, Value};
use tokio_postgres::config::{SslMode, TargetSessionAttrs};
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use super::sql;
use super::sqlite::missing_parameter;
use super::tls;
use super::{JdbcError, QuerySpec, Sink, describe_target};

type BoxError = Box<dyn StdError + Sync + Send>;

/// The driver's default `connectTimeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS mode and connector of `spec`: its properties over the URL's parameters.
fn tls_of(spec: &QuerySpec, url: &PgUrl) -> Result<(SslMode, tls::RustlsConnect), JdbcError> {
    let ssl = spec.ssl.ssl.unwrap_or_else(|| {
        url.param("ssl")
            .is_some_and(|s| s.is_empty() || s.eq_ignore_ascii_case("true"))
    });
    let written = spec
        .ssl
        .mode
        .clone()
        .or_else(|| url.param("sslmode").map(str::to_owned));
    let mode = match &written {
        Some(m) => ssl_mode_name(m).ok_or_else(|| {
            JdbcError::Invalid(format!(
                "`sslMode` must be one of DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA, \
                 VERIFY_FULL, got `{m}`"
            ))
        })?,
        // The JDBC driver: `ssl=true` alone means verify-full.
        None if ssl => "verify-full",
        None => "prefer",
    };
    let (ssl_mode, check) = match mode {
        "disable" => (SslMode::Disable, tls::Check::None),
        "allow" | "prefer" => (SslMode::Prefer, tls::Check::None),
        "require" => (SslMode::Require, tls::Check::None),
        "verify-ca" => (SslMode::Require, tls::Check::Chain),
        _ => (SslMode::Require, tls::Check::Full),
    };
    if ssl_mode == SslMode::Disable {
        return Ok((
            ssl_mode,
            tls::connector(tls::Check::None, &tls::Material::default())?,
        ));
    }
    // The URL's `sslrootcert`, `sslcert`, `sslkey` are files on the worker.
    let pem = |prop: &Option<String>, param: &str| -> Result<Option<String>, JdbcError> {
        if let Some(p) = prop {
            return Ok(Some(p.clone()));
        }
        match url.param(param) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path).map(Some).map_err(|e| {
                JdbcError::Invalid(format!("`{param}={path}`: cannot read the file: {e}"))
            }),
        }
    };
    let root_cert = pem(&spec.ssl.root_cert, "sslrootcert")?;
    let cert = pem(&spec.ssl.cert, "sslcert")?;
    let key = pem(&spec.ssl.key, "sslkey")?;
    let key_password = spec
        .ssl
        .key_password
        .clone()
        .or_else(|| url.param("sslpassword").map(str::to_owned));
    let connector = tls::connector(
        check,
        &tls::Material {
            root_cert: root_cert.as_deref(),
            cert: cert.as_deref(),
            key: key.as_deref(),
            key_password: key_password.as_deref(),
        },
    )?;
    Ok((ssl_mode, connector))
}

/// Builds the client configuration of `spec`, and its TLS connector.
fn config(spec: &QuerySpec) -> Result<(tokio_postgres::Config, tls::RustlsConnect), JdbcError> {
    let url = PgUrl::parse(&spec.url).map_err(JdbcError::Url)?;
    let mut cfg = tokio_postgres::Config::new();
    for (host, port) in &url.hosts {
        cfg.host(host);
        cfg.port(*port);
    }
    let user = spec
        .username
        .clone()
        .or_else(|| url.param("user").map(str::to_owned))
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            JdbcError::Invalid("no PostgreSQL user: set `username` (or `user=` in the URL)".into())
        })?;
    cfg.user(&user);
    if let Some(p) = spec
        .password
        .clone()
        .or_else(|| url.param("password").map(str::to_owned))
    {
        cfg.password(p);
    }
    if let Some(db) = &url.database {
        cfg.dbname(db);
    }
    cfg.application_name(url.param("ApplicationName").unwrap_or("kite"));
    let timeout = match url.param("connectTimeout") {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(t) => t
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                JdbcError::Url(format!(
                    "`connectTimeout` is a number of seconds, got `{t}`"
                ))
            })?,
    };
    if !timeout.is_zero() {
        cfg.connect_timeout(timeout);
    }
    let mut options: Vec<String> = url
        .param("options")
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(schema) = url.param("currentSchema") {
        options.push(format!("-c search_path={}", schema.replace(' ', "\\ ")));
    }
    if !options.is_empty() {
        cfg.options(options.join(" "));
    }
    let tls = tls_of(spec, &url)?;
    cfg.ssl_mode(tls.0);
    match url.param("targetServerType").map(str::to_ascii_lowercase) {
        None => {}
        Some(t) if t == "any" => {
            cfg.target_session_attrs(TargetSessionAttrs::Any);
        }
        Some(t) if t == "primary" || t == "master" => {
            cfg.target_session_attrs(TargetSessionAttrs::ReadWrite);
        }
        Some(t) => {
            return Err(JdbcError::Url(format!(
                "`targetServerType={t}` is not supported: use any or primary"
            )));
        }
    }
    Ok((cfg, tls.1))
}

/// Runs `spec` on PostgreSQL, rows to `sink`.
pub(crate) async fn execute(spec: &QuerySpec, sink: &mut Sink<'_>) -> Result<(), JdbcError> {
    let (cfg, tls) = config(spec)?;
    let target = describe_target(&spec.url);
    let (client, connection) = cfg
        .connect(tls)
        .await
        .map_err(|e| connect_error(&target, &e))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    // The connection task ends with the client; abort it if this future is dropped first.
    let _abort = AbortOnDrop(driver);
    let wants_rows = sink.wants_rows();
    if !wants_rows && spec.parameters.is_empty() {
        // The whole script as one simple query, as the JDBC driver sends it.
        return client
            .batch_execute(&spec.sql)
            .await
            .map_err(|e| JdbcError::Query(error_text(&e)));
    }
    let statements = sql::split(&spec.sql, Dialect::Postgres, !spec.parameters.is_empty());
    let Some(last) = statements.len().checked_sub(1) else {
        return Err(JdbcError::Invalid(
            "`sql` holds no statement (only comments or `;`)".into(),
        ));
    };
    for (i, st) in statements.iter().enumerate() {
        let params = st
            .names
            .iter()
            .map(|name| {
                spec.parameters
                    .get(name)
                    .map(|v| TextParam(v.clone()))
                    .ok_or_else(|| missing_parameter(&format!(":{name}"), name, &spec.parameters))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let statement = client
            .prepare(&st.text)
            .await
            .map_err(|e| JdbcError::Query(error_text(&e)))?;
        if i < last || !wants_rows {
            client
                .execute_raw(&statement, params.iter())
                .await
                .map_err(|e| JdbcError::Query(error_text(&e)))?;
            continue;
        }
        let stream = client
            .query_raw(&statement, params.iter())
            .await
            .map_err(|e| JdbcError::Query(error_text(&e)))?;
        futures::pin_mut!(stream);
        while let Some(row) = stream
            .try_next()
            .await
            .map_err(|e| JdbcError::Query(error_text(&e)))?
        {
            let mut map = Map::with_capacity(row.len());
            for (idx, col) in row.columns().iter().enumerate() {
                let raw: Raw<'_> = row
                    .try_get(idx)
                    .map_err(|e| JdbcError::Query(error_text(&e)))?;
                let value = match raw.0 {
                    None => Value::Null,
                    Some(bytes) => decode(col.type_(), bytes, spec.time_zone).map_err(|e| {
                        JdbcError::Query(format!(
                            "cannot read column `{}` of type {}: {e}",
                            col.name(),
                            col.type_()
                        ))
                    })?,
                };
                map.insert(col.name().to_owned(), value);
            }
            if !sink.push(map).await? {
                break;
            }
        }
    }
    Ok(())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn connect_error(target: &str, e: &tokio_postgres::Error) -> JdbcError {
    let retryable = match e.as_db_error() {
        // 28xxx: invalid authorization (bad password, no such role, pg_hba rejection);
        // 3D000: no such database.
        Some(db) => {
            let code = db.code().code();
            !(code.starts_with("28") || code == "3D000")
        }
        None => {
            let text = e.to_string();
            // A refused certificate or a bad configuration stays so; a refused or lost
            // connection may not.
            ![
                "authentication error",
                "invalid configuration",
                "error performing TLS handshake",
            ]
            .iter()
            .any(|p| text.starts_with(p))
        }
    };
    JdbcError::Connect {
        target: target.to_owned(),
        message: error_text(e),
        retryable,
    }
}

/// The message of a client error: the server's (`ERROR: ... (SQLSTATE ...)`, with its detail,
/// hint and position), or the client's with its causes.
pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(d) = db.detail() {
            text.push_str(&format!("\n  Detail: {d}"));
        }
        if let Some(h) = db.hint() {
            text.push_str(&format!("\n  Hint: {h}"));
        }
        if let Some(tokio_postgres::error::ErrorPosition::Original(p)) = db.position() {
            text.push_str(&format!("\n  Position: {p}"));
        }
        if db.code().code() == "42601" && db.message().contains("multiple commands") {
            text.push_str("\n  Hint: the statements of `sql` are separated by `;`");
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// A column value as the server sent it (binary format), or NULL.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, BoxError> {
        Ok(Raw(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// A parameter sent in text format: the server parses it as the type it inferred.
#[derive(Debug)]
struct TextParam(Value);

impl ToSql for TextParam {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if self.0.is_null() {
            return Ok(IsNull::Yes);
        }
        let text = match ty.kind() {
            Kind::Array(_) => array_literal(&self.0),
            _ => super::super::value_text(&self.0),
        };
        out.extend_from_slice(text.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A PostgreSQL array literal (`{1,"a b",NULL,{2,3}}`) for a JSON value.
fn array_literal(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::Null => "NULL".to_owned(),
                    Value::Array(_) => array_literal(i),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => quote_element(s),
                    Value::Object(_) => quote_element(&i.to_string()),
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn quote_element(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A float as JSON: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub(crate) fn float(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn get<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T, BoxError> {
    T::from_sql(ty, raw)
}

fn be_i32(raw: &[u8], at: usize) -> Result<i32, BoxError> {
    raw.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| "truncated value".into())
}

fn be_i64(raw: &[u8], at: usize) -> Result<i64, BoxError> {
    raw.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| "truncated value".into())
}

/// Decodes one non-NULL value of type `ty` to JSON.
fn decode(ty: &Type, raw: &[u8], tz: chrono_tz::Tz) -> Result<Value, BoxError> {
    Ok(match *ty {
        Type::BOOL => Value::Bool(get(ty, raw)?),
        Type::INT2 => Value::from(get::<i16>(ty, raw)?),
        Type::INT4 => Value::from(get::<i32>(ty, raw)?),
        Type::INT8 => Value::from(get::<i64>(ty, raw)?),
        Type::OID => Value::from(get::<u32>(ty, raw)?),
        Type::CHAR => Value::String(char::from(get::<i8>(ty, raw)? as u8).to_string()),
        Type::FLOAT4 => {
            let f: f32 = get(ty, raw)?;
            // Through its shortest text, so 0.1f32 reads 0.1, not 0.10000000149011612.
            float(f.to_string().parse().unwrap_or(f64::from(f)))
        }
        Type::FLOAT8 => float(get(ty, raw)?),
        Type::NUMERIC => numeric(raw)?,
        Type::MONEY => {
            let cents = be_i64(raw, 0)?;
            numeric_value(&format!(
                "{}{}.{:02}",
                if cents < 0 { "-" } else { "" },
                (cents / 100).unsigned_abs(),
                (cents % 100).unsigned_abs()
            ))
        }
        Type::JSON | Type::JSONB => get::<Value>(ty, raw)?,
        Type::BYTEA => base64(raw),
        Type::UUID => Value::String(uuid::Uuid::from_slice(raw)?.to_string()),
        Type::DATE => match be_i32(raw, 0)? {
            i32::MAX => Value::String("infinity".into()),
            i32::MIN => Value::String("-infinity".into()),
            _ => Value::String(get::<NaiveDate>(ty, raw)?.format("%Y-%m-%d").to_string()),
        },
        Type::TIME => Value::String(time_text(get::<NaiveTime>(ty, raw)?)),
        Type::TIMETZ => {
            let time: NaiveTime = get(&Type::TIME, raw.get(..8).ok_or("truncated value")?)?;
            // The zone is stored in seconds west of UTC.
            let east = -be_i32(raw, 8)?;
            Value::String(format!("{}{}", time_text(time), offset_text(east)))
        }
        Type::TIMESTAMP => match be_i64(raw, 0)? {
            i64::MAX => Value::String("infinity".into()),
            i64::MIN => Value::String("-infinity".into()),
            _ => {
                let t: NaiveDateTime = get(ty, raw)?;
                Value::String(format!(
                    "{}T{}",
                    t.date().format("%Y-%m-%d"),
                    time_text(t.time())
                ))
            }
        },
        Type::TIMESTAMPTZ => match be_i64(raw, 0)? {
            i64::MAX => Value::String("infinity".into()),
            i64::MIN => Value::String("-infinity".into()),
            _ => {
                let t: DateTime<Utc> = get(ty, raw)?;
                Value::String(
                    t.with_timezone(&tz)
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true),
                )
            }
        },
        Type::INTERVAL => {
            Value::String(interval(be_i64(raw, 0)?, be_i32(raw, 8)?, be_i32(raw, 12)?))
        }
        Type::INET | Type::CIDR => Value::String(inet(raw)?),
        Type::BIT | Type::VARBIT => Value::String(bits(raw)?),
        _ => match ty.kind() {
            Kind::Array(elem) => array(elem, raw, tz)?,
            Kind::Domain(base) => decode(base, raw, tz)?,
            Kind::Composite(fields) => composite(fields, raw, tz)?,
            _ => match std::str::from_utf8(raw) {
                // Enums, text-like extension types (citext...), xml: their text.
                Ok(s) => Value::String(s.to_owned()),
                Err(_) => base64(raw),
            },
        },
    })
}

fn time_text(t: NaiveTime) -> String {
    t.format("%H:%M:%S%.f").to_string()
}

fn offset_text(east_secs: i32) -> String {
    if east_secs == 0 {
        return "Z".into();
    }
    let sign = if east_secs < 0 { '-' } else { '+' };
    let a = east_secs.unsigned_abs();
    let mut s = format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60);
    if !a.is_multiple_of(60) {
        s.push_str(&format!(":{:02}", a % 60));
    }
    s
}

/// An interval as an ISO-8601 duration (`P1Y2M3DT4H5M6.5S`; each part keeps its sign).
fn interval(micros: i64, days: i32, months: i32) -> String {
    let mut out = String::from("P");
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        out.push_str(&format!("{years}Y"));
    }
    if months != 0 {
        out.push_str(&format!("{months}M"));
    }
    if days != 0 {
        out.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        out.push('T');
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        let (h, min, s, frac) = (
            m / 3_600_000_000,
            (m / 60_000_000) % 60,
            (m / 1_000_000) % 60,
            m % 1_000_000,
        );
        if h != 0 {
            out.push_str(&format!("{sign}{h}H"));
        }
        if min != 0 {
            out.push_str(&format!("{sign}{min}M"));
        }
        if s != 0 || frac != 0 {
            if frac == 0 {
                out.push_str(&format!("{sign}{s}S"));
            } else {
                let f = format!("{frac:06}");
                out.push_str(&format!("{sign}{s}.{}S", f.trim_end_matches('0')));
            }
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

fn inet(raw: &[u8]) -> Result<String, BoxError> {
    let (family, bits, len) = match raw {
        [f, b, _is_cidr, n, ..] => (*f, *b, usize::from(*n)),
        _ => return Err("truncated value".into()),
    };
    let addr = raw.get(4..4 + len).ok_or("truncated value")?;
    let (text, max) = match family {
        2 => {
            let a: [u8; 4] = addr.try_into().map_err(|_| "bad IPv4 address")?;
            (std::net::Ipv4Addr::from(a).to_string(), 32)
        }
        _ => {
            let a: [u8; 16] = addr.try_into().map_err(|_| "bad IPv6 address")?;
            (std::net::Ipv6Addr::from(a).to_string(), 128)
        }
    };
    Ok(if bits == max {
        text
    } else {
        format!("{text}/{bits}")
    })
}

fn bits(raw: &[u8]) -> Result<String, BoxError> {
    let n = usize::try_from(be_i32(raw, 0)?).map_err(|_| "bad bit length")?;
    let data = raw.get(4..).ok_or("truncated value")?;
    Ok((0..n)
        .map(|i| {
            let byte = data.get(i / 8).copied().unwrap_or(0);
            if byte & (0x80 >> (i % 8)) != 0 {
                '1'
            } else {
                '0'
            }
        })
        .collect())
}

/// A `numeric` (base-10000 digits) as a JSON number when a double holds it exactly, else as
/// its decimal text.
fn numeric(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        raw.get(i * 2..i * 2 + 2)
            .and_then(|b| b.try_into().ok())
            .map(i16::from_be_bytes)
            .ok_or_else(|| "truncated numeric".into())
    };
    let ndigits = usize::try_from(word(0)?).map_err(|_| "bad numeric")?;
    let weight = i32::from(word(1)?);
    let sign = word(2)? as u16;
    let dscale = usize::try_from(word(3)?).map_err(|_| "bad numeric")?;
    match sign {
        0xC000 => return Ok(Value::String("NaN".into())),
        0xD000 => return Ok(Value::String("Infinity".into())),
        0xF000 => return Ok(Value::String("-Infinity".into())),
        _ => {}
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(i32::from(word(4 + i)?));
    }
    let digit = |pos: i32| -> i32 {
        usize::try_from(pos)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut int_part = String::new();
    if weight < 0 {
        int_part.push('0');
    } else {
        for pos in 0..=weight {
            if pos == 0 {
                int_part.push_str(&digit(pos).to_string());
            } else {
                int_part.push_str(&format!("{:04}", digit(pos)));
            }
        }
    }
    let mut frac = String::new();
    let mut pos = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", digit(pos)));
        pos += 1;
    }
    frac.truncate(dscale);
    let negative = sign == 0x4000;
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    text.push_str(&int_part);
    if !frac.is_empty() {
        text.push('.');
        text.push_str(&frac);
    }
    Ok(numeric_value(&text))
}

/// A decimal text as a JSON number when that loses nothing (an `i64`, or a double whose
/// shortest text is the same number), else as the text.
fn numeric_value(text: &str) -> Value {
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    let trimmed = if trimmed == "-0" { "0" } else { trimmed };
    if let Ok(i) = trimmed.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = trimmed.parse::<f64>()
        && f.is_finite()
        && f.to_string() == trimmed
    {
        return float(f);
    }
    Value::String(text.to_owned())
}

/// An array (any number of dimensions) as nested JSON arrays.
fn array(elem: &Type, raw: &[u8], tz: chrono_tz::Tz) -> Result<Value, BoxError> {
    let ndim = usize::try_from(be_i32(raw, 0)?).map_err(|_| "bad array")?;
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(usize::try_from(be_i32(raw, 12 + d * 8)?).map_err(|_| "bad array")?);
    }
    let mut at = 12 + ndim * 8;
    let total: usize = if ndim == 0 { 0 } else { dims.iter().product() };
    let mut items = Vec::with_capacity(total);
    for _ in 0..total {
        let len = be_i32(raw, at)?;
        at += 4;
        if len < 0 {
            items.push(Value::Null);
            continue;
        }
        let len = len as usize;
        let bytes = raw.get(at..at + len).ok_or("truncated array")?;
        at += len;
        items.push(decode(elem, bytes, tz)?);
    }
    if ndim == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    // Nest from the innermost dimension out.
    let mut level = items;
    for &d in dims.iter().skip(1).rev() {
        level = level
            .chunks(d.max(1))
            .map(|c| Value::Array(c.to_vec()))
            .collect();
    }
    Ok(Value::Array(level))
}

/// A composite (row) value as an object of its fields.
fn composite(
    fields: &[tokio_postgres::types::Field],
    raw: &[u8],
    tz: chrono_tz::Tz,
) -> Result<Value, BoxError> {
    let count = usize::try_from(be_i32(raw, 0)?).map_err(|_| "bad composite")?;
    let mut at = 4;
    let mut out = Map::new();
    for i in 0..count {
        at += 4; // the field's type oid
        let len = be_i32(raw, at)?;
        at += 4;
        let name = fields
            .get(i)
            .map(|f| f.name().to_owned())
            .unwrap_or_else(|| format!("f{}", i + 1));
        if len < 0 {
            out.insert(name, Value::Null);
            continue;
        }
        let len = len as usize;
        let bytes = raw.get(at..at + len).ok_or("truncated composite")?;
        at += len;
        let value = match fields.get(i) {
            Some(f) => decode(f.type_(), bytes, tz)?,
            None => base64(bytes),
        };
        out.insert(name, value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_texts_become_numbers_when_exact() {
        assert_eq!(numeric_value("12.50"), serde_json::json!(12.5));
        assert_eq!(numeric_value("-3"), serde_json::json!(-3));
        assert_eq!(numeric_value("0.000"), serde_json::json!(0));
        assert_eq!(
            numeric_value("12345678901234567890.123"),
            Value::String("12345678901234567890.123".into())
        );
    }

    #[test]
    fn intervals_are_iso_durations() {
        assert_eq!(interval(0, 0, 0), "PT0S");
        assert_eq!(interval(3_723_500_000, 2, 14), "P1Y2M2DT1H2M3.5S");
        assert_eq!(interval(-1_000_000, 0, 0), "PT-1S");
    }

    #[test]
    fn array_literals_quote_text() {
        assert_eq!(
            array_literal(&serde_json::json!([1, "a \"b\"", null, [2, 3]])),
            "{1,\"a \\\"b\\\"\",NULL,{2,3}}"
        );
    }
}
