//! What an operator does to a trigger (the triggers API, and any caller that must act on
//! one): disable or enable it, unlock it, create, pause, resume or delete a backfill.
//!
//! Each action is a read-modify-write of the trigger's state through
//! [`sync::update_state`](super::sync::update_state) (version condition, retried on a lost
//! race), so the `trigger_due` index follows in the same write: a disabled trigger leaves
//! the tick at once, an enabled one or a new backfill is due at the next tick.
//!
//! Enabling a trigger that was disabled restarts its dates from now (the fire times of the
//! disabled period are not recovered: disabling is an operator's "do not run").
//!
//! A backfill (Schedule triggers only) replays the schedule's fire times from `start` to
//! `end` (or to now): `start` must be before `end` and not in the future, and its inputs
//! must be inputs of the flow. Only one backfill runs at a time per trigger; `created`
//! (part of its executions' ids) is set here, so a second backfill of the same dates
//! starts new executions.

use chrono::{DateTime, Utc};
use kite_flow::Flow;
use kite_flow::plugin::{PluginType as _, Trigger};
use serde_json::{Map, Value};

use super::{Backfill, TriggerError, sync};
use crate::model::Label;
use crate::repo::triggers::StoredTrigger;
use crate::services::{Platform, ServiceError};

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No such flow, trigger, or trigger state (not retryable).
    #[error("trigger {namespace}.{flow_id}.{trigger_id} not found")]
    NotFound {
        /// Namespace.
        namespace: String,
        /// Flow.
        flow_id: String,
        /// Trigger.
        trigger_id: String,
    },
    /// The request is invalid (a bad backfill): what is wrong (not retryable).
    #[error("{0}")]
    Invalid(String),
    /// The trigger's state forbids it (a backfill already under way, none to pause): why
    /// (not retryable as is).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Trigger(#[from] TriggerError),
}

impl ControlError {
    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ControlError::Trigger(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl From<ServiceError> for ControlError {
    fn from(e: ServiceError) -> Self {
        ControlError::Trigger(e.into())
    }
}

/// Which trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerRef<'a> {
    /// Namespace of the flow.
    pub namespace: &'a str,
    /// The flow.
    pub flow_id: &'a str,
    /// The trigger's id.
    pub trigger_id: &'a str,
}

impl TriggerRef<'_> {
    fn not_found(&self) -> ControlError {
        ControlError::NotFound {
            namespace: self.namespace.to_owned(),
            flow_id: self.flow_id.to_owned(),
            trigger_id: self.trigger_id.to_owned(),
        }
    }
}

/// A backfill to create.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackfillRequest {
    /// First date (inclusive).
    pub start: Option<DateTime<Utc>>,
    /// Last date (inclusive; none: up to now).
    pub end: Option<DateTime<Utc>>,
    /// Inputs of its executions (over the trigger's).
    pub inputs: Map<String, Value>,
    /// Labels of its executions.
    pub labels: Vec<Label>,
}

/// The flow and the trigger's definition (latest revision).
async fn definition(
    platform: &Platform,
    t: TriggerRef<'_>,
) -> Result<(Flow, Trigger), ControlError> {
    let flow = match platform.load_flow(t.namespace, t.flow_id, None).await {
        Ok(f) => f,
        Err(ServiceError::FlowNotFound { .. }) => return Err(t.not_found()),
        Err(e) => return Err(e.into()),
    };
    let trigger = flow
        .triggers
        .iter()
        .find(|x| x.id == t.trigger_id)
        .cloned()
        .ok_or_else(|| t.not_found())?;
    Ok((flow, trigger))
}

async fn update(
    platform: &Platform,
    t: TriggerRef<'_>,
    change: impl Fn(&mut StoredTrigger),
) -> Result<StoredTrigger, ControlError> {
    sync::update_state(platform, t.namespace, t.flow_id, t.trigger_id, change)
        .await?
        .ok_or_else(|| t.not_found())
}

/// Disables (`true`) or enables (`false`) a trigger, over its definition's `disabled`.
pub async fn set_disabled(
    platform: &Platform,
    t: TriggerRef<'_>,
    disabled: bool,
) -> Result<StoredTrigger, ControlError> {
    let (flow, trigger) = definition(platform, t).await?;
    let now = platform.clock.now();
    // Dates restart from now when it comes back.
    let next = match platform.triggers.get(trigger.type_name) {
        Some(imp) => imp
            .first_due(&flow, &trigger, now)
            .unwrap_or_else(|message| {
                tracing::warn!(
                    namespace = %flow.namespace, flow = %flow.id, trigger = %trigger.id,
                    "trigger cannot be scheduled: {message}"
                );
                None
            }),
        None => None,
    };
    update(platform, t, |s| {
        let was_disabled = s.is_disabled();
        s.state.disabled = Some(disabled);
        if was_disabled && !disabled {
            s.state.next_execution_date = next;
        }
    })
    .await
}

