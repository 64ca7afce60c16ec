//! [`SqliteQueue`]: the [`Queue`] port on the embedded SQLite database.
//!
//! Every operation is one `BEGIN IMMEDIATE` transaction, so a message can
//! never be handed to two receivers and a crash between statements leaves
//! nothing half-done. A receive scans the queue in send order (`seq`),
//! skipping invisible messages and, for FIFO queues, every group that has a
//! message in flight at the start of the receive; it then moves messages
//! that reached `max_receive_count` to the dead-letter queue and leases the
//! rest. Deletes remove rows, so the table only holds live messages; FIFO
//! deduplication ids are pruned as their window ends.
//!
//! Long polls wake on the in-process [`Notify`](tokio::sync::Notify) fired by
//! every change, on [`ManualClock`](kite_ports::ManualClock) moves, when the
//! next message becomes visible, and at least every [`FALLBACK_POLL`] (in
//! case another process writes to the same file).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kite_ports::clock::{Clock, add_duration};
use kite_ports::queue::{
    DEDUP_WINDOW, MessageId, OutgoingMessage, PollOutcome, Queue, QueueError, QueueSpec,
    ReceiptHandle, ReceivedMessage, long_poll, validate_batch, validate_delete_batch,
    validate_message, validate_receive, validate_visibility,
};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::db::{Db, DbError, duration_millis, from_millis, millis};

/// The longest a long poll sleeps without re-checking the database.
pub const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// How many candidate rows a receive reads per step of its scan.
const SCAN_PAGE: i64 = 64;

/// SQS semantics on SQLite. Cheap to clone; clones share the database.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
}

/// The result of a transaction: SQL errors outside, queue outcomes inside.
type TxResult<T> = rusqlite::Result<Result<T, QueueError>>;

impl SqliteQueue {
    pub(crate) fn new(db: Arc<Db>, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    async fn run<T, F>(&self, queue: &str, operation: &'static str, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> TxResult<T> + Send + 'static,
    {
        self.db
            .call(f)
            .await
            .map_err(|err| backend(queue, operation, err))?
    }

    async fn enqueue(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
        batch: bool,
    ) -> Result<Vec<MessageId>, QueueError> {
        let now = self.clock.now();
        let name = queue.to_owned();
        let ids = self
            .run(queue, "send", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let Some(spec) = load_spec(&tx, &name)? else {
                    return Ok(Err(not_found(&name)));
                };
                let valid = if batch {
                    validate_batch(&name, spec.fifo, &msgs)
                } else {
                    msgs.iter()
                        .try_for_each(|msg| validate_message(&name, spec.fifo, msg))
                };
                if let Err(err) = valid {
                    return Ok(Err(err));
                }
                let ids = insert_messages(&tx, &name, msgs, now)?;
                tx.commit()?;
                Ok(Ok(ids))
            })
            .await?;
        self.db.queue_changed.notify_waiters();
        Ok(ids)
    }

    async fn attempt(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
    ) -> Result<PollOutcome, QueueError> {
        let now = self.clock.now();
        let name = queue.to_owned();
        let (outcome, moved) = self
            .run(queue, "receive", move |conn| {
                receive_tx(conn, &name, max, visibility_timeout, now)
            })
            .await?;
        if moved {
            self.db.queue_changed.notify_waiters();
        }
        Ok(outcome)
    }
}

fn insert_messages(
    tx: &Transaction<'_>,
    queue: &str,
    msgs: Vec<OutgoingMessage>,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<MessageId>> {
    let now_ms = millis(now);
    tx.execute(
        "DELETE FROM dedup WHERE queue = ?1 AND expires_at <= ?2",
        params![queue, now_ms],
    )?;
    let mut ids = Vec::with_capacity(msgs.len());
    for msg in msgs {
        if let Some(dedup) = &msg.dedup_id {
            let first: Option<String> = tx
                .prepare_cached("SELECT message_id FROM dedup WHERE queue = ?1 AND dedup_id = ?2")?
                .query_row(params![queue, dedup], |row| row.get(0))
                .optional()?;
            if let Some(first) = first {
                ids.push(MessageId::new(first));
                continue;
            }
        }
        let id = MessageId::random();
        tx.prepare_cached(
            "INSERT INTO messages (queue, id, body, group_id, visible_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            queue,
            id.as_str(),
            msg.body,
            msg.group_id,
            millis(add_duration(now, msg.delay)),
        ])?;
        if let Some(dedup) = msg.dedup_id {
            tx.prepare_cached(
                "INSERT INTO dedup (queue, dedup_id, message_id, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                queue,
                dedup,
                id.as_str(),
                millis(add_duration(now, DEDUP_WINDOW))
            ])?;
        }
        ids.push(id);
    }
    Ok(ids)
}

