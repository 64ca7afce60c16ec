//! The S3 and SQS triggers against moto: the tick's polling path and the S3 notification
//! path give one execution per object version (a notification delivered twice, a poll after
//! a notification, a redetection after an incomplete MOVE create nothing new), MOVE and
//! DELETE applied once the execution exists, `regexp`; SQS messages deleted only once their
//! execution exists (an execution that could not be created leaves its message in the
//! queue, and the next tick finishes the job), batches in internal storage.
//!
//! The platform is in memory on a manual clock (the tick is called directly); the buckets
//! and queues the triggers watch are on the moto server the harness starts.
//!
//! Run with `cargo test -p kite-aws --features testing --test triggers`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use kite_aws::testing;
use kite_aws::triggers::{self, Settings, events};
use kite_engine::services::{Platform, QueueNames};
use kite_ports::faulty::{FaultyQueue, SendFault};
use kite_ports::{
    Clock, ManualClock, MemoryDocuments, MemoryQueue, MemoryStorage, OutgoingMessage, Queue,
    QueueError, StorageKey,
};
use serde_json::Value;

const NS: &str = "kite.tests.awstrig";

/// Fails the first send to the executor queue when armed (an execution whose start could not
/// be sent: its creation failed).
#[derive(Debug, Default)]
struct FailFirstStart {
    armed: AtomicBool,
}

/// The fault, shared with the test.
#[derive(Debug, Clone)]
struct Faults(Arc<FailFirstStart>);

impl SendFault for Faults {
    fn before_send(&self, queue: &str, _msgs: &[&OutgoingMessage]) -> Result<(), QueueError> {
        if queue.contains("executor") && self.0.armed.swap(false, Ordering::SeqCst) {
            return Err(QueueError::Backend {
                queue: queue.to_owned(),
                operation: "send",
                source: "injected failure of an execution's creation".into(),
            });
        }
        Ok(())
    }
}

struct Env {
    platform: Platform,
    clock: ManualClock,
    aws: kite_aws::Clients,
    endpoint: String,
    fault: Arc<FailFirstStart>,
    _work: tempfile::TempDir,
}

fn start() -> DateTime<Utc> {
    Utc::now()
}

fn settings() -> Settings {
    Settings {
        visibility: Duration::from_secs(2),
        receive_budget: Duration::from_secs(5),
        downloads: 4,
    }
}

async fn env() -> Env {
    let config = testing::config();
    let endpoint = config.endpoint.clone().unwrap();
    let aws = kite_aws::Clients::connect(&config).await;
    let clock = ManualClock::new(start());
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let fault = Arc::new(FailFirstStart::default());
    let queue: Arc<dyn Queue> = Arc::new(FaultyQueue::new(
        Arc::new(MemoryQueue::new(c.clone())),
        Faults(fault.clone()),
    ));
    let work = tempfile::tempdir().unwrap();
    let platform = Platform::on_ports(
        queue,
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryDocuments::new(c.clone())),
        c,
        QueueNames::with_prefix("t-"),
        work.path().to_owned(),
    )
    .with_trigger_registry(triggers::registry_with(settings()));
    platform.ensure_queues().await.unwrap();
    Env {
        platform,
        clock,
        aws,
        endpoint,
        fault,
        _work: work,
    }
}

impl Env {
    fn bucket(&self, name: &str) -> String {
        self.aws.config.name(name)
    }

    async fn create_bucket(&self, name: &str) -> String {
        let b = self.bucket(name);
        self.aws.s3.create_bucket().bucket(&b).send().await.unwrap();
        b
    }

    async fn put(&self, bucket: &str, key: &str, body: &str) {
        self.aws
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }

