//! The `Queue` port: SQS-shaped message queues.
//!
//! Semantics follow Amazon SQS so that the AWS implementation is a thin
//! mapping and the local ones behave the same way:
//!
//! * **At-least-once delivery.** A received message stays in the queue,
//!   invisible, until it is deleted with its receipt handle or its visibility
//!   timeout lapses; then it is delivered again with `receive_count + 1`.
//!   Handlers must be idempotent.
//! * **Standard queues** deliver in approximate send order and support a
//!   per-message `delay` of up to [`MAX_DELAY`] (15 minutes).
//! * **FIFO queues** (name ends in `.fifo`) require a `group_id`; messages of
//!   one group are delivered strictly in send order and a group is *blocked*
//!   while any of its messages is in flight. Different groups proceed in
//!   parallel. FIFO messages cannot be delayed. A `dedup_id` suppresses
//!   re-sends with the same id for [`DEDUP_WINDOW`] (5 minutes) after the
//!   first send, even if that message was already deleted; the duplicate send
//!   succeeds and returns the first message's id. Without a `dedup_id` there
//!   is no deduplication (the AWS implementation sends a random one).
//! * **Redrive.** With `max_receive_count` and `dead_letter` set, a message
//!   that was already received `max_receive_count` times is moved to the
//!   dead-letter queue (same id, body and group, `receive_count` reset to 0)
//!   instead of being delivered again.
//! * **Limits.** A body is at most [`MAX_MESSAGE_BYTES`] (256 KiB) of UTF-8
//!   in the SQS character set; put bigger payloads in `Storage` and send the
//!   `kestra:///` URI. Batches hold at most [`MAX_BATCH`] entries and
//!   256 KiB in total. `receive` takes 1..=10 messages, waits at most
//!   [`MAX_WAIT`] (20 s), and visibility timeouts are at most 12 hours.
//!
//! # Receipt handles (where SQS is ambiguous)
//!
//! Every delivery mints a new receipt handle. In the local implementations:
//!
//! * `delete` with the **current** handle deletes, even if the visibility
//!   timeout already lapsed (as long as nobody received the message since).
//! * `delete` of a message that is **gone** (deleted, purged, moved to the
//!   dead-letter queue) succeeds: deletes are idempotent.
//! * `delete` with a **stale** handle (the message was received again since)
//!   fails with [`QueueError::StaleReceipt`] and leaves the message alone, so
//!   a slow consumer cannot delete work that a second consumer now owns.
//!   (Real SQS may instead accept it silently; the contract suite allows
//!   either, and callers must treat `StaleReceipt` as "someone else owns the
//!   message now", not as a failure of their own work.)
//! * `change_visibility` with the current handle works while the message is
//!   still in the queue; with a stale handle it fails with `StaleReceipt`;
//!   on a gone message it fails with [`QueueError::MessageNotInFlight`].
//! * A handle that cannot have been produced by the queue fails with
//!   [`QueueError::ReceiptInvalid`].
//!
//! `send_batch` is all-or-nothing in the local implementations (every entry is
//! validated before anything is written); the AWS implementation retries
//! per-entry failures until the whole batch is in.
//!
//! This module also holds the validation shared by every implementation and
//! the [`long_poll`] loop used by the local ones.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::clock::{Clock, duration_until};

/// Largest message body, in bytes (SQS: 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest total body size of one `send_batch`, in bytes.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Most entries in one batch call, and most messages per `receive`.
pub const MAX_BATCH: usize = 10;
/// Longest per-message delay on a standard queue.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Longest visibility timeout.
pub const MAX_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// Longest long-poll wait of one `receive`.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// How long a FIFO deduplication id suppresses re-sends.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Largest `max_receive_count` of a redrive policy.
pub const MAX_RECEIVE_COUNT: u32 = 1000;
/// Longest queue name (SQS: 80 characters, `.fifo` included).
pub const MAX_QUEUE_NAME: usize = 80;
/// Longest FIFO group or deduplication id.
pub const MAX_FIFO_ID: usize = 128;
/// Default visibility timeout of a [`QueueSpec`] (SQS: 30 s).
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

