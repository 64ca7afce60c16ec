//! `io.kestra.plugin.jdbc.postgresql.Trigger` and `io.kestra.plugin.jdbc.sqlite.Trigger`:
//! every `interval` the query runs; when it returns rows, one execution starts with them
//! as `trigger.rows` (FETCH), `trigger.row` (FETCH_ONE) or in a file `trigger.uri` (STORE),
//! and `trigger.size`. With `fetchType: NONE` (Kestra's default) the rows are not read and
//! the trigger never fires, as in Kestra. The flow marks the rows it handled (a `Query`
//! task updating them), or the next poll returns them again.
//!
//! Each poll is one occurrence keyed by its due date (not the instant it ran), so two
//! schedulers polling the same due date start one execution.

use chrono::{DateTime, Utc};
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_flow::property::Dyn;
use kite_flow::tasks::jdbc::{Dialect, FetchType};
use kite_flow::triggers::jdbc::JdbcTrigger;
use kite_flow::triggers::jdbc::postgresql::PostgresTrigger;
use kite_flow::triggers::jdbc::sqlite::SqliteTrigger;
use serde_json::{Map, Value};

use super::registry::{EvalContext, Evaluation, TickTrigger};
use super::{Occurrence, TriggerError};
use crate::worker::tasks::jdbc::{QuerySpec, SslOptions, run_query};

/// The JDBC trigger of one dialect.
#[derive(Debug, Clone, Copy)]
pub struct JdbcPollTrigger {
    dialect: Dialect,
}

impl JdbcPollTrigger {
    /// PostgreSQL.
    pub fn postgres() -> Self {
        Self {
            dialect: Dialect::Postgres,
        }
    }

    /// SQLite.
    pub fn sqlite() -> Self {
        Self {
            dialect: Dialect::Sqlite,
        }
    }

    fn props<'a>(&self, trigger: &'a Trigger) -> Option<&'a JdbcTrigger> {
        match self.dialect {
            Dialect::Postgres => trigger.spec::<PostgresTrigger>().map(|t| &t.0),
            Dialect::Sqlite => trigger.spec::<SqliteTrigger>().map(|t| &t.0),
        }
    }
}

fn interval(props: &JdbcTrigger) -> chrono::Duration {
    props
        .interval()
        .to_chrono()
        .max(chrono::Duration::seconds(1))
}

#[async_trait::async_trait]
impl TickTrigger for JdbcPollTrigger {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let props = self
            .props(trigger)
            .ok_or_else(|| format!("not a {} Trigger", self.dialect.name()))?;
        Ok(Some(now + interval(props)))
    }

    fn retry_after(&self, trigger: &Trigger) -> std::time::Duration {
        self.props(trigger)
            .map(|p| interval(p).to_std().unwrap_or_default())
            .unwrap_or(std::time::Duration::from_secs(60))
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let props = self
            .props(cx.trigger)
            .ok_or_else(|| cx.definition_error(format!("not a {} Trigger", self.dialect.name())))?;
        let due = cx.state.next_execution_date.unwrap_or(cx.now);
        let mut eval = Evaluation {
            next: Some(cx.now.max(due) + interval(props)),
            date: Some(cx.now),
            ..Evaluation::default()
        };
        let spec = self.render(cx, props)?;
        if spec.fetch_type == FetchType::None {
            // Kestra's default: the statement runs, no rows are read, nothing fires.
            run_query(&spec, cx.platform.storage.as_ref(), &scratch_key(cx)?)
                .await
                .map_err(|e| query_error(cx, e))?;
            return Ok(eval);
        }
        let occurrence_key = format!("poll|{}", due.timestamp_millis());
        let execution_id = super::fire::execution_id(cx.flow, &cx.trigger.id, &occurrence_key);
        let store_key =
            kite_ports::StorageKey::for_execution(&cx.flow.namespace, &cx.flow.id, &execution_id)
                .and_then(|k| k.join("trigger"))
                .and_then(|k| k.join(&cx.trigger.id))
                .and_then(|k| k.join("rows.ion"))
                .map_err(|e| cx.definition_error(e.to_string()))?;
        let out = run_query(&spec, cx.platform.storage.as_ref(), &store_key)
            .await
            .map_err(|e| query_error(cx, e))?;
        if out.size == 0 {
            return Ok(eval);
        }
        let mut vars = Map::new();
        if let Some(rows) = out.rows {
            vars.insert(
                "rows".into(),
                Value::Array(rows.into_iter().map(Value::Object).collect()),
            );
        }
        if let Some(row) = out.row {
            vars.insert("row".into(), Value::Object(row));
        }
        if let Some(uri) = out.uri {
            vars.insert("uri".into(), Value::String(uri));
        }
        vars.insert("size".into(), Value::from(out.size));
        eval.occurrences.push(Occurrence::new(occurrence_key, vars));
        Ok(eval)
    }
}

