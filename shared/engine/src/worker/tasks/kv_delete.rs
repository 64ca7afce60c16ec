//! `kv.Delete`: deletes a key (output `deleted`), failing on a missing key with `errorOnMissing`.

use async_trait::async_trait;
use kite_flow::tasks::kv_delete::KvDelete;
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
            .spec::<KvDelete>()
            .ok_or_else(|| TaskError::new("not a kv.Delete task"))?;
        let ns = super::kv_namespace(ctx, spec.namespace.as_ref())?;
        let key = ctx.render(&spec.key)?;
        let deleted = ctx.repos.kv.delete(&ns, &key).await?;
        if !deleted && spec.error_on_missing {
            return Err(TaskError::new(format!(
                "no key `{key}` in the KV store of namespace `{ns}`"
            )));
        }
        let mut out = Map::new();
        out.insert("deleted".into(), Value::Bool(deleted));
        Ok(Output::success(out))
    }
}
