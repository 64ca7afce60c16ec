//! Keeps trigger states in step with the flows: deploying a revision creates the states
//! of new triggers and recomputes the dates of changed ones (a changed cron takes effect
//! from its next fire time), disabling a flow takes its triggers off the tick, deleting a
//! flow or a trigger deletes its state. An operator's `disabled` and a running backfill
//! survive a new revision.

use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_ports::{DocumentError, Expect};

use super::TriggerError;
use super::state::TriggerState;
use crate::repo::RepoError;
use crate::repo::triggers::StoredTrigger;
use crate::services::Platform;

/// Tries of a read-modify-write that lost a race.
const ATTEMPTS: usize = 8;

fn fingerprint(flow: &Flow, trigger: &Trigger) -> String {
    use sha2::Digest as _;
    let json = trigger.to_json().to_string();
    let d = sha2::Sha256::digest(format!("{}|{json}", flow.disabled).as_bytes());
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn is_conflict(e: &RepoError) -> bool {
    matches!(e, RepoError::Store(DocumentError::Conflict { .. }))
}

/// Brings the states of `flow`'s triggers in step with it (`revision`: the stored one).
pub async fn on_flow_saved(
    platform: &Platform,
    flow: &Flow,
    revision: u32,
) -> Result<(), TriggerError> {
    let repo = &platform.repos.triggers;
    let now = platform.clock.now();
    for trigger in &flow.triggers {
        for attempt in 0..ATTEMPTS {
            let existing = repo.get(&flow.namespace, &flow.id, &trigger.id).await?;
            let fp = fingerprint(flow, trigger);
            let defined_disabled = flow.disabled || trigger.common.disabled;
            let listen = platform.triggers.listen_of(trigger);
            let (mut stored, expect) = match existing {
                Some((s, v)) => (s, Expect::Version(v)),
                None => (
                    StoredTrigger {
                        state: TriggerState::new(
                            &flow.namespace,
                            &flow.id,
                            &trigger.id,
                            trigger.type_name,
                        ),
                        defined_disabled,
                        listen: None,
                    },
                    Expect::Absent,
                ),
            };
            let changed = stored.state.fingerprint != fp || stored.state.kind != trigger.type_name;
            if !changed
                && stored.defined_disabled == defined_disabled
                && stored.listen == listen
                && stored.state.flow_revision == revision
                && expect != Expect::Absent
            {
                break;
            }
            if changed || expect == Expect::Absent {
                stored.state.next_execution_date = match platform.triggers.get(trigger.type_name) {
                    Some(imp) => match imp.first_due(flow, trigger, now) {
                        Ok(next) => next,
                        Err(message) => {
                            tracing::warn!(
                                namespace = %flow.namespace, flow = %flow.id, trigger = %trigger.id,
                                "trigger cannot be scheduled: {message}"
                            );
                            None
                        }
                    },
                    None => None,
                };
                stored.state.fingerprint = fp;
                stored.state.kind = trigger.type_name.to_owned();
            }
            stored.defined_disabled = defined_disabled;
            stored.listen = listen;
            stored.state.flow_revision = revision;
            stored.state.updated_date = Some(now);
            match repo.put(&stored, expect).await {
                Ok(_) => break,
                Err(e) if is_conflict(&e) && attempt + 1 < ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    // Triggers no longer in the flow.
    for (stored, _) in repo.of_flow(&flow.namespace, &flow.id).await? {
        if !flow
            .triggers
            .iter()
            .any(|t| t.id == stored.state.trigger_id)
        {
            repo.delete(&flow.namespace, &flow.id, &stored.state.trigger_id)
                .await?;
        }
    }
    Ok(())
}

/// Deletes the states of a deleted flow's triggers.
pub async fn on_flow_deleted(
    platform: &Platform,
    namespace: &str,
    flow_id: &str,
) -> Result<(), TriggerError> {
    let repo = &platform.repos.triggers;
    for (stored, _) in repo.of_flow(namespace, flow_id).await? {
        repo.delete(namespace, flow_id, &stored.state.trigger_id)
            .await?;
    }
    Ok(())
}

/// Applies `change` to a trigger's state with a version condition, retrying lost races;
/// `None` when the trigger has no state.
pub async fn update_state(
    platform: &Platform,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
    change: impl Fn(&mut StoredTrigger),
) -> Result<Option<StoredTrigger>, TriggerError> {
    update_state_in(
        &platform.repos.triggers,
        platform.clock.as_ref(),
        namespace,
        flow_id,
        trigger_id,
        change,
    )
    .await
}

/// [`update_state`] with a repository and a clock (the worker's tasks have no platform).
pub async fn update_state_in(
    repo: &crate::repo::TriggerRepo,
    clock: &dyn kite_ports::Clock,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
    change: impl Fn(&mut StoredTrigger),
) -> Result<Option<StoredTrigger>, TriggerError> {
    for attempt in 0..ATTEMPTS {
        let Some((mut stored, version)) = repo.get(namespace, flow_id, trigger_id).await? else {
            return Ok(None);
        };
        change(&mut stored);
        stored.state.updated_date = Some(clock.now());
        match repo.put(&stored, Expect::Version(version)).await {
            Ok(_) => return Ok(Some(stored)),
            Err(e) if is_conflict(&e) && attempt + 1 < ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns on its last attempt")
}
