//! Kestra's JDBC plugins for PostgreSQL and SQLite: what their `Query` tasks and `Trigger`s
//! share — the [`FetchType`], the connection properties ([`JdbcQuery`]), the parsing of
//! their `jdbc:` URLs ([`PgUrl`], [`SqliteUrl`]) and the validation rules.
//!
//! The types themselves are one file each: [`postgresql`] and [`sqlite`] here, the
//! triggers in [`crate::triggers::jdbc`]. The engine runs them
//! (`kite_engine::worker::tasks::jdbc`).

pub mod postgresql;
pub mod sqlite;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::property::{Dyn, is_expression};

/// What a query does with the rows it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FetchType {
    /// The first row, as output `row`.
    FetchOne,
    /// Every row, as output `rows`.
    Fetch,
    /// Every row, in a file of internal storage (output `uri`).
    Store,
    /// Nothing: the statement runs, its rows are not read.
    #[default]
    None,
}

impl FetchType {
    /// Kestra's name (`FETCH_ONE`...).
    pub fn as_str(&self) -> &'static str {
        match self {
            FetchType::FetchOne => "FETCH_ONE",
            FetchType::Fetch => "FETCH",
            FetchType::Store => "STORE",
            FetchType::None => "NONE",
        }
    }

    /// Parses Kestra's name (case-insensitive).
    pub fn parse(text: &str) -> Option<FetchType> {
        match text.trim().to_ascii_uppercase().as_str() {
            "FETCH_ONE" => Some(FetchType::FetchOne),
            "FETCH" => Some(FetchType::Fetch),
            "STORE" => Some(FetchType::Store),
            "NONE" => Some(FetchType::None),
            _ => None,
        }
    }
}

/// The database a plugin talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `io.kestra.plugin.jdbc.postgresql.*`, URLs `jdbc:postgresql:...`.
    Postgres,
    /// `io.kestra.plugin.jdbc.sqlite.*`, URLs `jdbc:sqlite:...`.
    Sqlite,
}

impl Dialect {
    /// The URL prefix of the dialect.
    pub fn scheme(&self) -> &'static str {
        match self {
            Dialect::Postgres => "jdbc:postgresql:",
            Dialect::Sqlite => "jdbc:sqlite:",
        }
    }

    /// The database's name.
    pub fn name(&self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Sqlite => "SQLite",
        }
    }

    /// An example URL.
    pub fn example(&self) -> &'static str {
        match self {
            Dialect::Postgres => "jdbc:postgresql://localhost:5432/mydb",
            Dialect::Sqlite => "jdbc:sqlite:/data/my.db (or jdbc:sqlite::memory:)",
        }
    }

    /// The package of the plugin types for this dialect.
    pub fn package(&self) -> &'static str {
        match self {
            Dialect::Postgres => "io.kestra.plugin.jdbc.postgresql",
            Dialect::Sqlite => "io.kestra.plugin.jdbc.sqlite",
        }
    }

    /// Why `url` (rendered, or a literal) is not a URL of this dialect, with the fix.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if !lower.starts_with(self.scheme()) {
            let other = [Dialect::Postgres, Dialect::Sqlite]
                .into_iter()
                .find(|d| d != self && lower.starts_with(d.scheme()));
            let fix = if let Some(o) = other {
                format!(
                    "it is a {} URL: use a {} type (Query, Trigger) for it, or give a {} URL \
                     such as {}",
                    o.name(),
                    o.package(),
                    self.name(),
                    self.example()
                )
            } else if *self == Dialect::Postgres
                && (lower.starts_with("postgres://") || lower.starts_with("postgresql://"))
            {
                "write it in the JDBC form jdbc:postgresql://host:port/database, the user \
                 and password in `username` and `password`"
                    .to_owned()
            } else {
                format!("a {} URL looks like {}", self.name(), self.example())
            };
            return Err(format!(
                "`url` must start with `{}` for a {} plugin: {fix}",
                self.scheme(),
                self.name()
            ));
        }
        match self {
            Dialect::Postgres => PgUrl::parse(url).map(|_| ()),
            Dialect::Sqlite => SqliteUrl::parse(url).map(|_| ()),
        }
    }

    /// [`Self::check_url`] on a property that may hold an expression: only its literal
    /// start (before the first `{{`/`{%`) is checked then.
    pub fn check_url_property(&self, url: &str) -> Result<(), String> {
        if !is_expression(url) {
            return self.check_url(url);
        }
        let cut = [url.find("{{"), url.find("{%")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(0);
        let prefix = url[..cut].trim_start().to_ascii_lowercase();
        if prefix.is_empty() {
            return Ok(());
        }
        let scheme = self.scheme();
        if prefix.starts_with(scheme) || scheme.starts_with(prefix.as_str()) {
            Ok(())
        } else {
            // Report as if the literal part were the whole URL: same message, same fix.
            Err(self.check_url(&prefix).err().unwrap_or_else(|| {
                format!(
                    "`url` must start with `{scheme}` for a {} plugin",
                    self.name()
                )
            }))
        }
    }
}

