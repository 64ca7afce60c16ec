//! Triggers: what starts executions by itself.
//!
//! # Layout
//! - [`state`]: a trigger's stored state (Kestra's `Trigger` shape), kept by
//!   [`crate::repo::TriggerRepo`].
//! - [`registry`]: the [`TickTrigger`] trait (schedules and polling triggers, evaluated on
//!   the scheduler's tick) and the registry mapping type names to implementations.
//! - [`fire`]: an [`Occurrence`] becomes exactly one execution, under an id derived from the
//!   occurrence (the conditional create of that execution is the claim).
//! - [`sync`]: deploying, disabling or deleting a flow updates its trigger states at once.
//! - [`tick`]: the scheduler tick evaluates the due triggers (one index query, never every
//!   flow).
//! - [`control`]: an operator's actions (disable, unlock, backfills), for the API.
//! - [`stop_after`]: `stopAfter` disables a trigger when its execution ends so.
//! - [`schedule`], [`schedule_on_dates`]: the cron and date-list triggers.
//! - [`jdbc`]: the PostgreSQL and SQLite polling triggers.
//! - [`http`]: the HTTP polling trigger.
//! - [`flow`]: Flow triggers, fired where executions change state (not on the tick), with
//!   their windows ([`preconditions`], stored by [`windows`]).
//!
//! Exactly once: every occurrence (a fire time, a webhook request, an upstream execution's
//! state change, an object key + ETag, a message id) names its execution id; the execution
//! is created with `Expect::Absent`, so two schedulers, a redelivered event or a retried
//! tick create it once. The trigger state then advances with a version condition; a crash
//! in between only makes the next tick find the execution already there.

pub mod control;
pub mod fire;
pub mod flow;
pub mod http;
pub mod jdbc;
pub mod preconditions;
pub mod registry;
pub mod schedule;
pub mod schedule_on_dates;
pub mod state;
pub mod stop_after;
pub mod sync;
pub mod tick;
pub mod windows;

use std::time::Duration;

pub use fire::{FireOutcome, Occurrence, fire};
pub use registry::{EvalContext, Evaluation, TickTrigger, TriggerRegistry};
pub use state::{Backfill, TriggerState};

/// Errors of trigger handling.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The store or a queue failed (retry).
    #[error(transparent)]
    Service(#[from] Box<crate::services::ServiceError>),
    /// The definition cannot be evaluated (bad cron, bad date, failed render...).
    #[error("trigger {namespace}.{flow_id}.{trigger_id}: {message}")]
    Definition {
        /// Namespace.
        namespace: String,
        /// Flow.
        flow_id: String,
        /// Trigger.
        trigger_id: String,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// An external system a polling trigger reads failed (retried on the next interval).
    #[error("trigger {namespace}.{flow_id}.{trigger_id}: {message}")]
    Source {
        /// Namespace.
        namespace: String,
        /// Flow.
        flow_id: String,
        /// Trigger.
        trigger_id: String,
        /// What failed.
        message: String,
    },
}

impl TriggerError {
    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            TriggerError::Service(e) => e.is_transient(),
            TriggerError::Source { .. } => true,
            TriggerError::Definition { .. } => false,
        }
    }
}

impl From<crate::services::ServiceError> for TriggerError {
    fn from(e: crate::services::ServiceError) -> Self {
        TriggerError::Service(Box::new(e))
    }
}

impl From<TriggerError> for crate::services::ServiceError {
    fn from(e: TriggerError) -> Self {
        match e {
            TriggerError::Service(s) => *s,
            other => crate::services::ServiceError::Other(other.to_string()),
        }
    }
}

impl From<crate::repo::RepoError> for TriggerError {
    fn from(e: crate::repo::RepoError) -> Self {
        TriggerError::Service(Box::new(e.into()))
    }
}

/// How the tick treats time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickConfig {
    /// Fire times up to this far ahead are created at this tick, as executions scheduled
    /// for their date (their start travels on the timer queue with its delay): on AWS
    /// the tick runs once a minute, so a `withSeconds` schedule still fires on its second.
    pub lookahead: Duration,
    /// A fire time older than this when the tick sees it was missed (Kite was down):
    /// `recoverMissedSchedules` decides what happens to it.
    pub grace: Duration,
    /// Most occurrences one trigger fires in one tick (the rest wait for the next).
    pub max_per_trigger: usize,
    /// Most due triggers one tick handles (the rest wait for the next).
    pub max_triggers: usize,
}

impl TickConfig {
    /// For a tick every second (`kite server local`).
    pub fn local() -> Self {
        Self {
            lookahead: Duration::from_secs(1),
            grace: Duration::from_secs(5),
            max_per_trigger: 500,
            max_triggers: 10_000,
        }
    }

    /// For a tick every minute (the EventBridge rule on AWS).
    pub fn every_minute() -> Self {
        Self {
            lookahead: Duration::from_secs(75),
            grace: Duration::from_secs(150),
            max_per_trigger: 500,
            max_triggers: 10_000,
        }
    }
}

impl Default for TickConfig {
    fn default() -> Self {
        Self::local()
    }
}

/// Whether the trigger's `conditions` (and a Schedule's deprecated `scheduleConditions`)
/// hold for an occurrence with `variables` (the stateful MultipleCondition is the Flow
/// trigger's business, not evaluated here).
pub fn conditions_hold(
    cx: &EvalContext<'_>,
    variables: &serde_json::Map<String, serde_json::Value>,
) -> Result<bool, TriggerError> {
    let conditions = &cx.trigger.common.conditions;
    // The type's own conditions: Schedule's deprecated `scheduleConditions`.
    let own = cx.trigger.spec.conditions();
    if conditions.is_empty() && own.is_empty() {
        return Ok(true);
    }
    let ctx = crate::conditions::ConditionContext {
        rt: &cx.platform.rt,
        now: cx.now,
        flow: cx.flow,
        trigger: variables,
        execution: None,
    };
    let hold = crate::conditions::evaluate_all(conditions, &ctx)
        .map_err(|e| cx.definition_error(e.to_string()))?;
    if !hold {
        return Ok(false);
    }
    for c in own
        .into_iter()
        .filter(|c| !crate::conditions::is_stateful(c))
    {
        if !crate::conditions::evaluate(c, &ctx).map_err(|e| cx.definition_error(e.to_string()))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Kestra's date format for trigger variables: ISO-8601 with the zone's offset (`Z` in UTC).
pub fn iso(date: chrono::DateTime<chrono_tz::Tz>) -> String {
    use chrono::SecondsFormat;
    if date.timezone() == chrono_tz::UTC {
        date.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    } else {
        date.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }
}
