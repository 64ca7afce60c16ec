//! The scheduler handler with hand-built events: an EventBridge scheduled event (a tick), an
//! SQS batch from the timer queue, and something else (refused with a clear message).

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

use kite_test_support::platform;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_event_batches_are_told_from_timer_batches() {
    let (p, _work) = platform();
    let p = p.with_trigger_registry(kite_aws::triggers::registry());
    p.ensure_queues().await.unwrap();
    let record = |id: &str, body: &str| {
        json!({
            "messageId": id, "receiptHandle": "rh", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kite-trigger-events",
            "awsRegion": "us-east-1"
        })
    };
    let s3_event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "nobody-watches"}, "object": {"key": "a.csv", "eTag": "e"}}
    }]})
    .to_string();
    let batch = json!({"Records": [
        record("test", r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#),
        record("put", &s3_event),
        record("junk", "garbage"),
    ]});
    let out = kite_fn_scheduler::handle(&p, LambdaEvent::new(batch, Context::default()))
        .await
        .unwrap();
    // The test event and an upload nobody watches are done with; junk is retried (then
    // dead-lettered), not taken for a timer.
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": "junk"}]),
        "{out}"
    );
}