/// The properties every JDBC `Query` task of Kite takes (Kestra's names).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JdbcQuery {
    /// The JDBC URL (`jdbc:postgresql://host:port/db?params`, `jdbc:sqlite:/path/db`,
    /// `jdbc:sqlite::memory:`). SQLite's default is an in-memory database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The user (overrides the URL's `user` parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password (overrides the URL's `password` parameter); never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The SQL: one statement, or several separated by `;` (the rows are those of the
    /// last one).
    pub sql: String,
    /// What to do with the rows (default NONE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_type: Option<Dyn<FetchType>>,
    /// Values of the named `:name` placeholders of `sql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Dyn<IndexMap<String, serde_json::Value>>>,
    /// Time zone of the timestamps with a time zone in the rows (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone_id: Option<String>,
    /// Rows fetched per round trip (accepted; rows are streamed in any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_size: Option<Dyn<u32>>,
    /// Deprecated: `fetchType: FETCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<bool>,
    /// Deprecated: `fetchType: FETCH_ONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_one: Option<bool>,
    /// Deprecated: `fetchType: STORE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// PostgreSQL: use TLS (`sslMode` VERIFY_FULL unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<Dyn<bool>>,
    /// PostgreSQL: DISABLE, ALLOW, PREFER (default), REQUIRE, VERIFY_CA or VERIFY_FULL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
    /// PostgreSQL: the CA certificate(s) the server's is checked against (PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_root_cert: Option<String>,
    /// PostgreSQL: the client certificate (PEM text), with `sslKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<String>,
    /// PostgreSQL: the client certificate's private key (unencrypted PEM text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_key: Option<String>,
    /// PostgreSQL: the client key's password (encrypted keys are refused at run time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_key_password: Option<String>,
    /// SQLite only: a database file of internal storage (`kestra:///...`) copied to the
    /// URL's path in the task's working directory before the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_file: Option<String>,
    /// SQLite only: store the database file after the query (output `databaseUri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_db_file: Option<Dyn<bool>>,
}

/// The JSON Schema of a plugin type wrapping `T` (`#[serde(transparent)]`): `T`'s own
/// object schema, inline (the registry merges its `properties` with the common ones), with
/// the type's `description`.
pub(crate) fn inline_schema<T: JsonSchema>(
    g: &mut schemars::SchemaGenerator,
    description: &str,
) -> schemars::Schema {
    let mut s = T::json_schema(g);
    s.insert("description".into(), description.into());
    s
}

/// Kestra's precedence of the deprecated booleans over `fetchType`: `fetchOne`, then
/// `store`, then `fetch`; `None` when none is set to true.
pub fn deprecated_fetch_type(
    fetch_one: Option<bool>,
    store: Option<bool>,
    fetch: Option<bool>,
) -> Option<FetchType> {
    if fetch_one == Some(true) {
        Some(FetchType::FetchOne)
    } else if store == Some(true) {
        Some(FetchType::Store)
    } else if fetch == Some(true) {
        Some(FetchType::Fetch)
    } else {
        None
    }
}

