//! [`MemoryQueue`]: the in-memory twin of the [`Queue`] port.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::lock;
use crate::clock::{Clock, add_duration};
use crate::queue::{
    DEDUP_WINDOW, MessageId, OutgoingMessage, PollOutcome, Queue, QueueError, QueueSpec,
    ReceiptHandle, ReceivedMessage, long_poll, validate_batch, validate_delete_batch,
    validate_message, validate_receive, validate_visibility,
};

/// SQS semantics in process memory; long polls wake on in-process sends and
/// on [`ManualClock`](crate::ManualClock) moves.
#[derive(Debug)]
pub struct MemoryQueue {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<String, QueueState>,
    /// Send order across all queues (dead-letter moves take a new number).
    next_seq: u64,
}

#[derive(Debug)]
struct QueueState {
    spec: QueueSpec,
    messages: BTreeMap<u64, Message>,
    seq_of: HashMap<MessageId, u64>,
    /// dedup id → (first message id, end of the deduplication window).
    dedup: HashMap<String, (MessageId, DateTime<Utc>)>,
}

#[derive(Debug)]
struct Message {
    id: MessageId,
    body: String,
    group_id: Option<String>,
    visible_at: DateTime<Utc>,
    receive_count: u32,
    receipt: Option<ReceiptHandle>,
}

