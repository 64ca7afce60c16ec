//! `kv.GetKeys`: lists keys (output `keys`), optionally by prefix.

use async_trait::async_trait;
use kite_flow::tasks::kv_get_keys::KvGetKeys;
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
            .spec::<KvGetKeys>()
            .ok_or_else(|| TaskError::new("not a kv.GetKeys task"))?;
        let ns = super::kv_namespace(ctx, spec.namespace.as_ref())?;
        let prefix = spec.prefix.as_ref().map(|p| ctx.render(p)).transpose()?;
        let keys = ctx.repos.kv.keys(&ns, prefix.as_deref()).await?;
        let mut out = Map::new();
        out.insert(
            "keys".into(),
            Value::Array(keys.into_iter().map(Value::String).collect()),
        );
        Ok(Output::success(out))
    }
}
