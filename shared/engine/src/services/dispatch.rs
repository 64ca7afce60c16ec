//! One way to handle a batch of queue deliveries, shared by the local pollers and the
//! Lambda functions (whose event source mappings hand them SQS batches):
//!
//! * messages are handled in order; once a message of a FIFO group fails, the later
//!   messages of that group in the batch are not handled (they are retried after it, so an
//!   execution's events are never reordered);
//! * a handler that panics fails its message instead of the process;
//! * a poison message — one that fails for a reason retrying cannot fix (it does not decode,
//!   its flow or task is gone, the handler panics) — is set aside on its [`POISON_AFTER`]th
//!   receive in its queue's dead-letter queue, wrapped with the error ([`DeadLetter`]), so an
//!   operator sees why; transient failures (the store or a queue failing) are retried until
//!   the queue's own redrive policy (10 receives), which is also the backstop for handlers
//!   that crash or time out.
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

/// Handles `batch` in order for `component`; `deadline` bounds worker jobs (a Lambda's
/// end). One outcome per delivery, in order.
pub async fn handle_batch(
    platform: &Platform,
    component: Component,
    batch: &[Delivery],
    deadline: Option<Instant>,
) -> Vec<Outcome> {
    let mut failed_groups: Vec<&str> = Vec::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    for d in batch {
        if let Some(g) = d.group_id.as_deref()
            && failed_groups.contains(&g)
        {
            outcomes.push(Outcome::Retry(format!(
                "not handled: an earlier message of group {g} failed in this batch"
            )));
            continue;
        }
        let outcome = match handle_one(platform, component, d, deadline).await {
            Ok(()) => Outcome::Done,
            Err((error, transient)) => {
                tracing::error!(
                    queue = queue_of(&platform.names, component),
                    message_id = %d.id,
                    receive_count = d.receive_count,
                    "message failed: {error}"
                );
                if !transient && d.receive_count >= POISON_AFTER {
                    match dead_letter(platform, component, d, &error).await {
                        Ok(()) => Outcome::DeadLettered(error),
                        Err(e) => {
                            Outcome::Retry(format!("{error} (and dead-lettering failed: {e})"))
                        }
                    }
                } else {
                    Outcome::Retry(error)
                }
            }
        };
        if !outcome.delete()
            && let Some(g) = d.group_id.as_deref()
        {
            failed_groups.push(g);
        }
        outcomes.push(outcome);
    }
    outcomes
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
