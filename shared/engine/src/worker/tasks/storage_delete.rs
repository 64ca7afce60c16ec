//! `storage.Delete`: deletes a file of internal storage. Outputs `uri` and `deleted`; a missing
//! file fails the task only with `errorOnMissing`.

use async_trait::async_trait;
use kite_flow::tasks::storage_delete::StorageDelete;
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
            .spec::<StorageDelete>()
            .ok_or_else(|| TaskError::new("not a storage.Delete task"))?;
        let uri = ctx.render(&spec.uri)?.trim().to_owned();
        let key = ctx.input_key(&uri)?;
        let deleted = ctx.storage.delete(&key).await?;
        if !deleted && spec.error_on_missing {
            return Err(TaskError::new(format!("Unable to find file `{uri}`")));
        }
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("deleted".into(), Value::Bool(deleted));
        Ok(Output::success(out))
    }
}
