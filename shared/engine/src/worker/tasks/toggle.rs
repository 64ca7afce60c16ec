//! `trigger.Toggle` (alias `io.kestra.core.tasks.trigger.Toggle`): enables or disables a
//! trigger of a flow (`namespace` and `flowId` default to the current flow's; both and
//! `trigger` are rendered). It sets the operator's `disabled` of the trigger state (which
//! overrides the definition's, as the API does) with a version condition: `enabled: true`
//! enables, `false` disables, absent flips the current state. An unknown flow or trigger
//! fails the task, naming it. The change takes effect at once: a disabled schedule leaves
//! the tick, a disabled Flow trigger stops listening.

use async_trait::async_trait;
use kite_flow::tasks::toggle::Toggle;
use serde_json::Map;

use crate::triggers::sync::update_state_in;
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<Toggle>()
            .ok_or_else(|| TaskError::new("not a Toggle task"))?;
        let namespace = match &spec.namespace {
            Some(n) => ctx.render(n)?.trim().to_owned(),
            None => ctx.job.namespace.clone(),
        };
        let flow_id = match &spec.flow_id {
            Some(f) => ctx.render(f)?.trim().to_owned(),
            None => ctx.job.flow_id.clone(),
        };
        let trigger = ctx.render(&spec.trigger)?.trim().to_owned();
        let enabled = spec.enabled;
        let updated = update_state_in(
            &ctx.repos.triggers,
            ctx.clock.as_ref(),
            &namespace,
            &flow_id,
            &trigger,
            |s| {
                let disabled = match enabled {
                    Some(e) => !e,
                    None => !s.is_disabled(),
                };
                s.state.disabled = Some(disabled);
            },
        )
        .await
        .map_err(|e| TaskError::new(format!("cannot toggle trigger `{trigger}`: {e}")))?;
        let Some(stored) = updated else {
            let flow_exists = ctx.repos.flows.get(&namespace, &flow_id).await?.is_some();
            return Err(TaskError::new(if flow_exists {
                format!("flow {namespace}.{flow_id} has no trigger `{trigger}`")
            } else {
                format!(
                    "cannot toggle trigger `{trigger}`: flow {namespace}.{flow_id} does not exist"
                )
            }));
        };
        let disabled = stored.is_disabled();
        ctx.log(
            kite_flow::plugin::LogLevel::Info,
            format!(
                "Trigger {namespace}.{flow_id}.{trigger} {}",
                if disabled { "disabled" } else { "enabled" }
            ),
        );
        // Like Kestra's, the task has no outputs.
        Ok(Output::success(Map::new()))
    }
}
