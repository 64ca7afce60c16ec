//! The JDBC triggers of Kestra for PostgreSQL and SQLite: every `interval` the trigger
//! runs its query and starts an execution when it returns rows (`trigger.row`,
//! `trigger.rows`, `trigger.uri`, `trigger.size`). One file per type: [`postgresql`],
//! [`sqlite`]; their shared properties are [`JdbcTrigger`].

pub mod postgresql;
pub mod sqlite;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::Trigger;
use crate::property::Dyn;
use crate::tasks::jdbc::{
    Dialect, FetchType, SslProps, common_problems, deprecated_fetch_type, ssl_problems,
};
use crate::validate::Validator;

/// The default polling interval.
pub const DEFAULT_INTERVAL: IsoDuration = IsoDuration::from_secs(60);

/// The shortest polling interval accepted.
pub const MIN_INTERVAL: IsoDuration = IsoDuration::from_secs(1);

/// The properties of a JDBC trigger (Kestra's names; common trigger properties such as
/// `conditions` and `stopAfter` are parsed with every trigger).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JdbcTrigger {
    /// The JDBC URL (see [`crate::tasks::jdbc::JdbcQuery::url`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password; never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The query run every `interval`.
    pub sql: String,
    /// What to do with the rows (default NONE: Kestra's trigger then never fires).
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
    /// Polling interval (default PT60S, at least PT1S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
    /// Deprecated: `fetchType: FETCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<bool>,
    /// Deprecated: `fetchType: FETCH_ONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_one: Option<bool>,
    /// Deprecated: `fetchType: STORE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
}

impl JdbcTrigger {
    /// The polling interval (default [`DEFAULT_INTERVAL`]).
    pub fn interval(&self) -> IsoDuration {
        self.interval.unwrap_or(DEFAULT_INTERVAL)
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

    /// The problems of these properties for `dialect`: `(property, message)`.
    pub fn problems(&self, dialect: Dialect) -> Vec<(&'static str, String)> {
        let mut out = common_problems(
            dialect,
            self.url.as_deref(),
            &self.sql,
            self.time_zone_id.as_deref(),
        );
        out.extend(ssl_problems(dialect, self.ssl_props()));
        let interval = self.interval();
        if interval < MIN_INTERVAL {
            out.push((
                "interval",
                format!("`interval` must be at least {MIN_INTERVAL}, got {interval}"),
            ));
        }
        out
    }

    /// Reports [`Self::problems`] at the trigger holding `spec` (its position, the
    /// property's path).
    pub(crate) fn report<T: 'static>(&self, spec: &T, dialect: Dialect, v: &mut Validator<'_>) {
        let problems = self.problems(dialect);
        if problems.is_empty() {
            return;
        }
        let me = own_trigger(v, spec);
        for (prop, message) in problems {
            match me {
                Some(t) => v.error(
                    t.loc,
                    format!("{}.{prop}", t.path),
                    format!("{}.{prop}: {message}", t.path),
                ),
                None => v.error(crate::Location::UNKNOWN, prop, message),
            }
        }
    }
}

/// The trigger of the flow being validated whose properties are `spec`.
fn own_trigger<'a, T: 'static>(v: &Validator<'a>, spec: &T) -> Option<&'a Trigger> {
    let flow = v.flow;
    flow.triggers.iter().find(|t| {
        std::ptr::eq(
            t.spec.as_any() as *const dyn std::any::Any as *const (),
            spec as *const T as *const (),
        )
    })
}