impl JdbcQuery {
    /// The problems of these properties for `dialect`: `(property, message)`.
    pub fn problems(&self, dialect: Dialect) -> Vec<(&'static str, String)> {
        let mut out = common_problems(
            dialect,
            self.url.as_deref(),
            &self.sql,
            self.time_zone_id.as_deref(),
        );
        out.extend(ssl_problems(dialect, self.ssl_props()));
        if dialect == Dialect::Postgres {
            if self.sqlite_file.is_some() {
                out.push((
                    "sqliteFile",
                    "`sqliteFile` is a SQLite property: remove it from this PostgreSQL task".into(),
                ));
            }
            if self.output_db_file.is_some() {
                out.push((
                    "outputDbFile",
                    "`outputDbFile` is a SQLite property: remove it from this PostgreSQL task"
                        .into(),
                ));
            }
        }
        out
    }

    /// The fetch type, when it is known before run time (the deprecated booleans first).
    pub fn static_fetch_type(&self) -> Option<FetchType> {
        deprecated_fetch_type(self.fetch_one, self.store, self.fetch).or(match &self.fetch_type {
            None => Some(FetchType::None),
            Some(Dyn::Value(f)) => Some(*f),
            Some(Dyn::Expr(_)) => None,
        })
    }

    /// The TLS properties.
    pub fn ssl_props(&self) -> SslProps<'_> {
        SslProps {
            ssl: self.ssl.as_ref(),
            mode: self.ssl_mode.as_deref(),
            others: [
                ("sslRootCert", self.ssl_root_cert.is_some()),
                ("sslCert", self.ssl_cert.is_some()),
                ("sslKey", self.ssl_key.is_some()),
                ("sslKeyPassword", self.ssl_key_password.is_some()),
            ],
        }
    }
}

/// The PostgreSQL TLS properties of a plugin, to validate them together.
#[derive(Debug, Clone, Copy)]
pub struct SslProps<'a> {
    /// `ssl`.
    pub ssl: Option<&'a Dyn<bool>>,
    /// `sslMode`.
    pub mode: Option<&'a str>,
    /// `sslRootCert`, `sslCert`, `sslKey`, `sslKeyPassword`: whether each is set.
    pub others: [(&'static str, bool); 4],
}

/// The JDBC driver's name of a Kestra `sslMode` (`VERIFY_FULL` → `verify-full`), if valid.
pub fn ssl_mode_name(mode: &str) -> Option<&'static str> {
    let m = mode.trim().to_ascii_lowercase().replace('_', "-");
    [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ]
    .into_iter()
    .find(|x| *x == m)
}

/// The problems of the TLS properties for `dialect`.
pub fn ssl_problems(dialect: Dialect, ssl: SslProps<'_>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let set = std::iter::once(("ssl", ssl.ssl.is_some()))
        .chain(std::iter::once(("sslMode", ssl.mode.is_some())))
        .chain(ssl.others);
    if dialect == Dialect::Sqlite {
        for (name, present) in set {
            if present {
                out.push((
                    name,
                    format!("`{name}` is a PostgreSQL property: remove it from this SQLite plugin"),
                ));
            }
        }
        return out;
    }
    if let Some(m) = ssl.mode
        && !is_expression(m)
        && ssl_mode_name(m).is_none()
    {
        out.push((
            "sslMode",
            format!(
                "`sslMode` must be one of DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA, VERIFY_FULL, got `{m}`"
            ),
        ));
    }
    out
}

