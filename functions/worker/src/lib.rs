//! The worker Lambda: SQS batches of task-run jobs in, results to the executor queue. A job
//! is bounded by its task's `timeout` and by the invocation's remaining time (less a margin to
//! store logs and send the result): a task that cannot finish inside the Lambda limit fails
//! with a message saying so, never a silent Lambda timeout.
//!
//! `main` only wires (see `kite_aws::lambda::init`); the handler lives here.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kite_aws::lambda::{deadline_instant, sqs_batch};
use kite_engine::services::Platform;
use kite_engine::services::poller::Component;
use lambda_runtime::LambdaEvent;

/// Handles one SQS batch.
pub async fn handle(
    platform: &Platform,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    // A context without a deadline (a hand-built event) has no time limit.
    let deadline = (event.context.deadline > 0).then(|| deadline_instant(event.context.deadline));
    Ok(sqs_batch(platform, Component::Worker, &event.payload, deadline).await)
}