struct Candidate {
    seq: i64,
    id: String,
    group_id: Option<String>,
    receive_count: i64,
}

/// Messages visible now, in send order after `seq`, excluding FIFO groups
/// with a message in flight (the standard-queue rows have no group).
const CANDIDATES: &str = "
    SELECT seq, id, group_id, receive_count FROM messages
    WHERE queue = ?1 AND visible_at <= ?2 AND seq > ?3
      AND (group_id IS NULL OR group_id NOT IN (
            SELECT group_id FROM messages
            WHERE queue = ?1 AND visible_at > ?2 AND group_id IS NOT NULL))
    ORDER BY seq
    LIMIT ?4";

fn receive_tx(
    conn: &mut Connection,
    queue: &str,
    max: usize,
    visibility_timeout: Duration,
    now: DateTime<Utc>,
) -> TxResult<(PollOutcome, bool)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(spec) = load_spec(&tx, queue)? else {
        return Ok(Err(not_found(queue)));
    };
    let now_ms = millis(now);
    let redrive = match (&spec.dead_letter, spec.max_receive_count) {
        (Some(dlq), Some(limit)) if load_spec(&tx, dlq)?.is_some() => {
            Some((dlq.clone(), i64::from(limit)))
        }
        _ => None,
    };

    // Scan first, write afterwards: the in-flight groups of the candidate
    // query must be those of the start of the receive.
    let mut deliver = Vec::new();
    let mut dead = Vec::new();
    let mut after = i64::MIN;
    'scan: loop {
        let page = tx
            .prepare_cached(CANDIDATES)?
            .query_map(params![queue, now_ms, after, SCAN_PAGE], |row| {
                Ok(Candidate {
                    seq: row.get(0)?,
                    id: row.get(1)?,
                    group_id: row.get(2)?,
                    receive_count: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if page.is_empty() {
            break;
        }
        for candidate in page {
            after = candidate.seq;
            if redrive
                .as_ref()
                .is_some_and(|(_, limit)| candidate.receive_count >= *limit)
            {
                dead.push(candidate.seq);
                continue;
            }
            deliver.push(candidate);
            if deliver.len() == max {
                break 'scan;
            }
        }
    }

    if let Some((dlq, _)) = &redrive {
        for seq in &dead {
            tx.prepare_cached(
                "UPDATE messages SET queue = ?1, visible_at = ?2, receive_count = 0, \
                 receipt = NULL, seq = (SELECT max(seq) + 1 FROM messages) WHERE seq = ?3",
            )?
            .execute(params![dlq, now_ms, seq])?;
        }
    }

    let visible_at = millis(add_duration(now, visibility_timeout));
    let mut messages = Vec::with_capacity(deliver.len());
    for candidate in deliver {
        let id = MessageId::new(candidate.id);
        let receipt = ReceiptHandle::for_delivery(&id);
        let (body, receive_count): (String, i64) = tx
            .prepare_cached(
                "UPDATE messages SET visible_at = ?1, receive_count = receive_count + 1, \
                 receipt = ?2 WHERE seq = ?3 RETURNING body, receive_count",
            )?
            .query_row(
                params![visible_at, receipt.as_str(), candidate.seq],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
        messages.push(ReceivedMessage {
            id,
            body,
            receipt_handle: receipt,
            receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
            group_id: candidate.group_id,
        });
    }

    let next_visible_at = if messages.is_empty() {
        tx.prepare_cached(
            "SELECT min(visible_at) FROM messages WHERE queue = ?1 AND visible_at > ?2",
        )?
        .query_row(params![queue, now_ms], |row| row.get::<_, Option<i64>>(0))?
        .map(from_millis)
    } else {
        None
    };
    tx.commit()?;
    let moved = redrive.is_some() && !dead.is_empty();
    Ok(Ok((
        PollOutcome {
            messages,
            next_visible_at,
        },
        moved,
    )))
}

/// Deletes one delivery inside `tx` (the queue is known to exist).
fn delete_in(tx: &Transaction<'_>, queue: &str, receipt: &ReceiptHandle) -> TxResult<()> {
    let Some(id) = receipt.message_id() else {
        return Ok(Err(invalid_receipt(queue, receipt)));
    };
    let current: Option<(i64, Option<String>)> = tx
        .prepare_cached("SELECT seq, receipt FROM messages WHERE queue = ?1 AND id = ?2")?
        .query_row(params![queue, id.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    match current {
        None => Ok(Ok(())),
        Some((seq, Some(current))) if current == receipt.as_str() => {
            tx.prepare_cached("DELETE FROM messages WHERE seq = ?1")?
                .execute(params![seq])?;
            Ok(Ok(()))
        }
        Some(_) => Ok(Err(stale(queue, &id, receipt))),
    }
}

fn load_spec(tx: &Transaction<'_>, queue: &str) -> rusqlite::Result<Option<QueueSpec>> {
    tx.prepare_cached(
        "SELECT fifo, visibility_timeout_ms, max_receive_count, dead_letter \
         FROM queues WHERE name = ?1",
    )?
    .query_row(params![queue], |row| {
        let timeout: i64 = row.get(1)?;
        let max_receive_count: Option<i64> = row.get(2)?;
        Ok(QueueSpec {
            name: queue.to_owned(),
            fifo: row.get(0)?,
            visibility_timeout: Duration::from_millis(u64::try_from(timeout).unwrap_or(0)),
            max_receive_count: max_receive_count.and_then(|n| u32::try_from(n).ok()),
            dead_letter: row.get(3)?,
        })
    })
    .optional()
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn ensure_queue(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        spec.validate()?;
        let spec = spec.clone();
        let name = spec.name.clone();
        self.run(&name, "ensure_queue", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(dlq) = &spec.dead_letter {
                let reason = match load_spec(&tx, dlq)? {
                    None => Some(format!("dead-letter queue `{dlq}` does not exist")),
                    Some(target) if target.fifo != spec.fifo => Some(format!(
                        "dead-letter queue `{dlq}` must be {} like its source",
                        if spec.fifo { "FIFO" } else { "standard" }
                    )),
                    Some(_) => None,
                };
                if let Some(reason) = reason {
                    return Ok(Err(QueueError::InvalidSpec {
                        queue: spec.name.clone(),
                        reason,
                    }));
                }
            }
            tx.execute(
                "INSERT INTO queues (name, fifo, visibility_timeout_ms, max_receive_count, \
                 dead_letter) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (name) DO UPDATE SET \
                 visibility_timeout_ms = excluded.visibility_timeout_ms, \
                 max_receive_count = excluded.max_receive_count, \
                 dead_letter = excluded.dead_letter",
                params![
                    spec.name,
                    spec.fifo,
                    duration_millis(spec.visibility_timeout),
                    spec.max_receive_count,
                    spec.dead_letter,
                ],
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?;
        self.db.queue_changed.notify_waiters();
        Ok(())
    }

    async fn send(&self, queue: &str, msg: OutgoingMessage) -> Result<MessageId, QueueError> {
        let mut ids = self.enqueue(queue, vec![msg], false).await?;
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
        self.enqueue(queue, msgs, true).await
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(queue, max, visibility_timeout, wait)?;
        long_poll(
            &*self.clock,
            &self.db.queue_changed,
            wait,
            Some(FALLBACK_POLL),
            || self.attempt(queue, max, visibility_timeout),
        )
        .await
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        let results = self
            .delete_batch_unchecked(queue, vec![receipt.clone()])
            .await?;
        results.into_iter().next().unwrap_or(Ok(()))
    }

    async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        validate_delete_batch(queue, receipts)?;
        self.delete_batch_unchecked(queue, receipts.to_vec()).await
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &ReceiptHandle,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        validate_visibility(queue, timeout)?;
        let Some(id) = receipt.message_id() else {
            return Err(invalid_receipt(queue, receipt));
        };
        let visible_at = millis(add_duration(self.clock.now(), timeout));
        let (name, receipt) = (queue.to_owned(), receipt.clone());
        self.run(queue, "change_visibility", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if load_spec(&tx, &name)?.is_none() {
                return Ok(Err(not_found(&name)));
            }
            let current: Option<(i64, Option<String>)> = tx
                .query_row(
                    "SELECT seq, receipt FROM messages WHERE queue = ?1 AND id = ?2",
                    params![name, id.as_str()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let outcome = match current {
                None => Err(QueueError::MessageNotInFlight {
                    queue: name.clone(),
                    receipt: receipt.to_string(),
                }),
                Some((seq, Some(current))) if current == receipt.as_str() => {
                    tx.execute(
                        "UPDATE messages SET visible_at = ?1 WHERE seq = ?2",
                        params![visible_at, seq],
                    )?;
                    Ok(())
                }
                Some(_) => Err(stale(&name, &id, &receipt)),
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await?;
        self.db.queue_changed.notify_waiters();
        Ok(())
    }

    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let name = queue.to_owned();
        self.run(queue, "purge", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if load_spec(&tx, &name)?.is_none() {
                return Ok(Err(not_found(&name)));
            }
            tx.execute("DELETE FROM messages WHERE queue = ?1", params![name])?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?;
        self.db.queue_changed.notify_waiters();
        Ok(())
    }

    async fn approximate_len(&self, queue: &str) -> Result<usize, QueueError> {
        let name = queue.to_owned();
        self.run(queue, "approximate_len", move |conn| {
            let tx = conn.transaction()?;
            if load_spec(&tx, &name)?.is_none() {
                return Ok(Err(not_found(&name)));
            }
            let count: i64 = tx.query_row(
                "SELECT count(*) FROM messages WHERE queue = ?1",
                params![name],
                |row| row.get(0),
            )?;
            Ok(Ok(usize::try_from(count).unwrap_or(0)))
        })
        .await
    }
}

impl SqliteQueue {
    async fn delete_batch_unchecked(
        &self,
        queue: &str,
        receipts: Vec<ReceiptHandle>,
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let name = queue.to_owned();
        let results = self
            .run(queue, "delete", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if load_spec(&tx, &name)?.is_none() {
                    return Ok(Err(not_found(&name)));
                }
                let results = receipts
                    .iter()
                    .map(|receipt| delete_in(&tx, &name, receipt))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                tx.commit()?;
                Ok(Ok(results))
            })
            .await?;
        self.db.queue_changed.notify_waiters();
        Ok(results)
    }
}

fn backend(queue: &str, operation: &'static str, err: DbError) -> QueueError {
    QueueError::Backend {
        queue: queue.to_owned(),
        operation,
        source: Box::new(err),
    }
}

fn not_found(queue: &str) -> QueueError {
    QueueError::QueueNotFound {
        queue: queue.to_owned(),
    }
}

fn invalid_receipt(queue: &str, receipt: &ReceiptHandle) -> QueueError {
    QueueError::ReceiptInvalid {
        queue: queue.to_owned(),
        receipt: receipt.to_string(),
    }
}

fn stale(queue: &str, id: &MessageId, receipt: &ReceiptHandle) -> QueueError {
    QueueError::StaleReceipt {
        queue: queue.to_owned(),
        message_id: id.to_string(),
        receipt: receipt.to_string(),
    }
}