/// The rules every JDBC plugin shares: `(property, message)` for each problem.
pub fn common_problems(
    dialect: Dialect,
    url: Option<&str>,
    sql: &str,
    time_zone_id: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match url {
        None if dialect == Dialect::Postgres => out.push((
            "url",
            format!(
                "`url` is required for a PostgreSQL plugin, e.g. {}",
                Dialect::Postgres.example()
            ),
        )),
        None => {}
        Some(u) => {
            if let Err(e) = dialect.check_url_property(u) {
                out.push(("url", e));
            }
        }
    }
    if sql.trim().is_empty() {
        out.push((
            "sql",
            "`sql` must not be empty: give the statement to run".into(),
        ));
    }
    if let Some(tz) = time_zone_id
        && !is_expression(tz)
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        out.push((
            "timeZoneId",
            format!("`timeZoneId`: `{tz}` is not a valid time-zone ID (e.g. Europe/Paris, UTC)"),
        ));
    }
    out
}

/// A parsed `jdbc:postgresql:` URL, as the PostgreSQL JDBC driver reads it:
/// `jdbc:postgresql:db`, `jdbc:postgresql:/`, `jdbc:postgresql://host[:port][,host2[:port2]][/db][?k=v&...]`
/// (IPv6 hosts in brackets; default host `localhost`, port 5432; names and values
/// percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// Hosts and ports, in order (at least one).
    pub hosts: Vec<(String, u16)>,
    /// The database (default: the server's, i.e. the user's name).
    pub database: Option<String>,
    /// The query parameters, in order (`user`, `password`, `sslmode`, ...).
    pub params: Vec<(String, String)>,
}