    async fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self
            .aws
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }

    async fn deploy(&self, yaml: &str) {
        let parsed = kite_flow::parse_flow(yaml);
        let flow = parsed
            .flow
            .unwrap_or_else(|| panic!("invalid flow: {:?}", parsed.diagnostics));
        self.platform.deploy_flow(&flow, yaml).await.unwrap();
    }

    /// One tick; then the clock moves past every polling interval used here.
    async fn tick(&self) -> kite_engine::triggers::tick::TriggerTick {
        let report = self.platform.tick().await.unwrap().triggers;
        self.clock.advance(Duration::from_secs(61));
        report
    }

    async fn executions(&self, flow: &str) -> Vec<kite_engine::model::Execution> {
        let mut list: Vec<_> = self
            .platform
            .repos
            .executions
            .list(NS, Some(flow), 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.execution)
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    async fn queue(&self, name: &str) -> String {
        let q = self.aws.config.name(name);
        self.aws
            .sqs
            .create_queue()
            .queue_name(&q)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned()
    }

    /// Visible + in-flight messages of a queue.
    async fn queued(&self, url: &str) -> (u64, u64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes().cloned().unwrap_or_default();
        let n = |a: A| {
            attrs
                .get(&a)
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX)
        };
        (
            n(A::ApproximateNumberOfMessages),
            n(A::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

fn s3_flow(id: &str, env: &Env, bucket: &str, extra: &str) -> String {
    format!(
        r#"id: {id}
namespace: {NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.objects[0].key }}}}"
triggers:
  - id: files
    type: io.kestra.plugin.aws.s3.Trigger
    bucket: {bucket}
    endpointOverride: {endpoint}
    region: us-east-1
    interval: PT30S
{extra}"#,
        endpoint = env.endpoint
    )
}

