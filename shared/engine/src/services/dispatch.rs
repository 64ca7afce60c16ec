//! One way to handle a batch of queue deliveries, shared by the local pollers and the
//! Lambda functions (whose event source mappings hand them SQS batches):
//!
//! * messages are handled in order; once a message of a FIFO group fails, the later
//!   messages of that group in the batch are not handled (they are retried after it, so an
//!   execution's events are never reordered); the executor's groups are handled
//!   concurrently, each with one state write for its messages;
//! * a handler that panics fails its message instead of the process;
//! * a poison message — one that fails for a reason retrying cannot fix (it does not decode,
//!   its flow or task is gone, the handler panics) — is set aside on its [`POISON_AFTER`]th
//!   receive in its queue's dead-letter queue, wrapped with the error ([`DeadLetter`]), so an
//!   operator sees why; transient failures (the store or a queue failing) are retried until
//!   [`MAX_RECEIVES`];
//! * a message received more than [`MAX_RECEIVES`] times (its handler kept timing out or
//!   crashing: no delivery ended in success or failure) is dead-lettered on receipt, before
//!   its handler runs again; the queue's own redrive policy (10 receives) stays the
//!   backstop;
//! * an executor message dead-lettered fails its execution with the reason (it would
//!   otherwise stay RUNNING with nobody to end it).
//!
//! The result says, per message, whether to delete it ([`Outcome::Done`],
//! [`Outcome::DeadLettered`]) or leave it to be redelivered ([`Outcome::Retry`]).

use std::time::{Duration, Instant};

use kite_ports::OutgoingMessage;
use serde::{Deserialize, Serialize};

use super::poller::Component;
use super::{Platform, QueueNames, ServiceError};

/// Receives after which a failing message is dead-lettered with its error.
pub const POISON_AFTER: u32 = 5;

/// Receives after which a message is dead-lettered as soon as it is received again,
/// before its handler runs: its earlier deliveries neither succeeded nor failed within
/// their lease (the handler kept running past the visibility timeout, or crashed), so
/// running it again would only do the same. Below the queues' own redrive (10 receives),
/// so the dead letter carries the reason; above [`POISON_AFTER`], so transient failures
/// (a store or queue unavailable) get that many tries first.
pub const MAX_RECEIVES: u32 = 8;

/// What the worker keeps free before its deadline to store logs and send the result.
pub const WORKER_MARGIN: Duration = Duration::from_secs(10);

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's message id.
    pub id: String,
    /// The body.
    pub body: String,
    /// Deliveries so far, this one included.
    pub receive_count: u32,
    /// FIFO group.
    pub group_id: Option<String>,
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled: delete it.
    Done,
    /// Failed too often and moved to the dead-letter queue with the error: delete it.
    DeadLettered(String),
    /// Failed (or skipped behind a failed message of its group): leave it for redelivery.
    Retry(String),
}

impl Outcome {
    /// Whether the message should be deleted from its queue.
    pub fn delete(&self) -> bool {
        !matches!(self, Outcome::Retry(_))
    }
}

/// The body of a dead-lettered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The queue it came from.
    pub queue: String,
    /// Its message id there.
    pub message_id: String,
    /// How often it was received.
    pub receive_count: u32,
    /// The last error.
    pub error: String,
    /// The original body (by reference when large).
    pub body: String,
}

/// The queue a component reads.
pub fn queue_of(names: &QueueNames, component: Component) -> &str {
    match component {
        Component::Executor => &names.executor,
        Component::Worker => &names.worker,
        Component::Scheduler => &names.timers,
    }
}