/// Forgets the execution the trigger is running (`executionId`).
pub async fn unlock(platform: &Platform, t: TriggerRef<'_>) -> Result<StoredTrigger, ControlError> {
    definition(platform, t).await?;
    update(platform, t, |s| s.state.execution_id = None).await
}

/// Checks a backfill request against the trigger and the flow (see the module docs).
pub fn check_backfill(
    flow: &Flow,
    trigger: &Trigger,
    request: &BackfillRequest,
    now: DateTime<Utc>,
) -> Result<Backfill, String> {
    let schedule = kite_flow::triggers::schedule::Schedule::TYPE;
    if trigger.type_name != schedule {
        return Err(format!(
            "backfills are only for Schedule triggers ({schedule}); `{}` is a {}",
            trigger.id, trigger.type_name
        ));
    }
    let Some(start) = request.start else {
        return Err("backfill.start is required (an ISO-8601 date-time)".into());
    };
    if let Some(end) = request.end
        && end <= start
    {
        return Err(format!(
            "backfill.start ({}) must be before backfill.end ({})",
            start.to_rfc3339(),
            end.to_rfc3339()
        ));
    }
    if start > now {
        return Err(format!(
            "backfill.start ({}) is in the future: a backfill replays past dates",
            start.to_rfc3339()
        ));
    }
    for name in request.inputs.keys() {
        if !flow.inputs.iter().any(|i| &i.id == name) {
            return Err(format!(
                "backfill.inputs.{name}: the flow {}.{} has no input `{name}`",
                flow.namespace, flow.id
            ));
        }
    }
    for l in &request.labels {
        if l.key.trim().is_empty() {
            return Err("backfill.labels: a label key is empty".into());
        }
    }
    Ok(Backfill {
        start,
        end: request.end,
        current_date: None,
        paused: false,
        inputs: request.inputs.clone(),
        labels: request.labels.clone(),
        created: Some(now),
    })
}

/// Starts a backfill of a Schedule trigger.
pub async fn create_backfill(
    platform: &Platform,
    t: TriggerRef<'_>,
    request: &BackfillRequest,
) -> Result<StoredTrigger, ControlError> {
    let (flow, trigger) = definition(platform, t).await?;
    let backfill = check_backfill(&flow, &trigger, request, platform.clock.now())
        .map_err(ControlError::Invalid)?;
    // Set only when none runs, decided in the conditional write itself (the last attempt's
    // decision counts): of two requests at once, one wins and the other is told.
    let created = std::sync::atomic::AtomicBool::new(false);
    let stored = update(platform, t, |s| {
        let free = s.state.backfill.is_none();
        if free {
            s.state.backfill = Some(backfill.clone());
        }
        created.store(free, std::sync::atomic::Ordering::Relaxed);
    })
    .await?;
    if !created.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ControlError::Conflict(format!(
            "trigger {}.{}.{} already runs a backfill: delete it first (POST /api/v1/triggers/backfill/delete)",
            t.namespace, t.flow_id, t.trigger_id
        )));
    }
    Ok(stored)
}

/// Pauses (`true`) or resumes (`false`) the trigger's backfill.
pub async fn pause_backfill(
    platform: &Platform,
    t: TriggerRef<'_>,
    paused: bool,
) -> Result<StoredTrigger, ControlError> {
    definition(platform, t).await?;
    let verb = if paused { "pause" } else { "resume" };
    let none = || {
        ControlError::Conflict(format!(
            "trigger {}.{}.{} has no backfill to {verb}",
            t.namespace, t.flow_id, t.trigger_id
        ))
    };
    match platform
        .repos
        .triggers
        .get(t.namespace, t.flow_id, t.trigger_id)
        .await
        .map_err(TriggerError::from)?
    {
        None => return Err(t.not_found()),
        Some((s, _)) if s.state.backfill.is_none() => return Err(none()),
        Some(_) => {}
    }
    let stored = update(platform, t, |s| {
        if let Some(b) = s.state.backfill.as_mut() {
            b.paused = paused;
        }
    })
    .await?;
    // It ended between the read and the write.
    if stored.state.backfill.is_none() {
        return Err(none());
    }
    Ok(stored)
}

/// Deletes the trigger's backfill (none: nothing to do).
pub async fn delete_backfill(
    platform: &Platform,
    t: TriggerRef<'_>,
) -> Result<StoredTrigger, ControlError> {
    definition(platform, t).await?;
    update(platform, t, |s| s.state.backfill = None).await
}
