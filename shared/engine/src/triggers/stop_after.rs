//! `stopAfter` (a property of every trigger): once an execution the trigger started ends in
//! one of the listed states, the trigger is disabled, as an operator would disable it (the
//! triggers API enables it again). Called from the executor's end handling.
//!
//! Idempotent: a redelivered end disables an already disabled trigger again.

use kite_flow::Flow;

use super::{TriggerError, sync};
use crate::model::{Execution, State};
use crate::services::Platform;

/// Disables the trigger that started `execution` when its `stopAfter` lists `state`.
pub async fn on_execution_ended(
    platform: &Platform,
    flow: &Flow,
    execution: &Execution,
    state: State,
) -> Result<(), TriggerError> {
    let Some(started_by) = &execution.trigger else {
        return Ok(());
    };
    let Some(trigger) = flow
        .triggers
        .iter()
        .find(|t| t.id == started_by.id && t.type_name == started_by.kind)
    else {
        return Ok(());
    };
    let stops = trigger
        .common
        .stop_after
        .iter()
        .any(|s| State::parse(s) == Some(state));
    if !stops {
        return Ok(());
    }
    let updated = sync::update_state(
        platform,
        &execution.namespace,
        &execution.flow_id,
        &trigger.id,
        |s| s.state.disabled = Some(true),
    )
    .await?;
    if updated.is_some() {
        tracing::info!(
            namespace = %execution.namespace, flow = %execution.flow_id, trigger = %trigger.id,
            execution = %execution.id,
            "trigger disabled: its execution ended {state}, listed in stopAfter"
        );
    }
    Ok(())
}