fn query_error(cx: &EvalContext<'_>, e: crate::worker::tasks::jdbc::JdbcError) -> TriggerError {
    if e.is_retryable() {
        cx.source_error(e.to_string())
    } else {
        cx.definition_error(e.to_string())
    }
}

/// Where a NONE query would store rows (it never does).
fn scratch_key(cx: &EvalContext<'_>) -> Result<kite_ports::StorageKey, TriggerError> {
    kite_ports::StorageKey::for_flow(&cx.flow.namespace, &cx.flow.id)
        .and_then(|k| k.join("trigger-scratch.ion"))
        .map_err(|e| cx.definition_error(e.to_string()))
}

impl JdbcPollTrigger {
    fn render(&self, cx: &EvalContext<'_>, p: &JdbcTrigger) -> Result<QuerySpec, TriggerError> {
        let ctx = super::fire::render_context(cx.platform, cx.flow, &Map::new());
        let engine = &cx.platform.rt.engine;
        let render = |s: &str| -> Result<String, TriggerError> {
            engine
                .render(s, &ctx)
                .map_err(|e| cx.definition_error(format!("cannot render `{s}`: {e}")))
        };
        let opt = |s: &Option<String>| s.as_deref().map(render).transpose();
        let url = match &p.url {
            Some(u) => render(u)?.trim().to_owned(),
            None => self.dialect.scheme().to_owned(),
        };
        self.dialect
            .check_url(&url)
            .map_err(|m| cx.definition_error(m))?;
        let fetch_type = match p.static_fetch_type() {
            Some(f) => f,
            None => {
                let text = match &p.fetch_type {
                    Some(Dyn::Expr(e)) => render(e)?,
                    _ => String::new(),
                };
                FetchType::parse(&text).ok_or_else(|| {
                    cx.definition_error(format!(
                        "`fetchType` must be one of FETCH_ONE, FETCH, STORE, NONE, got `{text}`"
                    ))
                })?
            }
        };
        let parameters = match &p.parameters {
            None => Map::new(),
            Some(Dyn::Value(m)) => {
                let mut out = Map::new();
                for (k, v) in m {
                    let v = engine
                        .render_value(v, &ctx)
                        .map_err(|e| cx.definition_error(format!("parameter `{k}`: {e}")))?;
                    out.insert(k.clone(), v);
                }
                out
            }
            Some(Dyn::Expr(e)) => match engine.render_typed(e, &ctx) {
                Ok(Value::Object(m)) => m,
                Ok(other) => {
                    return Err(cx.definition_error(format!(
                        "`parameters` must render to a map of names to values, got {other}"
                    )));
                }
                Err(err) => return Err(cx.definition_error(format!("parameters: {err}"))),
            },
        };
        let time_zone = match &p.time_zone_id {
            None => chrono_tz::UTC,
            Some(t) => {
                let text = render(t)?;
                text.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                    cx.definition_error(format!(
                        "`timeZoneId`: `{text}` is not a valid time-zone ID"
                    ))
                })?
            }
        };
        let ssl = match &p.ssl {
            None => None,
            Some(Dyn::Value(b)) => Some(*b),
            Some(Dyn::Expr(e)) => Some(matches!(render(e)?.trim(), "true")),
        };
        let spec = QuerySpec {
            url,
            username: opt(&p.username)?,
            password: opt(&p.password)?,
            sql: render(&p.sql)?,
            fetch_type,
            parameters,
            time_zone,
            base_dir: None,
            ssl: SslOptions {
                ssl,
                mode: opt(&p.ssl_mode)?,
                root_cert: opt(&p.ssl_root_cert)?,
                cert: opt(&p.ssl_cert)?,
                key: opt(&p.ssl_key)?,
                key_password: opt(&p.ssl_key_password)?,
            },
        };
        if spec.sql.trim().is_empty() {
            return Err(cx.definition_error("`sql` rendered to an empty text"));
        }
        Ok(spec)
    }
}
