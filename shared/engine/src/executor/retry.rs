//! Retry policies: which applies to a failed run (task, nearest flowable ancestor, flow)
//! and when the next attempt is due, if any.

use chrono::{DateTime, Utc};
use kite_flow::Task;
use kite_flow::model::retry::{Retry, RetryType};

use super::Cx;

/// The policy for runs of `task` (run `id`): its own, an ancestor flowable's, or the flow's.
pub fn policy<'a>(cx: &'a Cx<'_>, task: &'a Task, id: &str) -> Option<&'a Retry> {
    if let Some(r) = &task.common.retry {
        return Some(r);
    }
    let mut cur = cx.run(id).and_then(|r| r.parent_task_run_id.clone());
    while let Some(pid) = cur {
        let run = cx.run(&pid)?;
        if let Some(r) = cx.task(&run.task_id).and_then(|t| t.common.retry.as_ref()) {
            return Some(r);
        }
        cur = run.parent_task_run_id.clone();
    }
    cx.flow.retry.as_ref()
}

/// A stable pseudo-random fraction in [0, 1) for run `id`'s attempt `n`.
fn fraction(id: &str, n: usize) -> f64 {
    let h = crate::model::ids::derived_id(&[id, &n.to_string()]);
    let v = h.bytes().fold(0u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    (v % 1_000_000) as f64 / 1_000_000.0
}

/// When the next attempt of run `id` is due, or None when no retry applies.
pub fn next_retry(cx: &Cx<'_>, task: &Task, id: &str) -> Option<DateTime<Utc>> {
    let p = policy(cx, task, id)?;
    if p.behavior != kite_flow::model::retry::RetryBehavior::RetryFailedTask {
        return None;
    }
    let run = cx.run(id)?;
    due(
        cx,
        p,
        id,
        run.attempts.len(),
        run.attempts.first().and_then(|a| a.state.start_date),
    )
}

/// For `behavior: CREATE_NEW_EXECUTION`: when the next execution of the chain is due
/// (counting executions with `metadata.attemptNumber`), or None.
pub fn next_execution(cx: &Cx<'_>, task: &Task, id: &str) -> Option<DateTime<Utc>> {
    let p = policy(cx, task, id)?;
    if p.behavior != kite_flow::model::retry::RetryBehavior::CreateNewExecution {
        return None;
    }
    let attempts = cx.rec.execution.metadata.attempt_number as usize;
    let first = cx.rec.execution.metadata.original_created_date;
    due(cx, p, id, attempts, first)
}

fn due(
    cx: &Cx<'_>,
    p: &Retry,
    id: &str,
    attempts: usize,
    first: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if let Some(max) = p.max_attempt
        && attempts >= max as usize
    {
        return None;
    }
    let ms = |d: Option<kite_flow::IsoDuration>| d.map(|d| d.as_millis()).unwrap_or(0);
    let delay_ms = match p.kind {
        RetryType::Constant => ms(p.interval),
        RetryType::Exponential => {
            let base = ms(p.interval) as f64;
            let factor = p.delay_factor.unwrap_or(2.0);
            let d = base * factor.powi(attempts.saturating_sub(1) as i32);
            let cap = p
                .max_interval
                .map(|m| m.as_millis() as f64)
                .unwrap_or(f64::MAX);
            d.min(cap) as i64
        }
        RetryType::Random => {
            let lo = ms(p.min_interval);
            let hi = ms(p.max_interval).max(lo);
            lo + ((hi - lo) as f64 * fraction(id, attempts)) as i64
        }
    };
    let at = cx.now + chrono::Duration::milliseconds(delay_ms);
    if let Some(max) = p.max_duration {
        let first = first.unwrap_or(cx.now);
        if at > first + max.to_chrono() {
            return None;
        }
    }
    Some(at)
}