/// The id a queue assigns to a message; stable across redeliveries and
/// dead-letter moves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// Wraps an id produced by a queue.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A fresh random id (UUID v4, like SQS message ids).
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Proof of one particular delivery of a message; needed to delete it or
/// change its visibility. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptHandle(String);

impl ReceiptHandle {
    /// Wraps a handle produced by a queue.
    pub fn new(handle: impl Into<String>) -> Self {
        Self(handle.into())
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A new handle for one delivery of `id`, as the local implementations
    /// mint them: `<message id>~<random nonce>`.
    pub fn for_delivery(id: &MessageId) -> Self {
        Self(format!("{}~{}", id, uuid::Uuid::new_v4().simple()))
    }

    /// The message id inside a handle minted by [`ReceiptHandle::for_delivery`],
    /// or `None` if the handle is malformed.
    pub fn message_id(&self) -> Option<MessageId> {
        let (id, nonce) = self.0.rsplit_once('~')?;
        (!id.is_empty() && nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| MessageId::new(id))
    }
}

impl fmt::Display for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A queue definition, applied by [`Queue::ensure_queue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// `[A-Za-z0-9_-]`, at most 80 characters; FIFO names end in `.fifo`.
    pub name: String,
    /// FIFO queue (per-group ordering, deduplication, no delays).
    pub fifo: bool,
    /// The queue's default visibility timeout (SQS `VisibilityTimeout`);
    /// `receive` always passes its own, like a `ReceiveMessage` call that
    /// sets `VisibilityTimeout`.
    pub visibility_timeout: Duration,
    /// Deliveries after which a message moves to `dead_letter` (1..=1000).
    pub max_receive_count: Option<u32>,
    /// The dead-letter queue, which must already exist and be of the same
    /// kind (FIFO or standard). Set together with `max_receive_count`.
    pub dead_letter: Option<String>,
}

impl QueueSpec {
    /// A standard queue with a 30 s visibility timeout and no redrive.
    pub fn standard(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fifo: false,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            max_receive_count: None,
            dead_letter: None,
        }
    }

    /// A FIFO queue (the name must end in `.fifo`).
    pub fn fifo(name: impl Into<String>) -> Self {
        Self {
            fifo: true,
            ..Self::standard(name)
        }
    }

    /// Sets the default visibility timeout.
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// Moves messages to `queue` after `max_receive_count` deliveries.
    pub fn with_dead_letter(mut self, queue: impl Into<String>, max_receive_count: u32) -> Self {
        self.dead_letter = Some(queue.into());
        self.max_receive_count = Some(max_receive_count);
        self
    }

    /// Checks the definition on its own (the dead-letter queue's existence
    /// and kind are checked by the implementation).
    pub fn validate(&self) -> Result<(), QueueError> {
        validate_queue_name(&self.name)?;
        let invalid = |reason: String| QueueError::InvalidSpec {
            queue: self.name.clone(),
            reason,
        };
        if self.fifo != self.name.ends_with(".fifo") {
            return Err(invalid(
                "a queue is FIFO exactly when its name ends in `.fifo`".into(),
            ));
        }
        if self.visibility_timeout > MAX_VISIBILITY_TIMEOUT {
            return Err(invalid(format!(
                "visibility timeout {:?} is over the 12 h maximum",
                self.visibility_timeout
            )));
        }
        match (&self.dead_letter, self.max_receive_count) {
            (None, None) => Ok(()),
            (Some(dead_letter), Some(count)) => {
                validate_queue_name(dead_letter)?;
                if dead_letter == &self.name {
                    return Err(invalid(
                        "a queue cannot be its own dead-letter queue".into(),
                    ));
                }
                if !(1..=MAX_RECEIVE_COUNT).contains(&count) {
                    return Err(invalid(format!(
                        "max_receive_count {count} is outside 1..={MAX_RECEIVE_COUNT}"
                    )));
                }
                Ok(())
            }
            _ => Err(invalid(
                "dead_letter and max_receive_count must be set together".into(),
            )),
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The body, at most 256 KiB.
    pub body: String,
    /// FIFO `MessageGroupId` (required on FIFO queues, refused on standard).
    pub group_id: Option<String>,
    /// FIFO `MessageDeduplicationId` (refused on standard queues).
    pub dedup_id: Option<String>,
    /// Standard queues only: invisible for this long (at most 15 minutes).
    pub delay: Duration,
}

impl OutgoingMessage {
    /// A message with just a body.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            group_id: None,
            dedup_id: None,
            delay: Duration::ZERO,
        }
    }

    /// Sets the FIFO group.
    pub fn in_group(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Sets the FIFO deduplication id.
    pub fn with_dedup_id(mut self, dedup_id: impl Into<String>) -> Self {
        self.dedup_id = Some(dedup_id.into());
        self
    }

    /// Delays delivery (standard queues only).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message id (the same on every delivery).
    pub id: MessageId,
    /// The body as sent.
    pub body: String,
    /// The handle of this delivery, for `delete` and `change_visibility`.
    pub receipt_handle: ReceiptHandle,
    /// How many times the message has been delivered, this time included.
    pub receive_count: u32,
    /// The FIFO group, if any.
    pub group_id: Option<String>,
}

/// Queue failures; each names the queue (and message or receipt) involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue was never created with `ensure_queue`.
    #[error("queue `{queue}` does not exist (create it with ensure_queue first)")]
    QueueNotFound {
        /// The queue name.
        queue: String,
    },
    /// The queue name or definition is not acceptable.
    #[error("invalid definition for queue `{queue}`: {reason}")]
    InvalidSpec {
        /// The queue name.
        queue: String,
        /// What is wrong.
        reason: String,
    },
    /// A body over [`MAX_MESSAGE_BYTES`].
    #[error(
        "message for queue `{queue}` is {size} bytes, over the {limit}-byte limit; \
         put large payloads in storage and send their kestra:/// URI instead"
    )]
    MessageTooLarge {
        /// The queue name.
        queue: String,
        /// The body size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A batch whose bodies add up to more than [`MAX_BATCH_BYTES`].
    #[error(
        "batch for queue `{queue}` totals {size} bytes, over the {limit}-byte limit; \
         send fewer messages per batch"
    )]
    BatchTooLarge {
        /// The queue name.
        queue: String,
        /// The total size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A message that breaks a rule other than size (group id, delay, ...).
    #[error("invalid message for queue `{queue}`: {reason}")]
    InvalidMessage {
        /// The queue name.
        queue: String,
        /// What is wrong.
        reason: String,
    },
    /// A call argument out of range (batch size, wait, timeout, ...).
    #[error("invalid argument for queue `{queue}`: {reason}")]
    InvalidArgument {
        /// The queue name.
        queue: String,
        /// What is wrong.
        reason: String,
    },
    /// A receipt handle this queue cannot have produced.
    #[error("receipt handle `{receipt}` is not valid for queue `{queue}`")]
    ReceiptInvalid {
        /// The queue name.
        queue: String,
        /// The offending handle.
        receipt: String,
    },
    /// The message was received again since this handle was issued.
    #[error(
        "receipt handle `{receipt}` for message `{message_id}` in queue `{queue}` is stale: \
         the message was received again since, and its new owner must finish it"
    )]
    StaleReceipt {
        /// The queue name.
        queue: String,
        /// The message id.
        message_id: String,
        /// The stale handle.
        receipt: String,
    },
    /// The message behind the handle is no longer in the queue.
    #[error("message behind receipt `{receipt}` is no longer in queue `{queue}`")]
    MessageNotInFlight {
        /// The queue name.
        queue: String,
        /// The handle.
        receipt: String,
    },
    /// The backing service or database failed.
    #[error("queue backend failed during {operation} on `{queue}`: {source}")]
    Backend {
        /// The queue name.
        queue: String,
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// SQS-shaped message queues. See the [module docs](self) for semantics.
#[async_trait]
pub trait Queue: Send + Sync + fmt::Debug {
    /// Creates the queue, or updates the visibility timeout and redrive
    /// policy of an existing one (its kind cannot change). Idempotent.
    async fn ensure_queue(&self, spec: &QueueSpec) -> Result<(), QueueError>;

    /// Sends one message; returns its id (on a FIFO duplicate within the
    /// deduplication window, the id of the original).
    async fn send(&self, queue: &str, msg: OutgoingMessage) -> Result<MessageId, QueueError>;

    /// Sends 1..=10 messages, in order; ids are returned in the same order.
    async fn send_batch(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, QueueError>;

    /// Receives up to `max` (1..=10) messages, hiding them for
    /// `visibility_timeout`. If none is available, waits up to `wait`
    /// (at most 20 s; zero = return at once) for one to arrive or become
    /// visible. May return fewer than available, never more than `max`.
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes the message of this delivery (see the module docs for stale
    /// and repeated deletes).
    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError>;

    /// Deletes 1..=10 deliveries; one result per handle, in order.
    async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError>;

    /// Hides the message for `timeout` from now (zero makes it visible at
    /// once, releasing its FIFO group).
    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &ReceiptHandle,
        timeout: Duration,
    ) -> Result<(), QueueError>;

    /// Deletes every message of the queue (deduplication ids stay in force).
    async fn purge(&self, queue: &str) -> Result<(), QueueError>;

    /// Messages not yet deleted: visible, in flight and delayed together.
    async fn approximate_len(&self, queue: &str) -> Result<usize, QueueError>;

    /// Deletes any number of deliveries: one `delete` for one, `delete_batch` by tens for
    /// more. The first failure is returned (the others were still attempted).
    async fn delete_all(&self, queue: &str, receipts: &[ReceiptHandle]) -> Result<(), QueueError> {
        if let [one] = receipts {
            return self.delete(queue, one).await;
        }
        let mut first_error = None;
        for chunk in receipts.chunks(MAX_BATCH) {
            let outcome = self
                .delete_batch(queue, chunk)
                .await
                .and_then(|each| each.into_iter().collect::<Result<(), _>>());
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Makes received messages visible again at once (a consumer stopping with messages it
    /// will not handle); failures are ignored: the messages reappear after their
    /// visibility timeout anyway.
    async fn release_all(&self, queue: &str, messages: &[ReceivedMessage]) {
        for m in messages {
            let _ = self
                .change_visibility(queue, &m.receipt_handle, Duration::ZERO)
                .await;
        }
    }
}

/// Checks a queue name: 1..=80 of `[A-Za-z0-9_-]`, plus an optional `.fifo`
/// suffix.
pub fn validate_queue_name(name: &str) -> Result<(), QueueError> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let reason = if name.len() > MAX_QUEUE_NAME {
        Some(format!("names are at most {MAX_QUEUE_NAME} characters"))
    } else if stem.is_empty() {
        Some("the name is empty".to_owned())
    } else if !stem
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Some("names use only A-Z, a-z, 0-9, `-` and `_` (plus a `.fifo` suffix)".to_owned())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(QueueError::InvalidSpec {
            queue: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks one outgoing message against the rules of a queue of kind `fifo`.
pub fn validate_message(queue: &str, fifo: bool, msg: &OutgoingMessage) -> Result<(), QueueError> {
    if msg.body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::MessageTooLarge {
            queue: queue.to_owned(),
            size: msg.body.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    let invalid = |reason: String| QueueError::InvalidMessage {
        queue: queue.to_owned(),
        reason,
    };
    if msg.body.is_empty() {
        return Err(invalid(
            "the body is empty (SQS needs at least one character)".into(),
        ));
    }
    if let Some(bad) = msg.body.chars().find(|c| !sqs_body_char(*c)) {
        return Err(invalid(format!(
            "the body contains {:?}, outside the characters SQS accepts \
             (tab, newline, carriage return, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..)",
            bad
        )));
    }
    if fifo {
        match &msg.group_id {
            None => return Err(invalid("FIFO messages need a group_id".into())),
            Some(group) => check_fifo_id("group_id", group).map_err(invalid)?,
        }
        if let Some(dedup) = &msg.dedup_id {
            check_fifo_id("dedup_id", dedup).map_err(invalid)?;
        }
        if !msg.delay.is_zero() {
            return Err(invalid(
                "FIFO queues do not support per-message delays".into(),
            ));
        }
    } else {
        if msg.group_id.is_some() || msg.dedup_id.is_some() {
            return Err(invalid(
                "group_id and dedup_id are only for FIFO queues".into(),
            ));
        }
        if msg.delay > MAX_DELAY {
            return Err(invalid(format!(
                "delay {:?} is over the 15 minute maximum",
                msg.delay
            )));
        }
    }
    Ok(())
}

/// Checks a whole batch: 1..=10 entries, each valid, 256 KiB in total.
pub fn validate_batch(queue: &str, fifo: bool, msgs: &[OutgoingMessage]) -> Result<(), QueueError> {
    if msgs.is_empty() || msgs.len() > MAX_BATCH {
        return Err(QueueError::InvalidArgument {
            queue: queue.to_owned(),
            reason: format!(
                "a batch holds 1 to {MAX_BATCH} messages, not {}",
                msgs.len()
            ),
        });
    }
    for msg in msgs {
        validate_message(queue, fifo, msg)?;
    }
    let size: usize = msgs.iter().map(|m| m.body.len()).sum();
    if size > MAX_BATCH_BYTES {
        return Err(QueueError::BatchTooLarge {
            queue: queue.to_owned(),
            size,
            limit: MAX_BATCH_BYTES,
        });
    }
    Ok(())
}

/// Checks the arguments of `receive`.
pub fn validate_receive(
    queue: &str,
    max: usize,
    visibility_timeout: Duration,
    wait: Duration,
) -> Result<(), QueueError> {
    let reason = if !(1..=MAX_BATCH).contains(&max) {
        format!("receive takes 1 to {MAX_BATCH} messages, not {max}")
    } else if visibility_timeout > MAX_VISIBILITY_TIMEOUT {
        format!("visibility timeout {visibility_timeout:?} is over the 12 h maximum")
    } else if wait > MAX_WAIT {
        format!("wait {wait:?} is over the 20 s maximum")
    } else {
        return Ok(());
    };
    Err(QueueError::InvalidArgument {
        queue: queue.to_owned(),
        reason,
    })
}

/// Checks a visibility timeout given to `change_visibility`.
pub fn validate_visibility(queue: &str, timeout: Duration) -> Result<(), QueueError> {
    if timeout > MAX_VISIBILITY_TIMEOUT {
        return Err(QueueError::InvalidArgument {
            queue: queue.to_owned(),
            reason: format!("visibility timeout {timeout:?} is over the 12 h maximum"),
        });
    }
    Ok(())
}

/// Checks the number of handles given to `delete_batch`.
pub fn validate_delete_batch(queue: &str, receipts: &[ReceiptHandle]) -> Result<(), QueueError> {
    if receipts.is_empty() || receipts.len() > MAX_BATCH {
        return Err(QueueError::InvalidArgument {
            queue: queue.to_owned(),
            reason: format!(
                "a batch holds 1 to {MAX_BATCH} receipts, not {}",
                receipts.len()
            ),
        });
    }
    Ok(())
}

fn sqs_body_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_fifo_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_FIFO_ID {
        return Err(format!("{what} must be 1 to {MAX_FIFO_ID} characters"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{what} `{id}` may only use ASCII letters, digits and punctuation"
        ));
    }
    Ok(())
}

/// What one receive attempt of a local implementation found.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// The messages delivered by this attempt.
    pub messages: Vec<ReceivedMessage>,
    /// When nothing was delivered: the earliest instant (by the queue's
    /// clock) at which a message of the queue becomes visible, if any.
    pub next_visible_at: Option<DateTime<Utc>>,
}

/// The long-poll loop shared by the local implementations.
///
/// Calls `attempt` until it delivers something or `wait` (real time) has
/// passed. Between attempts it parks until the first of: `notify` fires (a
/// send or visibility change in this process), the clock is moved by hand,
/// the next message becomes visible by the clock, `fallback` elapses (for
/// writers in other processes), or the wait is over. The `notify` permit is
/// registered *before* each attempt so a send racing with it is not lost.
pub async fn long_poll<F, Fut>(
    clock: &dyn Clock,
    notify: &Notify,
    wait: Duration,
    fallback: Option<Duration>,
    mut attempt: F,
) -> Result<Vec<ReceivedMessage>, QueueError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<PollOutcome, QueueError>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    let mut clock_moves = clock.watch();
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(moves) = clock_moves.as_mut() {
            moves.borrow_and_update();
        }
        let outcome = attempt().await?;
        if !outcome.messages.is_empty() {
            return Ok(outcome.messages);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Vec::new());
        }
        let mut nap = deadline - now;
        if let Some(at) = outcome.next_visible_at {
            nap = nap.min(duration_until(clock.now(), at));
        }
        if let Some(fallback) = fallback {
            nap = nap.min(fallback);
        }
        tokio::select! {
            () = &mut notified => {}
            () = clock_moved(&mut clock_moves) => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}

async fn clock_moved(moves: &mut Option<tokio::sync::watch::Receiver<DateTime<Utc>>>) {
    if let Some(moves) = moves
        && moves.changed().await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(validate_queue_name("kite-executions_1").is_ok());
        assert!(validate_queue_name("kite.fifo").is_ok());
        for bad in ["", ".fifo", "a b", "a.b", "é", &"x".repeat(81)] {
            assert!(
                matches!(
                    validate_queue_name(bad),
                    Err(QueueError::InvalidSpec { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn specs() {
        assert!(QueueSpec::standard("a").validate().is_ok());
        assert!(QueueSpec::fifo("a.fifo").validate().is_ok());
        assert!(QueueSpec::fifo("a").validate().is_err());
        assert!(QueueSpec::standard("a.fifo").validate().is_err());
        assert!(
            QueueSpec::standard("a")
                .with_dead_letter("a", 3)
                .validate()
                .is_err()
        );
        assert!(
            QueueSpec::standard("a")
                .with_dead_letter("dlq", 0)
                .validate()
                .is_err()
        );
        let mut half = QueueSpec::standard("a");
        half.max_receive_count = Some(3);
        assert!(half.validate().is_err());
        assert!(
            QueueSpec::standard("a")
                .with_visibility_timeout(MAX_VISIBILITY_TIMEOUT + Duration::from_secs(1))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn messages() {
        let ok = OutgoingMessage::new("hello");
        assert!(validate_message("q", false, &ok).is_ok());
        assert!(
            validate_message("q.fifo", true, &ok).is_err(),
            "needs group"
        );
        assert!(validate_message("q.fifo", true, &ok.clone().in_group("g")).is_ok());
        assert!(validate_message("q", false, &ok.clone().in_group("g")).is_err());
        assert!(
            validate_message(
                "q.fifo",
                true,
                &ok.clone().in_group("g").with_delay(Duration::from_secs(1))
            )
            .is_err()
        );
        assert!(validate_message("q", false, &ok.clone().with_delay(MAX_DELAY)).is_ok());
        assert!(
            validate_message(
                "q",
                false,
                &ok.clone().with_delay(MAX_DELAY + Duration::from_secs(1))
            )
            .is_err()
        );
        assert!(validate_message("q", false, &OutgoingMessage::new("nul \0")).is_err());
        assert!(validate_message("q.fifo", true, &ok.clone().in_group("has space")).is_err());
        let big = OutgoingMessage::new("x".repeat(MAX_MESSAGE_BYTES + 1));
        let err = validate_message("q", false, &big).expect_err("too large");
        assert!(err.to_string().contains("storage"), "{err}");
    }

    #[test]
    fn receipts() {
        let id = MessageId::new("3f1c~weird");
        let handle = ReceiptHandle::for_delivery(&id);
        assert_eq!(handle.message_id(), Some(id));
        assert_ne!(
            ReceiptHandle::for_delivery(&MessageId::new("a")),
            ReceiptHandle::for_delivery(&MessageId::new("a"))
        );
        for bad in [
            "",
            "abc",
            "~0123",
            "x~nothex",
            "~0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(ReceiptHandle::new(bad).message_id(), None, "{bad:?}");
        }
    }
}