impl PgUrl {
    /// Parses `url`. The error never repeats the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<PgUrl, String> {
        let url = url.trim();
        let rest = strip_prefix_ci(url, "jdbc:postgresql:").ok_or_else(|| {
            format!(
                "a PostgreSQL URL starts with `jdbc:postgresql:`, e.g. {}",
                Dialect::Postgres.example()
            )
        })?;
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let mut params = Vec::new();
        if let Some(q) = query {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                params.push((percent_decode(k)?, percent_decode(v)?));
            }
        }
        let (hosts, database) = if let Some(after) = main.strip_prefix("//") {
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], Some(&after[i + 1..])),
                None => (after, None),
            };
            let mut hosts = Vec::new();
            if authority.is_empty() {
                hosts.push(("localhost".to_owned(), 5432));
            } else {
                for h in authority.split(',') {
                    hosts.push(parse_host_port(h)?);
                }
            }
            (hosts, path.map(str::to_owned))
        } else {
            let db = main.strip_prefix('/').unwrap_or(main);
            (vec![("localhost".to_owned(), 5432)], Some(db.to_owned()))
        };
        let database = match database {
            Some(d) if !d.is_empty() => Some(percent_decode(&d)?),
            _ => None,
        };
        if let Some(d) = &database
            && d.contains('/')
        {
            return Err(format!(
                "the database name `{d}` holds a `/`: the URL form is jdbc:postgresql://host:port/database"
            ));
        }
        Ok(PgUrl {
            hosts,
            database,
            params,
        })
    }

    /// The value of parameter `name` (case-sensitive, like the driver), the last one given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_host_port(h: &str) -> Result<(String, u16), String> {
    let h = h.trim();
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("the IPv6 host `{h}` misses its closing `]`"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected `{after}` after the host `[{host}]`")),
        };
        (host, port)
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    if host.is_empty() {
        return Err(format!("`{h}` has no host name"));
    }
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{p}` is not a port number (1 to 65535)"))?,
    };
    Ok((host.to_owned(), port))
}

/// A parsed `jdbc:sqlite:` URL, as the SQLite JDBC driver reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteUrl {
    /// `jdbc:sqlite:`, `jdbc:sqlite::memory:`, `jdbc:sqlite:file::memory:`: a private
    /// in-memory database.
    Memory,
    /// A database file (`jdbc:sqlite:/abs/path.db`, `jdbc:sqlite:relative.db`,
    /// `jdbc:sqlite:file:/path?mode=ro`).
    File {
        /// The path as written (relative paths are resolved by the runner).
        path: String,
        /// `?mode=ro` (or `open_mode=1`): opened read-only.
        read_only: bool,
    },
}

impl SqliteUrl {
    /// Parses `url`. Parameters after `?` other than `mode` are accepted and ignored.
    pub fn parse(url: &str) -> Result<SqliteUrl, String> {
        let url = url.trim();
        let rest = strip_prefix_ci(url, "jdbc:sqlite:").ok_or_else(|| {
            format!(
                "a SQLite URL starts with `jdbc:sqlite:`, e.g. {}",
                Dialect::Sqlite.example()
            )
        })?;
        if strip_prefix_ci(rest, ":resource:").is_some() {
            return Err(
                "`jdbc:sqlite::resource:` URLs (Java class-path resources) have no meaning in Kite: \
                 give a file path, or the file with `sqliteFile`"
                    .into(),
            );
        }
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let main = strip_prefix_ci(main, "file:").unwrap_or(main);
        let mut read_only = false;
        for pair in query.unwrap_or_default().split('&') {
            match pair.split_once('=') {
                Some(("mode", "ro")) | Some(("open_mode", "1")) => read_only = true,
                _ => {}
            }
        }
        if main.is_empty() || main == ":memory:" {
            return Ok(SqliteUrl::Memory);
        }
        Ok(SqliteUrl::File {
            path: percent_decode(main)?,
            read_only,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

fn percent_decode(s: &str) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a `%` in the URL is not followed by two hexadecimal digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a percent-escape in the URL is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_urls() {
        let u =
            PgUrl::parse("jdbc:postgresql://db.example:6543/sales?user=a&password=p%40ss").unwrap();
        assert_eq!(u.hosts, vec![("db.example".to_owned(), 6543)]);
        assert_eq!(u.database.as_deref(), Some("sales"));
        assert_eq!(u.param("password"), Some("p@ss"));
        let u = PgUrl::parse("jdbc:postgresql:sales").unwrap();
        assert_eq!(u.hosts, vec![("localhost".to_owned(), 5432)]);
        assert_eq!(u.database.as_deref(), Some("sales"));
        let u = PgUrl::parse("jdbc:postgresql://[::1]:5740,other/").unwrap();
        assert_eq!(
            u.hosts,
            vec![("::1".to_owned(), 5740), ("other".to_owned(), 5432)]
        );
        assert_eq!(u.database, None);
        assert!(PgUrl::parse("jdbc:postgresql://h:99999/db").is_err());
        assert!(PgUrl::parse("jdbc:postgresql://h:x/db").is_err());
        assert!(PgUrl::parse("jdbc:mysql://h/db").is_err());
    }

    #[test]
    fn sqlite_urls() {
        assert_eq!(SqliteUrl::parse("jdbc:sqlite:").unwrap(), SqliteUrl::Memory);
        assert_eq!(
            SqliteUrl::parse("jdbc:sqlite::memory:").unwrap(),
            SqliteUrl::Memory
        );
        assert_eq!(
            SqliteUrl::parse("jdbc:sqlite:file:/tmp/a.db?mode=ro").unwrap(),
            SqliteUrl::File {
                path: "/tmp/a.db".into(),
                read_only: true
            }
        );
        assert_eq!(
            SqliteUrl::parse("jdbc:sqlite:my.db").unwrap(),
            SqliteUrl::File {
                path: "my.db".into(),
                read_only: false
            }
        );
    }

    #[test]
    fn url_of_the_other_dialect_names_the_fix() {
        let e = Dialect::Postgres
            .check_url("jdbc:sqlite:/a.db")
            .unwrap_err();
        assert!(e.contains("io.kestra.plugin.jdbc.sqlite"), "{e}");
        let e = Dialect::Postgres
            .check_url("postgres://u@h:5432/db")
            .unwrap_err();
        assert!(e.contains("JDBC form"), "{e}");
        assert!(
            Dialect::Postgres
                .check_url_property("jdbc:postgresql://{{ vars.host }}/db")
                .is_ok()
        );
        assert!(
            Dialect::Postgres
                .check_url_property("jdbc:mysql://{{ vars.host }}/db")
                .is_err()
        );
        assert!(Dialect::Sqlite.check_url_property("{{ vars.url }}").is_ok());
    }
}
