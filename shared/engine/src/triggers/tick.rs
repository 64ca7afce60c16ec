//! The scheduler tick's trigger pass: one index query finds the triggers due before the
//! tick's horizon (never every flow); each is evaluated, its occurrences fired, and its
//! state advanced with a version condition (another scheduler that advanced it first
//! wins; the executions both computed exist once).

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use kite_ports::{DocumentError, Expect};

use super::registry::EvalContext;
use super::{TriggerError, fire};
use crate::repo::RepoError;
use crate::repo::triggers::StoredTrigger;
use crate::services::{Platform, ServiceError};

/// Due triggers evaluated at the same time.
const PARALLEL: usize = 16;

/// What a tick's trigger pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriggerTick {
    /// Due triggers evaluated.
    pub evaluated: usize,
    /// Executions created.
    pub created: usize,
    /// Occurrences whose execution existed already (another scheduler, a retried tick).
    pub existed: usize,
    /// Evaluations that failed (logged; retried later).
    pub failed: usize,
    /// State updates lost to another scheduler.
    pub lost_races: usize,
}

impl std::ops::AddAssign for TriggerTick {
    fn add_assign(&mut self, o: Self) {
        self.evaluated += o.evaluated;
        self.created += o.created;
        self.existed += o.existed;
        self.failed += o.failed;
        self.lost_races += o.lost_races;
    }
}

/// Evaluates every trigger due at `now` (plus the lookahead).
pub async fn run(platform: &Platform, now: DateTime<Utc>) -> Result<TriggerTick, ServiceError> {
    let config = platform.tick_config;
    let horizon = now + chrono::Duration::from_std(config.lookahead).unwrap_or_default();
    let due = platform
        .repos
        .triggers
        .due(horizon, config.max_triggers)
        .await?;
    let results: Vec<_> = futures::stream::iter(due)
        .map(|(stored, version)| async move {
            let key = stored.state.key();
            match evaluate_one(platform, stored, version, now).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(trigger = %key, "trigger evaluation failed: {e}");
                    TriggerTick {
                        failed: 1,
                        ..TriggerTick::default()
                    }
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut total = TriggerTick::default();
    for r in results {
        total += r;
    }
    Ok(total)
}

async fn evaluate_one(
    platform: &Platform,
    mut stored: StoredTrigger,
    version: u64,
    now: DateTime<Utc>,
) -> Result<TriggerTick, TriggerError> {
    let mut out = TriggerTick::default();
    let st = &stored.state;
    // The state names the revision it was synchronised with: a warm process has it parsed.
    let revision = (st.flow_revision > 0).then_some(st.flow_revision);
    let flow = match platform
        .load_flow(&st.namespace, &st.flow_id, revision)
        .await
    {
        Ok(f) => f,
        Err(ServiceError::FlowNotFound { .. }) => {
            platform
                .repos
                .triggers
                .delete(&st.namespace, &st.flow_id, &st.trigger_id)
                .await?;
            return Ok(out);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(trigger) = flow.triggers.iter().find(|t| t.id == st.trigger_id) else {
        platform
            .repos
            .triggers
            .delete(&st.namespace, &st.flow_id, &st.trigger_id)
            .await?;
        return Ok(out);
    };
    let Some(imp) = platform.triggers.get(trigger.type_name) else {
        return Ok(out);
    };
    if flow.disabled || stored.is_disabled() {
        // Off the tick until enabled again (the sync puts it back).
        stored.defined_disabled = flow.disabled || trigger.common.disabled;
        put_state(platform, &stored, version, &mut out).await?;
        return Ok(out);
    }
    out.evaluated = 1;
    let cx = EvalContext {
        platform,
        flow: &flow,
        trigger,
        state: &stored.state,
        now,
        config: platform.tick_config,
    };
    let eval = match imp.evaluate(&cx).await {
        Ok(e) => e,
        Err(e) => {
            let retry = imp.retry_after(trigger);
            tracing::warn!(
                namespace = %flow.namespace, flow = %flow.id, trigger = %trigger.id,
                "trigger evaluation failed, next try in {}s: {e}", retry.as_secs()
            );
            out.failed = 1;
            if e.is_transient() || matches!(e, TriggerError::Definition { .. }) {
                stored.state.next_execution_date =
                    Some(now + chrono::Duration::from_std(retry).unwrap_or_default());
                put_state(platform, &stored, version, &mut out).await?;
            }
            return Ok(out);
        }
    };
    let mut last_execution = None;
    for occ in &eval.occurrences {
        match fire(platform, &flow, trigger, occ).await? {
            fire::FireOutcome::Created(e) => {
                out.created += 1;
                last_execution = Some(e.id.clone());
            }
            fire::FireOutcome::Existed(id) => {
                out.existed += 1;
                last_execution = Some(id);
            }
            fire::FireOutcome::Refused(_) => continue,
        }
        imp.acknowledge(&cx, occ).await?;
    }
    let st = &mut stored.state;
    if let Some(d) = eval.date {
        st.date = Some(d);
    }
    st.next_execution_date = eval.next;
    if let Some(b) = eval.backfill {
        st.backfill = b;
    }
    if let Some(m) = eval.memory {
        st.memory = m;
    }
    if last_execution.is_some() {
        st.execution_id = last_execution;
    }
    st.updated_date = Some(now);
    put_state(platform, &stored, version, &mut out).await?;
    Ok(out)
}

async fn put_state(
    platform: &Platform,
    stored: &StoredTrigger,
    version: u64,
    out: &mut TriggerTick,
) -> Result<(), TriggerError> {
    match platform
        .repos
        .triggers
        .put(stored, Expect::Version(version))
        .await
    {
        Ok(_) => Ok(()),
        Err(RepoError::Store(DocumentError::Conflict { .. })) => {
            out.lost_races += 1;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
