//! The glue the SQS-fed functions share: an SQS batch event becomes deliveries for the
//! engine's [`handle_batch`], whose outcomes become a partial batch response (the failed
//! message ids), so the event source mapping deletes the rest. A message of a FIFO group
//! is never handled after an earlier message of its group failed in the batch, and is
//! reported failed with it.

use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use kite_engine::services::Platform;
use kite_engine::services::dispatch::{Delivery, handle_batch};
use kite_engine::services::poller::Component;

/// The deliveries of an SQS event (receive count and group from the message attributes).
pub fn deliveries(event: &SqsEvent) -> Vec<Delivery> {
    event
        .records
        .iter()
        .map(|m| Delivery {
            id: m.message_id.clone().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            group_id: m.attributes.get("MessageGroupId").cloned(),
        })
        .collect()
}

/// Handles an SQS batch for `component`; `deadline` is the invocation's end.
pub async fn sqs_batch(
    platform: &Platform,
    component: Component,
    event: &SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let batch = deliveries(event);
    let outcomes = handle_batch(platform, component, &batch, deadline).await;
    let mut response = SqsBatchResponse::default();
    for (d, outcome) in batch.iter().zip(outcomes) {
        if !outcome.delete() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = d.id.clone();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Everything a function builds once, during its Lambda init.
#[derive(Debug, Clone)]
pub struct Init {
    /// The SDK clients (and their request counters).
    pub clients: crate::config::Clients,
    /// The platform on them.
    pub platform: std::sync::Arc<Platform>,
}

/// What every function's `main` does first: logging, then [`init`]; an init failure is
/// logged (Lambda reports only the exit) and returned.
pub async fn start() -> Result<Init, crate::wiring::WiringError> {
    init_tracing();
    init()
        .await
        .inspect_err(|e| tracing::error!("init failed: {e}"))
}

/// Builds the clients and the platform from the environment, then warms the connections
/// (DynamoDB, S3, SQS) so that the first invocation does not pay the TLS handshakes; the
/// warm-up is bounded to 2 s and its failures only logged.
pub async fn init() -> Result<Init, crate::wiring::WiringError> {
    let config = crate::config::AwsConfig::from_env();
    let clients = crate::config::Clients::connect(&config).await;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let clock: std::sync::Arc<dyn kite_ports::Clock> = std::sync::Arc::new(kite_ports::SystemClock);
    let platform = std::sync::Arc::new(crate::wiring::platform(&clients, clock, &env)?);
    if std::env::var("KITE_WARMUP")
        .map(|v| v != "0")
        .unwrap_or(true)
    {
        warm_up(&platform).await;
    }
    Ok(Init { clients, platform })
}

async fn warm_up(platform: &Platform) {
    let docs = platform.repos.documents().clone();
    let storage = platform.storage.clone();
    let queue = platform.queue.clone();
    let timers = platform.names.timers.clone();
    let work = async {
        let key = kite_ports::StorageKey::new("_warmup/ping").ok();
        let (d, s, q) = tokio::join!(
            docs.get("warmup", "ping"),
            async {
                match &key {
                    Some(k) => storage.exists(k).await.map(|_| ()),
                    None => Ok(()),
                }
            },
            queue.approximate_len(&timers),
        );
        if let Err(e) = d {
            tracing::warn!("warm-up of DynamoDB failed: {e}");
        }
        if let Err(e) = s {
            tracing::warn!("warm-up of S3 failed: {e}");
        }
        if let Err(e) = q {
            tracing::warn!("warm-up of SQS failed: {e}");
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(2), work)
        .await
        .is_err()
    {
        tracing::warn!("warm-up took over 2 s; going on");
    }
}

/// The `Instant` of a Lambda context's deadline (epoch milliseconds).
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Logs as JSON lines on stderr (CloudWatch), filtered by `RUST_LOG` (`info`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}
