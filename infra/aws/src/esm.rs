//! The local twin of Lambda's event source mappings and EventBridge rule, for
//! `kite server local --aws-endpoint` and the Lambda binary tests: pollers long-poll the
//! real (emulated) SQS queues and hand each batch, as a real-shaped `SqsEvent`, to an
//! [`Invoker`] — the handlers in process, or the built binaries behind a runtime API;
//! messages the response does not list in `batchItemFailures` are deleted, the failed ones
//! are left to be redelivered (sooner than a full visibility timeout, with a backoff, to
//! keep a laptop's feedback loop short). A ticker sends the scheduler an EventBridge
//! scheduled event every period.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kite_ports::{Queue, ReceivedMessage};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Invokes a function with a JSON event and returns its JSON response.
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Invokes `function` (`executor`, `worker`, `scheduler`) with `payload`.
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String>;
}

/// One event source mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The function fed.
    pub function: String,
    /// The queue (unprefixed logical name).
    pub queue: String,
    /// Messages per invocation (1..=10).
    pub batch_size: usize,
    /// Visibility timeout of received messages (the function's timeout).
    pub visibility: Duration,
    /// Concurrent pollers (Lambda's concurrency for this mapping).
    pub concurrency: usize,
    /// Long-poll wait.
    pub wait: Duration,
}

/// The region and account used in the ARNs of emulated events.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// The SQS event Lambda would deliver for `messages` of `queue` (full name).
pub fn sqs_event(queue_full_name: &str, messages: &[ReceivedMessage]) -> Value {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string();
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut attributes = json!({
                "ApproximateReceiveCount": m.receive_count.to_string(),
                "SentTimestamp": now_ms,
                "SenderId": ACCOUNT,
                "ApproximateFirstReceiveTimestamp": now_ms,
            });
            if let Some(g) = &m.group_id {
                attributes["MessageGroupId"] = Value::String(g.clone());
            }
            json!({
                "messageId": m.id.as_str(),
                "receiptHandle": m.receipt_handle.as_str(),
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_full_name}"),
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The EventBridge scheduled event of the scheduler's rule.
pub fn scheduled_event(rule: &str) -> Value {
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")],
        "detail": {}
    })
}

/// Starts the pollers of `mapping`; they stop when `stop` turns true.
pub fn spawn(
    queue: Arc<dyn Queue>,
    queue_full_name: String,
    mapping: Mapping,
    invoker: Arc<dyn Invoker>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    (0..mapping.concurrency.max(1))
        .map(|_| {
            let queue = queue.clone();
            let name = queue_full_name.clone();
            let mapping = mapping.clone();
            let invoker = invoker.clone();
            let stop = stop.clone();
            tokio::spawn(poll(queue, name, mapping, invoker, stop))
        })
        .collect()
}

async fn poll(
    queue: Arc<dyn Queue>,
    full_name: String,
    m: Mapping,
    invoker: Arc<dyn Invoker>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        // The receive is not abandoned on stop: SQS may already have handed its messages to
        // this long poll, and dropping the request would hide them for a whole visibility
        // timeout. It completes (within `wait`), and what it got is released at once.
        let received = queue
            .receive(&m.queue, m.batch_size, m.visibility, m.wait)
            .await;
        if *stop.borrow_and_update() {
            if let Ok(messages) = &received {
                queue.release_all(&m.queue, messages).await;
            }
            return;
        }
        let messages = match received {
            Ok(messages) if messages.is_empty() => continue,
            Ok(messages) => messages,
            Err(e) => {
                tracing::error!(queue = %m.queue, "receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let event = sqs_event(&full_name, &messages);
        let failed: Vec<String> = match invoker.invoke(&m.function, event).await {
            Ok(response) => response
                .get("batchItemFailures")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.get("itemIdentifier").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            Err(e) => {
                // A function error fails the whole batch, as with Lambda.
                tracing::error!(function = %m.function, "invocation failed: {e}");
                messages.iter().map(|m| m.id.as_str().to_owned()).collect()
            }
        };
        // The successes go in one DeleteMessageBatch, as Lambda's poller deletes them.
        let mut done = Vec::new();
        for msg in &messages {
            if failed.iter().any(|f| f == msg.id.as_str()) {
                let backoff = Duration::from_millis(100u64 << msg.receive_count.min(8));
                let _ = queue
                    .change_visibility(&m.queue, &msg.receipt_handle, backoff)
                    .await;
            } else {
                done.push(msg.receipt_handle.clone());
            }
        }
        if let Err(e) = queue.delete_all(&m.queue, &done).await {
            tracing::warn!(queue = %m.queue, "delete failed: {e}");
        }
    }
}

/// Sends the scheduler a scheduled event every `period` (the EventBridge rule).
pub fn spawn_ticker(
    invoker: Arc<dyn Invoker>,
    rule: String,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = invoker.invoke("scheduler", scheduled_event(&rule)).await {
                tracing::error!("scheduler tick failed: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => return,
            }
        }
    })
}