/// Handles `batch` for `component`; `deadline` bounds worker jobs (a Lambda's end). One
/// outcome per delivery, in order.
///
/// Executor messages are grouped by FIFO group (execution): the groups are handled
/// concurrently, and the messages of a group together, in order, with one state write
/// ([`Platform::handle_executor_messages`]). Other messages are handled one after another.
pub async fn handle_batch(
    platform: &Platform,
    component: Component,
    batch: &[Delivery],
    deadline: Option<Instant>,
) -> Vec<Outcome> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    for (i, d) in batch.iter().enumerate() {
        if d.receive_count > MAX_RECEIVES {
            outcomes[i] = Some(exhausted(platform, component, d).await);
            continue;
        }
        let same = d.group_id.as_deref().and_then(|g| {
            groups
                .iter_mut()
                .find(|idx| batch[idx[0]].group_id.as_deref() == Some(g))
        });
        match same {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    let results: Vec<Vec<(usize, Outcome)>> = if component == Component::Executor {
        futures::future::join_all(
            groups
                .iter()
                .map(|idx| handle_executor_group(platform, batch, idx)),
        )
        .await
    } else {
        let mut all = Vec::new();
        for idx in &groups {
            all.push(handle_group_one_by_one(platform, component, batch, idx, deadline).await);
        }
        all
    };
    for (i, outcome) in results.into_iter().flatten() {
        outcomes[i] = Some(outcome);
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Retry("not handled".into())))
        .collect()
}

/// The messages `idx` of one FIFO group of the executor queue, handled together.
async fn handle_executor_group(
    platform: &Platform,
    batch: &[Delivery],
    idx: &[usize],
) -> Vec<(usize, Outcome)> {
    use futures::FutureExt;
    let mut out = Vec::with_capacity(idx.len());
    let mut start = 0;
    while start < idx.len() {
        let bodies: Vec<&str> = idx[start..]
            .iter()
            .map(|&i| batch[i].body.as_str())
            .collect();
        let handled = std::panic::AssertUnwindSafe(platform.handle_executor_messages(&bodies))
            .catch_unwind()
            .await;
        let Ok(handled) = handled else {
            // A panic cannot be pinned on one message of the run: handle the rest one by
            // one, so that only the message that panics fails.
            out.extend(
                handle_group_one_by_one(platform, Component::Executor, batch, &idx[start..], None)
                    .await,
            );
            return out;
        };
        for &i in &idx[start..start + handled.done] {
            out.push((i, Outcome::Done));
        }
        start += handled.done;
        let Some(error) = handled.error else {
            break;
        };
        let i = idx[start];
        let outcome = failure(
            platform,
            Component::Executor,
            &batch[i],
            error.to_string(),
            error.is_transient(),
        )
        .await;
        let go_on = outcome.delete();
        out.push((i, outcome));
        start += 1;
        if !go_on {
            out.extend(idx[start..].iter().map(|&i| (i, held_back(&batch[i]))));
            break;
        }
    }
    out
}

/// The messages `idx` (one FIFO group, or a single message) handled one at a time; once one
/// fails, the later ones are held back.
async fn handle_group_one_by_one(
    platform: &Platform,
    component: Component,
    batch: &[Delivery],
    idx: &[usize],
    deadline: Option<Instant>,
) -> Vec<(usize, Outcome)> {
    let mut out = Vec::with_capacity(idx.len());
    let mut failed = false;
    for &i in idx {
        let d = &batch[i];
        if failed {
            out.push((i, held_back(d)));
            continue;
        }
        let outcome = match handle_one(platform, component, d, deadline).await {
            Ok(()) => Outcome::Done,
            Err((error, transient)) => failure(platform, component, d, error, transient).await,
        };
        failed = !outcome.delete();
        out.push((i, outcome));
    }
    out
}

/// A message received more than [`MAX_RECEIVES`] times: dead-lettered without running its
/// handler again; an executor message also fails its execution with the reason.
async fn exhausted(platform: &Platform, component: Component, d: &Delivery) -> Outcome {
    let error = format!(
        "received {} times without its handler finishing: it kept timing out (still running \
         when its queue lease expired) or crashing, so it is not run again (more than {} receives)",
        d.receive_count, MAX_RECEIVES
    );
    tracing::error!(
        queue = queue_of(&platform.names, component),
        message_id = %d.id,
        receive_count = d.receive_count,
        "message dead-lettered: {error}"
    );
    if let Err(e) = dead_letter(platform, component, d, &error).await {
        return Outcome::Retry(format!("{error} (and dead-lettering failed: {e})"));
    }
    if component == Component::Executor {
        fail_execution_of(platform, d, &error).await;
    }
    Outcome::DeadLettered(error)
}

