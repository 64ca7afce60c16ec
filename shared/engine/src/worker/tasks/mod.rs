//! Core task runners, one file per task type, registered in [`register`].
//!
//! Helpers shared by several runners: [`files`] (working-directory input/output files and
//! globs) and [`process`] (the local `Process` task runner of the script tasks).

pub(crate) mod files;
pub mod for_each_item_merge;
pub mod for_each_item_split;
pub mod http_download;
pub mod http_request;
pub mod jdbc;
pub mod kv_delete;
pub mod kv_get;
pub mod kv_get_keys;
pub mod kv_set;
pub mod local_files;
pub mod log_fetch;
pub(crate) mod process;
pub mod script_commands;
pub mod script_inline;
pub mod state_delete;
pub mod state_get;
pub mod state_set;
pub mod storage_concat;
pub mod storage_delete;
pub mod storage_size;
pub mod storage_split;

use std::sync::Arc;

use kite_flow::IsoDuration;
use kite_flow::plugin::PluginType;
use kite_flow::property::Dyn;
use kite_flow::tasks as t;
use kite_flow::tasks::script_commands::{Python, Shell};
use serde_json::Value;

use super::{RunContext, Runners, TaskError};

/// Registers every core runner.
pub fn register(r: &mut Runners) {
    r.register(
        t::for_each_item::ForEachItemSplit::TYPE,
        Arc::new(for_each_item_split::Runner),
    )
    .register(
        t::for_each_item::ForEachItemMerge::TYPE,
        Arc::new(for_each_item_merge::Runner),
    );
    r.register(t::kv_set::KvSet::TYPE, Arc::new(kv_set::Runner))
        .register(t::kv_get::KvGet::TYPE, Arc::new(kv_get::Runner))
        .register(
            t::kv_get_keys::KvGetKeys::TYPE,
            Arc::new(kv_get_keys::Runner),
        )
        .register(t::kv_delete::KvDelete::TYPE, Arc::new(kv_delete::Runner))
        .register(
            t::http_request::HttpRequest::TYPE,
            Arc::new(http_request::Runner),
        )
        .register(
            t::http_download::HttpDownload::TYPE,
            Arc::new(http_download::Runner),
        )
        .register(
            t::script_commands::ShellCommands::TYPE,
            Arc::new(script_commands::Runner::<Shell>::new()),
        )
        .register(
            t::script_commands::PythonCommands::TYPE,
            Arc::new(script_commands::Runner::<Python>::new()),
        )
        .register(
            t::script_inline::ShellScript::TYPE,
            Arc::new(script_inline::Runner::<Shell>::new()),
        )
        .register(
            t::script_inline::PythonScript::TYPE,
            Arc::new(script_inline::Runner::<Python>::new()),
        )
        .register(
            t::storage_size::StorageSize::TYPE,
            Arc::new(storage_size::Runner),
        )
        .register(
            t::storage_delete::StorageDelete::TYPE,
            Arc::new(storage_delete::Runner),
        )
        .register(
            t::storage_concat::StorageConcat::TYPE,
            Arc::new(storage_concat::Runner),
        )
        .register(
            t::storage_split::StorageSplit::TYPE,
            Arc::new(storage_split::Runner),
        )
        .register(
            t::local_files::LocalFiles::TYPE,
            Arc::new(local_files::Runner),
        )
        .register(t::state_set::StateSet::TYPE, Arc::new(state_set::Runner))
        .register(t::state_get::StateGet::TYPE, Arc::new(state_get::Runner))
        .register(
            t::state_delete::StateDelete::TYPE,
            Arc::new(state_delete::Runner),
        )
        .register(t::fetch::Fetch::TYPE, Arc::new(log_fetch::Runner));
    r.register(
        t::jdbc::postgresql::PostgresQuery::TYPE,
        Arc::new(jdbc::Runner::postgres()),
    );
    r.register(
        t::jdbc::sqlite::SqliteQuery::TYPE,
        Arc::new(jdbc::Runner::sqlite()),
    );
}

