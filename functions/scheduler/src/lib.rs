//! The scheduler Lambda. Two event sources feed it:
//!
//! * the EventBridge rule (every minute): one [`tick`](kite_engine::services::Platform::tick)
//!   — far timers coming due move onto the timer queue (scheduled starts, long Sleeps, Pause
//!   delays and retries beyond SQS's 15-minute delay), then the tick hooks, where trigger
//!   evaluation plugs in;
//! * the timer queue (SQS batches): due timers become executor events, early ones are
//!   delayed again;
//! * the trigger-events queue (SQS batches of S3 event notifications and EventBridge "Object
//!   Created" events of the watched buckets): the S3 triggers watching the bucket fire
//!   (`kite_aws::triggers::events`); S3's test events are ignored.
//!
//! A batch is told apart by its queue (`eventSourceARN`), else by what its messages look like.
//!
//! `main` only wires (see `kite_aws::lambda::init`); the handler lives here.

use aws_lambda_events::event::sqs::SqsEvent;
use kite_aws::lambda::{deadline_instant, sqs_batch};
use kite_engine::services::Platform;
use kite_engine::services::poller::Component;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// What the scheduler was invoked with.
#[derive(Debug)]
pub enum SchedulerEvent {
    /// A batch from the timer queue.
    Timers(SqsEvent),
    /// A batch from the trigger-events queue (S3 notifications).
    TriggerEvents(SqsEvent),
    /// An EventBridge scheduled event (or a manual `{"kite":"tick"}`).
    Tick,
}

/// Recognises the event shape.
pub fn classify(payload: Value) -> Result<SchedulerEvent, String> {
    if payload.get("Records").is_some() {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(|e| format!("malformed SQS event: {e}"))?;
        if kite_aws::triggers::events::is_trigger_events(&batch, &events_queue()) {
            return Ok(SchedulerEvent::TriggerEvents(batch));
        }
        return Ok(SchedulerEvent::Timers(batch));
    }
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    let source = payload.get("source").and_then(Value::as_str);
    if detail_type == Some("Scheduled Event")
        || matches!(source, Some("aws.events" | "aws.scheduler"))
        || payload.get("kite").and_then(Value::as_str) == Some("tick")
    {
        return Ok(SchedulerEvent::Tick);
    }
    Err(format!(
        "unrecognised event for the scheduler: expected an SQS batch from the timer queue or an \
         EventBridge scheduled event, got {}",
        payload.to_string().chars().take(200).collect::<String>()
    ))
}

/// The unprefixed name of the queue S3 notifications reach the scheduler through.
fn events_queue() -> String {
    kite_aws::resources::Resources::load()
        .notification_queue()
        .map(|q| q.name.clone())
        .unwrap_or_else(|| "trigger-events".into())
}

/// Handles one invocation.
pub async fn handle(
    platform: &Platform,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let deadline = (event.context.deadline > 0).then(|| deadline_instant(event.context.deadline));
    match classify(event.payload)? {
        SchedulerEvent::Timers(batch) => {
            let response = sqs_batch(platform, Component::Scheduler, &batch, deadline).await;
            Ok(serde_json::to_value(response)?)
        }
        SchedulerEvent::TriggerEvents(batch) => {
            let response = kite_aws::triggers::events::handle_sqs_event(platform, &batch).await;
            Ok(serde_json::to_value(response)?)
        }
        SchedulerEvent::Tick => {
            let report = platform.tick().await?;
            Ok(json!({
                "timersReleased": report.timers_released,
                "hooks": report.hooks,
            }))
        }
    }
}
