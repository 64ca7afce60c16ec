//! `state.Delete`: deletes a named JSON state document (see [`super::state_key`]). Output
//! `deleted`; fails on a missing state with `errorOnMissing`.

use async_trait::async_trait;
use kite_flow::tasks::state_delete::StateDelete;
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
            .spec::<StateDelete>()
            .ok_or_else(|| TaskError::new("not a state.Delete task"))?;
        let key = super::state_key(
            ctx,
            spec.name.as_ref(),
            spec.namespace,
            spec.taskrun_value.unwrap_or(true),
        )?;
        let deleted = ctx.storage.delete(&key).await?;
        if !deleted && spec.error_on_missing {
            return Err(TaskError::new(format!(
                "Unable to find the state file `{}`",
                key.file_name()
            )));
        }
        let mut out = Map::new();
        out.insert("deleted".into(), Value::Bool(deleted));
        Ok(Output::success(out))
    }
}
