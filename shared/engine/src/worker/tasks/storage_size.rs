//! `storage.Size`: the size in bytes of a file of internal storage (output `size`).

use async_trait::async_trait;
use kite_flow::tasks::storage_size::StorageSize;
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
            .spec::<StorageSize>()
            .ok_or_else(|| TaskError::new("not a storage.Size task"))?;
        let uri = ctx.render(&spec.uri)?;
        let key = ctx.input_key(&uri)?;
        let size = ctx.storage.size(&key).await?;
        let mut out = Map::new();
        out.insert("size".into(), Value::from(size));
        Ok(Output::success(out))
    }
}