/// The execution an executor message was for fails with `error` (best effort: a message
/// that does not decode names no execution).
async fn fail_execution_of(platform: &Platform, d: &Delivery, error: &str) {
    let Some(id) = platform.executor_message_execution(&d.body).await else {
        return;
    };
    let reason = format!("Execution failed: one of its events was dead-lettered: {error}");
    if let Err(e) = platform.fail_execution(&id, &reason).await {
        tracing::error!(execution = %id, "cannot fail the execution of a dead-lettered event: {e}");
    }
}

fn held_back(d: &Delivery) -> Outcome {
    Outcome::Retry(format!(
        "not handled: an earlier message of group {} failed in this batch",
        d.group_id.as_deref().unwrap_or("-")
    ))
}

/// The outcome of a failed delivery: dead-lettered when it cannot succeed and was received
/// [`POISON_AFTER`] times, else left for redelivery.
async fn failure(
    platform: &Platform,
    component: Component,
    d: &Delivery,
    error: String,
    transient: bool,
) -> Outcome {
    tracing::error!(
        queue = queue_of(&platform.names, component),
        message_id = %d.id,
        receive_count = d.receive_count,
        "message failed: {error}"
    );
    if !transient && d.receive_count >= POISON_AFTER {
        match dead_letter(platform, component, d, &error).await {
            Ok(()) => {
                if component == Component::Executor {
                    fail_execution_of(platform, d, &error).await;
                }
                Outcome::DeadLettered(error)
            }
            Err(e) => Outcome::Retry(format!("{error} (and dead-lettering failed: {e})")),
        }
    } else {
        Outcome::Retry(error)
    }
}

async fn handle_one(
    platform: &Platform,
    component: Component,
    d: &Delivery,
    deadline: Option<Instant>,
) -> Result<(), (String, bool)> {
    use futures::FutureExt;
    let handled = async {
        match component {
            Component::Executor => platform.handle_executor_message(&d.body).await,
            Component::Worker => {
                let budget = deadline.map(|end| {
                    end.saturating_duration_since(Instant::now())
                        .saturating_sub(WORKER_MARGIN)
                });
                platform.handle_worker_message_within(&d.body, budget).await
            }
            Component::Scheduler => platform.handle_timer_message(&d.body).await,
        }
    };
    match std::panic::AssertUnwindSafe(handled).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err((e.to_string(), e.is_transient())),
        Err(panic) => Err((
            format!(
                "the handler panicked: {}",
                crate::worker::panic_message(panic.as_ref())
            ),
            false,
        )),
    }
}

async fn dead_letter(
    platform: &Platform,
    component: Component,
    d: &Delivery,
    error: &str,
) -> Result<(), ServiceError> {
    let queue = queue_of(&platform.names, component);
    let dlq = QueueNames::dead_letter_of(queue);
    let letter = DeadLetter {
        queue: queue.to_owned(),
        message_id: d.id.clone(),
        receive_count: d.receive_count,
        error: error.chars().take(8 * 1024).collect(),
        body: platform.by_reference(d.body.clone()).await?,
    };
    let body = serde_json::to_string(&letter).map_err(|e| ServiceError::Other(e.to_string()))?;
    let mut msg = OutgoingMessage::new(body);
    if dlq.ends_with(".fifo") {
        msg = msg
            .in_group(d.group_id.clone().unwrap_or_else(|| "dead-letter".into()))
            .with_dedup_id(format!("dl-{}", d.id));
    }
    platform.queue.send(&dlq, msg).await?;
    Ok(())
}
