//! ForEachItem's hidden `<id>_split` step: cuts the `items` file into batches (`batch.rows`,
//! default 1; or `bytes`, or `partitions`) stored as outputs; output `uris`.

use async_trait::async_trait;
use kite_flow::tasks::for_each_item::ForEachItemSplit;
use serde_json::{Map, Value};

use super::storage_split::{Mode, parse_bytes, split};
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<ForEachItemSplit>()
            .ok_or_else(|| TaskError::new("not a ForEachItem split step"))?;
        let uri = ctx.render(&spec.items)?;
        let key = ctx.input_key(&uri)?;
        let b = &spec.batch;
        let mode = if let Some(bytes) = &b.bytes {
            Mode::Bytes(parse_bytes(&ctx.render(bytes)?)?)
        } else if let Some(p) = &b.partitions {
            Mode::Partitions(super::render_u32(ctx, p, "batch.partitions")?)
        } else if let Some(r) = &b.rows {
            Mode::Rows(super::render_u32(ctx, r, "batch.rows")?)
        } else {
            Mode::Rows(1)
        };
        if matches!(mode, Mode::Bytes(0) | Mode::Partitions(0) | Mode::Rows(0)) {
            return Err(TaskError::new("the batch size must be greater than 0"));
        }
        let separator = match &b.separator {
            Some(s) => ctx.render(s)?,
            None => "\n".to_owned(),
        };
        let uris = if ctx.storage.size(&key).await? == 0 {
            Vec::new()
        } else {
            split(ctx, &key, mode, &separator).await?
        };
        let mut out = Map::new();
        out.insert("uris".into(), Value::Array(uris));
        Ok(Output::success(out))
    }
}