fn objects(e: &kite_engine::model::Execution) -> Vec<Value> {
    let t = e.trigger.as_ref().expect("started by a trigger");
    assert_eq!(t.kind, "io.kestra.plugin.aws.s3.Trigger");
    t.variables["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_starts_one_execution_with_the_object_then_it_is_moved() {
    let env = env().await;
    let bucket = env.create_bucket("in").await;
    let archive = env.create_bucket("done").await;
    env.deploy(&s3_flow(
        "moved",
        &env,
        &bucket,
        &format!("    prefix: in/\n    action: MOVE\n    moveTo:\n      key: archive/\n      bucket: {archive}\n"),
    ))
    .await;
    assert_eq!(
        env.tick().await.created,
        0,
        "an empty bucket starts nothing"
    );

    env.put(&bucket, "in/a.csv", "x,y\n1,2\n").await;
    env.put(&bucket, "other/b.csv", "not under the prefix")
        .await;
    let t = env.tick().await;
    assert_eq!((t.created, t.failed), (1, 0), "{t:?}");
    let execs = env.executions("moved").await;
    assert_eq!(execs.len(), 1);
    let objs = objects(&execs[0]);
    assert_eq!(objs.len(), 1);
    let o = &objs[0];
    assert_eq!(o["key"], "in/a.csv");
    assert_eq!(o["size"], 8);
    let etag = o["etag"].as_str().unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(o["lastModified"].as_str().unwrap().ends_with('Z'), "{o}");
    // The object is in internal storage, under the execution's folder.
    let uri = o["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "kestra:///{NS}/moved/executions/{}/trigger/files/",
            execs[0].id
        )),
        "{uri}"
    );
    let stored = env
        .platform
        .storage
        .get(&StorageKey::parse_uri(uri).unwrap())
        .await
        .unwrap();
    assert_eq!(&stored[..], b"x,y\n1,2\n");
    // MOVE: gone from the watched bucket, in the archive folder of the other one.
    assert_eq!(env.keys(&bucket).await, vec!["other/b.csv"]);
    assert_eq!(env.keys(&archive).await, vec!["archive/a.csv"]);

    // The same version put back (a MOVE that copied but did not delete): no new execution,
    // the move is finished.
    env.put(&bucket, "in/a.csv", "x,y\n1,2\n").await;
    let t = env.tick().await;
    assert_eq!((t.created, t.existed), (0, 1), "{t:?}");
    assert_eq!(env.keys(&bucket).await, vec!["other/b.csv"]);
    // A new version of the same key is a new detection.
    env.put(&bucket, "in/a.csv", "x,y\n3,4\n").await;
    assert_eq!(env.tick().await.created, 1);
    assert_eq!(env.executions("moved").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_action_and_regexp_filter() {
    let env = env().await;
    let bucket = env.create_bucket("del").await;
    env.deploy(&s3_flow(
        "deleted",
        &env,
        &bucket,
        "    regexp: \".*\\\\.csv\"\n    action: DELETE\n",
    ))
    .await;
    env.put(&bucket, "a.csv", "1").await;
    env.put(&bucket, "b.txt", "2").await;
    env.put(&bucket, "c.csv.bak", "3").await;
    let t = env.tick().await;
    assert_eq!(t.created, 1, "{t:?}");
    let execs = env.executions("deleted").await;
    assert_eq!(objects(&execs[0])[0]["key"], "a.csv");
    assert_eq!(env.keys(&bucket).await, vec!["b.txt", "c.csv.bak"]);
    assert_eq!(env.tick().await.created, 0);
}

/// Puts `key` into a bucket whose notifications go to a moto queue, and returns the
/// notification message moto sent (the real shape: the key URL-encoded).
async fn notified_put(env: &Env, bucket: &str, queue_url: &str, key: &str, body: &str) -> String {
    env.put(bucket, key, body).await;
    for _ in 0..50 {
        let out = env
            .aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = out.messages().first() {
            env.aws
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            let body = m.body().unwrap().to_owned();
            if body.contains("TestEvent") {
                continue;
            }
            return body;
        }
    }
    panic!("no notification for {key}");
}

async fn notify_to_queue(env: &Env, bucket: &str) -> String {
    let url = env.queue("events").await;
    let arn = env
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    env.aws
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(arn)
                        .events(Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_delivered_twice_and_the_poll_give_one_execution() {
    let env = env().await;
    let bucket = env.create_bucket("notified").await;
    let url = notify_to_queue(&env, &bucket).await;
    // NONE: the object stays, so the poll sees it too.
    env.deploy(&s3_flow("kept", &env, &bucket, "    action: NONE\n"))
        .await;
    let body = notified_put(&env, &bucket, &url, "in/my report é+1.csv", "hello").await;
    assert!(body.contains("my+report"), "moto encodes keys: {body}");

    let first = events::handle_message(&env.platform, &body).await.unwrap();
    assert_eq!((first.matched, first.created), (1, 1), "{first:?}");
    let again = events::handle_message(&env.platform, &body).await.unwrap();
    assert_eq!((again.created, again.existed), (0, 1), "{again:?}");
    let polled = env.tick().await;
    assert_eq!((polled.created, polled.existed), (0, 1), "{polled:?}");

    let execs = env.executions("kept").await;
    assert_eq!(execs.len(), 1);
    let o = &objects(&execs[0])[0];
    assert_eq!(o["key"], "in/my report é+1.csv", "the key is decoded");
    assert_eq!(o["size"], 5);
    let stored = env
        .platform
        .storage
        .get(&StorageKey::parse_uri(o["uri"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(&stored[..], b"hello");
    // The trigger state names the execution the notification started.
    let (state, _) = env
        .platform
        .repos
        .triggers
        .get(NS, "kept", "files")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.state.execution_id.as_deref(),
        Some(execs[0].id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_twice_then_polling_one_execution_per_object_moved_once() {
    let env = env().await;
    let bucket = env.create_bucket("twice").await;
    let url = notify_to_queue(&env, &bucket).await;
    env.deploy(&s3_flow(
        "twice",
        &env,
        &bucket,
        "    prefix: in/\n    action: MOVE\n    moveTo:\n      key: archive\n",
    ))
    .await;
    let mut bodies = Vec::new();
    for i in 0..3 {
        bodies.push(
            notified_put(
                &env,
                &bucket,
                &url,
                &format!("in/f{i}.json"),
                &format!("{{\"n\":{i}}}"),
            )
            .await,
        );
    }
    // Archived objects notify too, and are never detected again.
    let mut created = 0;
    for round in 0..2 {
        for b in &bodies {
            let r = events::handle_message(&env.platform, b).await.unwrap();
            created += r.created;
            if round == 1 {
                assert_eq!(r.created, 0, "{r:?}");
            }
        }
    }
    assert_eq!(created, 3);
    assert_eq!(env.tick().await.created, 0);
    assert_eq!(env.executions("twice").await.len(), 3);
    assert_eq!(
        env.keys(&bucket).await,
        vec!["archive/f0.json", "archive/f1.json", "archive/f2.json"]
    );
    // The notifications of the moved copies match no detection.
    for _ in 0..3 {
        let out = env
            .aws
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            let r = events::handle_message(&env.platform, m.body().unwrap())
                .await
                .unwrap();
            assert_eq!(r.matched, 0, "{r:?}");
        }
    }
    assert_eq!(env.executions("twice").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_realtime_one_execution_per_message_deleted_only_once_it_exists() {
    let env = env().await;
    let url = env.queue("rt").await;
    env.deploy(&format!(
        r#"id: realtime
namespace: {NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.data.n }}}}"
triggers:
  - id: each
    type: io.kestra.plugin.aws.sqs.RealtimeTrigger
    queueUrl: {url}
    endpointOverride: {endpoint}
    region: us-east-1
    serdeType: JSON
"#,
        endpoint = env.endpoint
    ))
    .await;
    for i in 0..3 {
        env.aws
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(format!("{{\"n\":{i}}}"))
            .send()
            .await
            .unwrap();
    }
    // The first execution's creation fails: nothing is deleted.
    env.fault.armed.store(true, Ordering::SeqCst);
    let t = env.tick().await;
    assert_eq!(t.failed, 1, "{t:?}");
    let (visible, in_flight) = env.queued(&url).await;
    assert_eq!(
        visible + in_flight,
        3,
        "every message is still in the queue"
    );

    // Once they are visible again, the next ticks create the rest and delete all three.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        env.tick().await;
        let done = env.executions("realtime").await.len() == 3 && env.queued(&url).await == (0, 0);
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not done: {:?}",
            env.queued(&url).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut ns: Vec<i64> = env
        .executions("realtime")
        .await
        .iter()
        .map(|e| {
            e.trigger.as_ref().unwrap().variables["data"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ns.sort();
    assert_eq!(ns, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_batch_one_execution_with_the_messages_in_storage() {
    let env = env().await;
    let url = env.queue("batch").await;
    env.deploy(&format!(
        r#"id: batch
namespace: {NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.count }}}}"
triggers:
  - id: batch
    type: io.kestra.plugin.aws.sqs.Trigger
    queueUrl: {url}
    endpointOverride: {endpoint}
    region: us-east-1
    maxRecords: 10
    interval: PT30S
"#,
        endpoint = env.endpoint
    ))
    .await;
    for i in 0..5 {
        env.aws
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    let t = env.tick().await;
    assert_eq!(t.created, 1, "{t:?}");
    let execs = env.executions("batch").await;
    let vars = &execs[0].trigger.as_ref().unwrap().variables;
    assert_eq!(vars["count"], 5);
    let uri = vars["uri"].as_str().unwrap();
    let text = env
        .platform
        .storage
        .get(&StorageKey::parse_uri(uri).unwrap())
        .await
        .unwrap();
    let mut lines: Vec<String> = String::from_utf8(text.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<String>(l).unwrap())
        .collect();
    lines.sort();
    assert_eq!(lines, vec!["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(env.queued(&url).await, (0, 0));
    assert_eq!(env.tick().await.created, 0, "an empty queue starts nothing");
}

#[test]
fn trigger_event_batches_are_recognised() {
    let batch = |arn: &str, body: &str| -> aws_lambda_events::event::sqs::SqsEvent {
        serde_json::from_value(serde_json::json!({"Records": [{
            "messageId": "m", "receiptHandle": "r", "body": body, "attributes": {},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": arn, "awsRegion": "us-east-1"
        }]}))
        .unwrap()
    };
    let q = "trigger-events";
    assert!(events::is_trigger_events(
        &batch("arn:aws:sqs:us-east-1:1:kite-trigger-events", "{}"),
        q
    ));
    assert!(!events::is_trigger_events(
        &batch("arn:aws:sqs:us-east-1:1:kite-timers", "{\"at\":1}"),
        q
    ));
    assert!(events::is_trigger_events(
        &batch(
            "arn:aws:sqs:us-east-1:1:elsewhere",
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#
        ),
        q
    ));
}
