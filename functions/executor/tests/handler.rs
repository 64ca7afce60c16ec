//! The executor handler with hand-built SQS FIFO events (as Lambda delivers them).

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

use kite_test_support::platform;

fn record(id: &str, group: &str, body: &str) -> serde_json::Value {
    json!({
        "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": group},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kite-executor.fifo",
        "awsRegion": "us-east-1"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_per_message_and_hold_back_their_group() {
    let (p, _work) = platform();
    p.ensure_queues().await.unwrap();
    let unknown_execution =
        json!({"id": "ev1", "executionId": "nope", "event": {"type": "start"}}).to_string();
    let event = json!({"Records": [
        record("m1", "exec-a", "{not json"),
        record("m2", "exec-b", &unknown_execution),
        record("m3", "exec-a", &unknown_execution),
    ]});
    let event = LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default());
    let response = kite_fn_executor::handle(&p, event).await.unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // m1 is malformed; m3 waits behind it (same group); m2 (another group) is handled: an
    // event for an unknown execution is dropped, not retried.
    assert_eq!(failed, ["m1", "m3"]);
}
