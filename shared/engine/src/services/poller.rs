//! Local drivers of the handlers: loops that long-poll a queue, hand each message to its
//! handler and delete it on success (a failed message is redelivered after its visibility
//! timeout and, after too many receives, set aside in the dead-letter queue). In AWS the
//! Lambda event source mappings play this role.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Platform;
use super::dispatch::{Delivery, handle_batch, queue_of};

/// Which handler a poller feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// Executor queue.
    Executor,
    /// Worker queue.
    Worker,
    /// Timer queue (scheduler).
    Scheduler,
}

/// How many pollers of each kind to run.
#[derive(Debug, Clone, Copy)]
pub struct PollerConfig {
    /// Executor pollers (FIFO groups keep per-execution order across them).
    pub executors: usize,
    /// Worker pollers (each runs one job at a time).
    pub workers: usize,
    /// Visibility timeout of received messages.
    pub visibility: Duration,
    /// Long-poll wait.
    pub wait: Duration,
    /// Period of the scheduler tick (EventBridge's rule on AWS).
    pub tick: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            executors: 2,
            workers: 8,
            visibility: Duration::from_secs(60),
            wait: Duration::from_millis(500),
            tick: Duration::from_secs(1),
        }
    }
}

/// Starts the pollers; they stop when `stop` turns true.
pub fn spawn_all(
    platform: Arc<Platform>,
    config: PollerConfig,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    for _ in 0..config.executors {
        handles.push(spawn(
            platform.clone(),
            Component::Executor,
            config,
            stop.clone(),
        ));
    }
    for _ in 0..config.workers {
        handles.push(spawn(
            platform.clone(),
            Component::Worker,
            config,
            stop.clone(),
        ));
    }
    handles.push(spawn(
        platform.clone(),
        Component::Scheduler,
        config,
        stop.clone(),
    ));
    handles.push(spawn_ticker(platform, config.tick, stop));
    handles
}

/// Runs the scheduler tick every `period` (the local twin of the EventBridge rule).
pub fn spawn_ticker(
    platform: Arc<Platform>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = platform.tick().await {
                tracing::error!("scheduler tick failed: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => return,
            }
        }
    })
}

/// Starts one poller.
pub fn spawn(
    platform: Arc<Platform>,
    component: Component,
    config: PollerConfig,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let queue_name = queue_of(&platform.names, component).to_owned();
        let batch = if component == Component::Worker {
            1
        } else {
            10
        };
        loop {
            if *stop.borrow() {
                return;
            }
            // Not abandoned on stop: a queue may already have handed messages to this
            // receive; they are released at once instead of hidden for a visibility timeout.
            let received = platform
                .queue
                .receive(&queue_name, batch, config.visibility, config.wait)
                .await;
            if *stop.borrow_and_update() {
                if let Ok(messages) = &received {
                    platform.queue.release_all(&queue_name, messages).await;
                }
                return;
            }
            let messages = match received {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(queue = %queue_name, "receive failed: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let batch: Vec<Delivery> = messages
                .iter()
                .map(|m| Delivery {
                    id: m.id.to_string(),
                    body: m.body.clone(),
                    receive_count: m.receive_count,
                    group_id: m.group_id.clone(),
                })
                .collect();
            let outcomes = handle_batch(&platform, component, &batch, None).await;
            let mut done = Vec::new();
            for (m, outcome) in messages.iter().zip(outcomes) {
                if outcome.delete() {
                    done.push(m.receipt_handle.clone());
                } else {
                    let _ = platform
                        .queue
                        .change_visibility(&queue_name, &m.receipt_handle, backoff(m.receive_count))
                        .await;
                }
            }
            // One DeleteMessageBatch for the handled ones (a failed delete only means a
            // redelivery, which the handlers absorb).
            if let Err(e) = platform.queue.delete_all(&queue_name, &done).await {
                tracing::warn!(queue = %queue_name, "delete failed: {e}");
            }
        }
    })
}

fn backoff(receives: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << receives.min(8)))
}