impl MemoryQueue {
    /// An empty set of queues reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        }
    }

    fn enqueue(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
        batch: bool,
    ) -> Result<Vec<MessageId>, QueueError> {
        let now = self.clock.now();
        let mut guard = lock(&self.state);
        let State { queues, next_seq } = &mut *guard;
        let q = queues.get_mut(queue).ok_or_else(|| not_found(queue))?;
        if batch {
            validate_batch(queue, q.spec.fifo, &msgs)?;
        } else {
            for msg in &msgs {
                validate_message(queue, q.spec.fifo, msg)?;
            }
        }
        q.dedup.retain(|_, (_, until)| *until > now);
        let mut ids = Vec::with_capacity(msgs.len());
        for msg in msgs {
            if let Some(dedup) = &msg.dedup_id
                && let Some((first, _)) = q.dedup.get(dedup)
            {
                ids.push(first.clone());
                continue;
            }
            let id = MessageId::random();
            if let Some(dedup) = msg.dedup_id {
                q.dedup
                    .insert(dedup, (id.clone(), add_duration(now, DEDUP_WINDOW)));
            }
            *next_seq += 1;
            q.seq_of.insert(id.clone(), *next_seq);
            q.messages.insert(
                *next_seq,
                Message {
                    id: id.clone(),
                    body: msg.body,
                    group_id: msg.group_id,
                    visible_at: add_duration(now, msg.delay),
                    receive_count: 0,
                    receipt: None,
                },
            );
            ids.push(id);
        }
        drop(guard);
        self.notify.notify_waiters();
        Ok(ids)
    }

    fn attempt(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
    ) -> Result<PollOutcome, QueueError> {
        let now = self.clock.now();
        let mut guard = lock(&self.state);
        let State { queues, next_seq } = &mut *guard;
        let dead_letter = queues
            .get(queue)
            .ok_or_else(|| not_found(queue))?
            .spec
            .dead_letter
            .clone()
            .filter(|dlq| queues.contains_key(dlq));
        let q = queues.get_mut(queue).ok_or_else(|| not_found(queue))?;

        let blocked: HashSet<&str> = if q.spec.fifo {
            q.messages
                .values()
                .filter(|m| m.visible_at > now)
                .filter_map(|m| m.group_id.as_deref())
                .collect()
        } else {
            HashSet::new()
        };
        let mut deliver = Vec::new();
        let mut dead = Vec::new();
        for (seq, m) in &q.messages {
            if m.visible_at > now || m.group_id.as_deref().is_some_and(|g| blocked.contains(g)) {
                continue;
            }
            if dead_letter.is_some()
                && q.spec
                    .max_receive_count
                    .is_some_and(|limit| m.receive_count >= limit)
            {
                dead.push(*seq);
                continue;
            }
            deliver.push(*seq);
            if deliver.len() == max {
                break;
            }
        }

        let mut messages = Vec::with_capacity(deliver.len());
        for seq in deliver {
            if let Some(m) = q.messages.get_mut(&seq) {
                let receipt = ReceiptHandle::for_delivery(&m.id);
                m.visible_at = add_duration(now, visibility_timeout);
                m.receive_count += 1;
                m.receipt = Some(receipt.clone());
                messages.push(ReceivedMessage {
                    id: m.id.clone(),
                    body: m.body.clone(),
                    receipt_handle: receipt,
                    receive_count: m.receive_count,
                    group_id: m.group_id.clone(),
                });
            }
        }

        let next_visible_at = if messages.is_empty() {
            q.messages
                .values()
                .map(|m| m.visible_at)
                .filter(|at| *at > now)
                .min()
        } else {
            None
        };

        let mut moved = Vec::with_capacity(dead.len());
        for seq in dead {
            if let Some(m) = q.messages.remove(&seq) {
                q.seq_of.remove(&m.id);
                moved.push(m);
            }
        }
        let moved_any = !moved.is_empty();
        if let Some(target) = dead_letter.and_then(|dlq| queues.get_mut(&dlq)) {
            for mut m in moved {
                *next_seq += 1;
                m.visible_at = now;
                m.receive_count = 0;
                m.receipt = None;
                target.seq_of.insert(m.id.clone(), *next_seq);
                target.messages.insert(*next_seq, m);
            }
        }
        drop(guard);
        if moved_any {
            self.notify.notify_waiters();
        }
        Ok(PollOutcome {
            messages,
            next_visible_at,
        })
    }

    fn delete_one(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        let id = message_id(queue, receipt)?;
        let mut guard = lock(&self.state);
        let q = guard
            .queues
            .get_mut(queue)
            .ok_or_else(|| not_found(queue))?;
        let Some(seq) = q.seq_of.get(&id).copied() else {
            return Ok(());
        };
        let current = q.messages.get(&seq).and_then(|m| m.receipt.as_ref());
        if current != Some(receipt) {
            return Err(stale(queue, &id, receipt));
        }
        q.messages.remove(&seq);
        q.seq_of.remove(&id);
        drop(guard);
        self.notify.notify_waiters();
        Ok(())
    }

    fn with_queue<T>(
        &self,
        queue: &str,
        f: impl FnOnce(&mut QueueState) -> T,
    ) -> Result<T, QueueError> {
        let mut guard = lock(&self.state);
        let q = guard
            .queues
            .get_mut(queue)
            .ok_or_else(|| not_found(queue))?;
        Ok(f(q))
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn ensure_queue(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        spec.validate()?;
        let mut guard = lock(&self.state);
        if let Some(dlq) = &spec.dead_letter {
            match guard.queues.get(dlq) {
                None => {
                    return Err(QueueError::InvalidSpec {
                        queue: spec.name.clone(),
                        reason: format!("dead-letter queue `{dlq}` does not exist"),
                    });
                }
                Some(target) if target.spec.fifo != spec.fifo => {
                    return Err(QueueError::InvalidSpec {
                        queue: spec.name.clone(),
                        reason: format!(
                            "dead-letter queue `{dlq}` must be {} like its source",
                            if spec.fifo { "FIFO" } else { "standard" }
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        match guard.queues.get_mut(&spec.name) {
            Some(existing) => existing.spec = spec.clone(),
            None => {
                guard.queues.insert(
                    spec.name.clone(),
                    QueueState {
                        spec: spec.clone(),
                        messages: BTreeMap::new(),
                        seq_of: HashMap::new(),
                        dedup: HashMap::new(),
                    },
                );
            }
        }
        drop(guard);
        self.notify.notify_waiters();
        Ok(())
    }

    async fn send(&self, queue: &str, msg: OutgoingMessage) -> Result<MessageId, QueueError> {
        let mut ids = self.enqueue(queue, vec![msg], false)?;
        ids.pop().ok_or_else(|| QueueError::Backend {
            queue: queue.to_owned(),
            operation: "send",
            source: "no id was assigned".into(),
        })
    }

    async fn send_batch(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, QueueError> {
        self.enqueue(queue, msgs, true)
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(queue, max, visibility_timeout, wait)?;
        long_poll(&*self.clock, &self.notify, wait, None, || {
            std::future::ready(self.attempt(queue, max, visibility_timeout))
        })
        .await
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.delete_one(queue, receipt)
    }

    async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        validate_delete_batch(queue, receipts)?;
        self.with_queue(queue, |_| ())?;
        Ok(receipts
            .iter()
            .map(|receipt| self.delete_one(queue, receipt))
            .collect())
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &ReceiptHandle,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        validate_visibility(queue, timeout)?;
        let id = message_id(queue, receipt)?;
        let now = self.clock.now();
        self.with_queue(queue, |q| {
            let Some(m) = q.seq_of.get(&id).and_then(|seq| q.messages.get_mut(seq)) else {
                return Err(QueueError::MessageNotInFlight {
                    queue: queue.to_owned(),
                    receipt: receipt.to_string(),
                });
            };
            if m.receipt.as_ref() != Some(receipt) {
                return Err(stale(queue, &id, receipt));
            }
            m.visible_at = add_duration(now, timeout);
            Ok(())
        })??;
        self.notify.notify_waiters();
        Ok(())
    }

    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        self.with_queue(queue, |q| {
            q.messages.clear();
            q.seq_of.clear();
        })?;
        self.notify.notify_waiters();
        Ok(())
    }

    async fn approximate_len(&self, queue: &str) -> Result<usize, QueueError> {
        self.with_queue(queue, |q| q.messages.len())
    }
}

fn not_found(queue: &str) -> QueueError {
    QueueError::QueueNotFound {
        queue: queue.to_owned(),
    }
}

fn message_id(queue: &str, receipt: &ReceiptHandle) -> Result<MessageId, QueueError> {
    receipt
        .message_id()
        .ok_or_else(|| QueueError::ReceiptInvalid {
            queue: queue.to_owned(),
            receipt: receipt.to_string(),
        })
}

fn stale(queue: &str, id: &MessageId, receipt: &ReceiptHandle) -> QueueError {
    QueueError::StaleReceipt {
        queue: queue.to_owned(),
        message_id: id.to_string(),
        receipt: receipt.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    /// The strict stale-receipt semantics of the local implementations (the
    /// contract suite also accepts SQS's silent success).
    #[tokio::test]
    async fn stale_receipts_are_refused_and_leave_the_message() {
        let clock = ManualClock::new(DateTime::from_timestamp(1_700_000_000, 0).expect("ts"));
        let q = MemoryQueue::new(Arc::new(clock.clone()));
        q.ensure_queue(&QueueSpec::standard("q"))
            .await
            .expect("create");
        q.send("q", OutgoingMessage::new("m")).await.expect("send");
        let vt = Duration::from_secs(10);
        let first = q
            .receive("q", 1, vt, Duration::ZERO)
            .await
            .expect("receive");
        clock.advance(vt);
        let second = q
            .receive("q", 1, vt, Duration::ZERO)
            .await
            .expect("receive");
        let (old, new) = (&first[0].receipt_handle, &second[0].receipt_handle);
        assert!(matches!(
            q.delete("q", old).await,
            Err(QueueError::StaleReceipt { .. })
        ));
        assert!(matches!(
            q.change_visibility("q", old, Duration::ZERO).await,
            Err(QueueError::StaleReceipt { .. })
        ));
        assert_eq!(q.approximate_len("q").await.expect("len"), 1);
        q.delete("q", new).await.expect("current receipt deletes");
        assert!(matches!(
            q.change_visibility("q", new, Duration::ZERO).await,
            Err(QueueError::MessageNotInFlight { .. })
        ));
    }
}
