//! `state.Get`: reads a named JSON state document (see [`super::state_key`]). Outputs `data`
//! (empty map when missing, unless `errorOnMissing`) and `count`.

use async_trait::async_trait;
use kite_flow::tasks::state_get::StateGet;
use kite_ports::{StorageError, StorageKey};
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
            .spec::<StateGet>()
            .ok_or_else(|| TaskError::new("not a state.Get task"))?;
        let key = super::state_key(
            ctx,
            spec.name.as_ref(),
            spec.namespace,
            spec.taskrun_value.unwrap_or(true),
        )?;
        let data = match load(ctx, &key).await? {
            Some(d) => d,
            None if spec.error_on_missing => {
                return Err(TaskError::new(format!(
                    "Unable to find the state file `{}`",
                    key.file_name()
                )));
            }
            None => Map::new(),
        };
        let mut out = Map::new();
        out.insert("count".into(), Value::from(data.len()));
        out.insert("data".into(), Value::Object(data));
        Ok(Output::success(out))
    }
}

/// The state document under `key`, if any.
pub(crate) async fn load(
    ctx: &RunContext,
    key: &StorageKey,
) -> Result<Option<Map<String, Value>>, TaskError> {
    match ctx.storage.get(key).await {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(_) | Err(_) => Err(TaskError::new(format!(
                "the state file `{}` is not a JSON object",
                key.to_uri()
            ))),
        },
        Err(StorageError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
