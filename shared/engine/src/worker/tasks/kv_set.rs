//! `kv.Set`: stores a value (typed by `kvType`) with an optional TTL.

use async_trait::async_trait;
use kite_flow::property::Dyn;
use kite_flow::tasks::kv_set::KvSet;
use serde_json::{Map, Value};

use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<KvSet>()
            .ok_or_else(|| TaskError::new("not a kv.Set task"))?;
        let ns = super::kv_namespace(ctx, spec.namespace.as_ref())?;
        let key = ctx.render(&spec.key)?;
        let mut value = match &spec.value {
            Value::String(s) => ctx.render_typed(s)?,
            other => ctx.render_value(other)?,
        };
        if let Some(t) = &spec.kv_type {
            value = coerce(&ctx.render(t)?, value)?;
        }
        let expires = match &spec.ttl {
            None => None,
            Some(Dyn::Value(d)) => Some(ctx.now() + d.to_chrono()),
            Some(Dyn::Expr(e)) => {
                let d: kite_flow::IsoDuration = ctx.render(e)?.trim().parse().map_err(
                    |e: kite_flow::duration::DurationError| TaskError::new(e.to_string()),
                )?;
                Some(ctx.now() + d.to_chrono())
            }
        };
        let overwrite = spec.overwrite.unwrap_or(true);
        ctx.repos
            .kv
            .set(&ns, &key, value, expires, overwrite)
            .await
            .map_err(|e| {
                if overwrite {
                    TaskError::from(e)
                } else {
                    TaskError::new(format!(
                        "key `{key}` already exists in namespace `{ns}` and `overwrite` is false"
                    ))
                }
            })?;
        Ok(Output::success(Map::new()))
    }
}

fn coerce(kv_type: &str, v: Value) -> Result<Value, TaskError> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(match kv_type.to_ascii_uppercase().as_str() {
        "STRING" => Value::String(text(&v)),
        "NUMBER" => match &v {
            Value::Number(_) => v,
            _ => serde_json::from_str::<serde_json::Number>(text(&v).trim())
                .map(Value::Number)
                .map_err(|_| TaskError::new(format!("`{}` is not a NUMBER", text(&v))))?,
        },
        "BOOLEAN" => match text(&v).trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => return Err(TaskError::new(format!("`{other}` is not a BOOLEAN"))),
        },
        "JSON" => match v {
            Value::String(s) => serde_json::from_str(&s)
                .map_err(|e| TaskError::new(format!("invalid JSON: {e}")))?,
            other => other,
        },
        _ => v,
    })
}