/// The namespace a KV task works in: its `namespace` property (rendered) or the flow's.
pub(crate) fn kv_namespace(
    ctx: &super::RunContext,
    ns: Option<&String>,
) -> Result<String, super::TaskError> {
    match ns {
        Some(n) => ctx.render(n),
        None => Ok(ctx.job.namespace.clone()),
    }
}

/// What renders properties: a task's run context, or a polling trigger's context
/// (`triggers::http`), so the HTTP client is built the same way for both.
pub(crate) trait Render {
    /// Renders a string template.
    fn render(&self, template: &str) -> Result<String, TaskError>;
    /// Renders every string inside a JSON value.
    fn render_value(&self, value: &Value) -> Result<Value, TaskError>;
}

impl Render for RunContext {
    fn render(&self, template: &str) -> Result<String, TaskError> {
        RunContext::render(self, template)
    }
    fn render_value(&self, value: &Value) -> Result<Value, TaskError> {
        RunContext::render_value(self, value)
    }
}

/// A duration property, rendered when it is an expression.
pub(crate) fn render_duration<R: Render + ?Sized>(
    ctx: &R,
    d: &Dyn<IsoDuration>,
    what: &str,
) -> Result<std::time::Duration, TaskError> {
    match d {
        Dyn::Value(v) => Ok(v.to_std()),
        Dyn::Expr(e) => {
            let text = ctx.render(e)?;
            text.trim()
                .parse::<IsoDuration>()
                .map(|d| d.to_std())
                .map_err(|err| TaskError::new(format!("`{what}`: {err}")))
        }
    }
}

/// A non-negative integer property, rendered when it is an expression.
pub(crate) fn render_u32(ctx: &RunContext, d: &Dyn<u32>, what: &str) -> Result<u32, TaskError> {
    match d {
        Dyn::Value(v) => Ok(*v),
        Dyn::Expr(e) => {
            let text = ctx.render(e)?;
            text.trim().parse::<u32>().map_err(|_| {
                TaskError::new(format!(
                    "`{what}` must be a non-negative integer, got `{text}`"
                ))
            })
        }
    }
}

/// A boolean given as a JSON value (a boolean, or a string rendering to `true`/`false`).
pub(crate) fn render_bool<R: Render + ?Sized>(
    ctx: &R,
    v: &Value,
    what: &str,
) -> Result<bool, TaskError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        Value::String(s) => match ctx.render(s)?.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            other => Err(TaskError::new(format!(
                "`{what}` must be a boolean, got `{other}`"
            ))),
        },
        other => Err(TaskError::new(format!(
            "`{what}` must be a boolean, got {other}"
        ))),
    }
}

/// A JSON value as text: strings as they are, anything else as JSON.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The storage key of a `state.*` document: `_states/<namespace>/<flow id | _namespace>/
/// <_ | value-<sha256 of taskrun.value>>/<name>`. Every part is validated as a key segment
/// (no `/`, `..`, control characters), the loop value is hashed so any value is safe.
pub(crate) fn state_key(
    ctx: &RunContext,
    name: Option<&String>,
    namespace_wide: bool,
    by_taskrun_value: bool,
) -> Result<kite_ports::StorageKey, TaskError> {
    let name = match name {
        Some(n) => ctx.render(n)?,
        None => "default".to_owned(),
    };
    let scope = if namespace_wide {
        "_namespace".to_owned()
    } else {
        format!("flow-{}", ctx.job.flow_id)
    };
    let value = if by_taskrun_value {
        ctx.job
            .vars
            .get("taskrun")
            .and_then(|t| t.get("value"))
            .filter(|v| !v.is_null())
            .map(value_text)
    } else {
        None
    };
    let value_part = match value {
        Some(v) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(v.as_bytes());
            let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
            format!("value-{hex}")
        }
        None => "_".to_owned(),
    };
    kite_ports::StorageKey::from_parts([
        "_states",
        ctx.job.namespace.as_str(),
        scope.as_str(),
        value_part.as_str(),
        name.as_str(),
    ])
    .map_err(|e| TaskError::new(format!("invalid state name `{name}`: {e}")))
}
