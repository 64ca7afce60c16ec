//! `state.Set`: merges `data` (rendered, keys included) into a named JSON state document of
//! internal storage (deep merge, like Kestra's `MapUtils.merge`). Outputs `key` (the state
//! file's URI) and `count` (number of top-level entries after the merge).
//!
//! The state is scoped by namespace, flow (unless `namespace: true`) and, with
//! `taskrunValue`, by the task run's loop value; see [`super::state_key`].

use async_trait::async_trait;
use kite_flow::tasks::state_set::StateSet;
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
            .spec::<StateSet>()
            .ok_or_else(|| TaskError::new("not a state.Set task"))?;
        let key = super::state_key(
            ctx,
            spec.name.as_ref(),
            spec.namespace,
            spec.taskrun_value.unwrap_or(true),
        )?;
        let data: Map<String, Value> = spec
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let Value::Object(data) = ctx.render_value(&Value::Object(data))? else {
            return Err(TaskError::new("`data` must be a map"));
        };
        let mut current = super::state_get::load(ctx, &key).await?.unwrap_or_default();
        merge(&mut current, data);
        let count = current.len();
        let bytes = serde_json::to_vec(&Value::Object(current))
            .map_err(|e| TaskError::new(e.to_string()))?;
        ctx.storage.put(&key, bytes.into()).await?;
        let mut out = Map::new();
        out.insert("count".into(), Value::from(count));
        out.insert("key".into(), Value::String(key.to_uri()));
        Ok(Output::success(out))
    }
}

/// Deep merge: maps merge recursively, anything else replaces.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(existing)), Value::Object(new)) => merge(existing, new),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn deep_merge() {
        let mut a = json!({"a": 1, "m": {"x": 1, "y": 2}})
            .as_object()
            .cloned()
            .unwrap();
        let b = json!({"b": 2, "m": {"y": 3}}).as_object().cloned().unwrap();
        super::merge(&mut a, b);
        assert_eq!(
            serde_json::Value::Object(a),
            json!({"a": 1, "b": 2, "m": {"x": 1, "y": 3}})
        );
    }
}
