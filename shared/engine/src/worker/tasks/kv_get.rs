//! `kv.Get`: reads a value (output `value`), failing on a missing key with `errorOnMissing`.

use async_trait::async_trait;
use kite_flow::tasks::kv_get::KvGet;
use serde_json::Map;

use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<KvGet>()
            .ok_or_else(|| TaskError::new("not a kv.Get task"))?;
        let ns = super::kv_namespace(ctx, spec.namespace.as_ref())?;
        let key = ctx.render(&spec.key)?;
        let value = ctx.repos.kv.get(&ns, &key).await?;
        if value.is_none() && spec.error_on_missing {
            return Err(TaskError::new(format!(
                "no key `{key}` in the KV store of namespace `{ns}`"
            )));
        }
        let mut out = Map::new();
        out.insert("value".into(), value.unwrap_or(serde_json::Value::Null));
        Ok(Output::success(out))
    }
}
