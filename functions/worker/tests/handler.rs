//! The worker handler with a hand-built SQS event (as Lambda delivers it).

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

use kite_test_support::platform;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_job_is_reported_failed_and_nothing_else() {
    let (p, _work) = platform();
    p.ensure_queues().await.unwrap();
    let event = json!({"Records": [{
        "messageId": "w1", "receiptHandle": "rh", "body": "{\"not\": \"a job\"}",
        "attributes": {"ApproximateReceiveCount": "2"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kite-worker", "awsRegion": "us-east-1"
    }]});
    let event = LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default());
    let response = kite_fn_worker::handle(&p, event).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "w1");
}
