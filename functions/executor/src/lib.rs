//! The executor Lambda: SQS FIFO batches of executor events (group = execution id) in, the
//! engine's decisions out. Partial batch failures are reported per message, and a message of
//! a group is never handled after an earlier one of its group failed in the batch (it is
//! reported failed too, so FIFO order holds on redelivery).
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
    Ok(sqs_batch(platform, Component::Executor, &event.payload, deadline).await)
}
