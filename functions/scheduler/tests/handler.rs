//! The scheduler handler with hand-built events: an EventBridge scheduled event (a tick), an
//! SQS batch from the timer queue, and something else (refused with a clear message).

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

include!("../../../tests/support/platform.rs");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_timer_batches_and_unknown_events() {
    let (p, _work) = platform();
    p.ensure_queues().await.unwrap();
    let scheduled = json!({
        "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-21T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/kite-scheduler"], "detail": {}
    });
    let out = kite_fn_scheduler::handle(&p, LambdaEvent::new(scheduled, Context::default()))
        .await
        .unwrap();
    assert_eq!(out, json!({"timersReleased": 0, "hooks": 0}));

    let timers = json!({"Records": [{
        "messageId": "t1", "receiptHandle": "rh", "body": "garbage",
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kite-timers", "awsRegion": "us-east-1"
    }]});
    let out = kite_fn_scheduler::handle(&p, LambdaEvent::new(timers, Context::default()))
        .await
        .unwrap();
    assert_eq!(out["batchItemFailures"][0]["itemIdentifier"], "t1");

    let err = kite_fn_scheduler::handle(
        &p,
        LambdaEvent::new(json!({"hello": 1}), Context::default()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("unrecognised event"), "{err}");
}
