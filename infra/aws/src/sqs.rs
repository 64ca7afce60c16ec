//! [`SqsQueue`]: the [`Queue`] port on Amazon SQS.
//!
//! A logical queue name (`worker`, `executor.fifo`) is the SQS queue of the installation's
//! prefix plus that name (`kite-worker`). Queue URLs are looked up once per name
//! (`GetQueueUrl`) and cached; a Lambda can instead be handed its URLs from the environment
//! ([`SqsQueue::with_urls`]) and make no call at init.
//!
//! The mapping is thin because the port follows SQS. What is worth knowing:
//!
//! * **Whole seconds.** SQS takes visibility timeouts, delays and long-poll waits in whole
//!   seconds. A sub-second remainder is rounded **up** (a 100 ms wait becomes 1 s, a
//!   1.5 s lease 2 s): a receive never gives up before the asked wait, a message never
//!   shows up before its delay, a lease is never shorter than asked. Zero stays zero.
//! * **Validation first.** Every message, batch and argument is checked with the port's
//!   helpers ([`validate_message`] and friends) before any request, so a refused send has
//!   no side effect and errors are the port's, not SQS's.
//! * **FIFO deduplication.** A FIFO message without a `dedup_id` gets a random
//!   `MessageDeduplicationId` (the queues are created with content-based deduplication
//!   off), so it is never deduplicated, as the port says.
//! * **Batches.** `send_batch` sends one `SendMessageBatch` and re-sends the entries SQS
//!   reports as failed by a server fault (with the same deduplication ids, so a retry is
//!   never a duplicate) until all are in; a sender fault is an error. Unlike the local
//!   implementations, a batch that fails half way is not rolled back.
//! * **Receipts.** SQS accepts a stale receipt handle (the message was received again
//!   since) and deletes the message anyway; the contract allows it. A handle SQS cannot
//!   parse is [`QueueError::ReceiptInvalid`].
//! * **Purge.** `PurgeQueue` may take up to 60 s to delete everything in AWS and can run
//!   once per 60 s per queue; a second purge within that time is a backend error.
//! * **Attributes.** `ensure_queue` on an existing queue updates its visibility timeout and
//!   redrive policy with `SetQueueAttributes`; AWS may take up to a minute to apply them.
//!
//! Every error names the logical queue.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use kite_ports::queue::{
    validate_batch, validate_delete_batch, validate_message, validate_queue_name, validate_receive,
    validate_visibility,
};
use kite_ports::{
    MessageId, OutgoingMessage, Queue, QueueError, QueueSpec, ReceiptHandle, ReceivedMessage,
};

use crate::config::Clients;
use crate::resources::QueueDef;

/// How many times `send_batch` and `delete_batch` re-send entries that failed by a
/// server fault before giving up.
const BATCH_ATTEMPTS: u32 = 6;
/// The first pause between batch retries (doubled each time).
const BATCH_BACKOFF: Duration = Duration::from_millis(50);

/// The `Queue` port on Amazon SQS. Cheap to clone (clones share the URL cache).
#[derive(Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    prefix: String,
    /// Logical queue name → queue URL.
    urls: Arc<Mutex<HashMap<String, String>>>,
}

impl fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsQueue")
            .field("prefix", &self.prefix)
            .field("urls", &self.cached_urls())
            .finish_non_exhaustive()
    }
}

/// Attributes that only `kite infra up` sets (from `terraform/resources.json`).
#[derive(Debug, Default, Clone, Copy)]
struct Extras {
    retention_seconds: Option<u32>,
    high_throughput: bool,
}

impl SqsQueue {
    /// Queues of the installation of `clients` (logical `worker` is SQS `{prefix}worker`);
    /// URLs are looked up on first use.
    pub fn new(clients: &Clients) -> Self {
        Self {
            client: clients.sqs.clone(),
            prefix: clients.config.prefix.clone(),
            urls: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Like [`SqsQueue::new`], with the URLs of some queues already known (logical name →
    /// URL, e.g. from a Lambda's environment): those are never looked up.
    pub fn with_urls(clients: &Clients, urls: impl IntoIterator<Item = (String, String)>) -> Self {
        let queue = Self::new(clients);
        lock(&queue.urls).extend(urls);
        queue
    }

    /// The SQS name of logical queue `name`.
    pub fn physical_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The URLs known so far (logical name → URL).
    pub fn cached_urls(&self) -> HashMap<String, String> {
        lock(&self.urls).clone()
    }

    /// The URL of logical queue `queue`, looked up once.
    pub async fn url(&self, queue: &str) -> Result<String, QueueError> {
        if let Some(url) = lock(&self.urls).get(queue) {
            return Ok(url.clone());
        }
        if validate_queue_name(queue).is_err() {
            return Err(not_found(queue));
        }
        let url = match self
            .client
            .get_queue_url()
            .queue_name(self.physical_name(queue))
            .send()
            .await
        {
            Ok(out) => out.queue_url.ok_or_else(|| {
                backend(
                    queue,
                    "get queue url",
                    Malformed("GetQueueUrl without QueueUrl"),
                )
            })?,
            Err(err) if is_queue_missing(&err) => return Err(not_found(queue)),
            Err(err) => return Err(backend(queue, "get queue url", sdk(err))),
        };
        lock(&self.urls).insert(queue.to_owned(), url.clone());
        Ok(url)
    }

    /// Creates (or updates) the queue of a resource definition, as `kite infra up` does:
    /// like [`Queue::ensure_queue`], plus the retention period and, for a FIFO queue with
    /// `high_throughput`, deduplication and throughput per message group. The dead-letter
    /// queue must exist already. Returns the queue URL.
    pub async fn create(&self, def: &QueueDef) -> Result<String, QueueError> {
        let spec = QueueSpec {
            name: def.name.clone(),
            fifo: def.fifo,
            visibility_timeout: Duration::from_secs(u64::from(def.visibility_timeout_seconds)),
            max_receive_count: def.max_receive_count,
            dead_letter: def.dead_letter.clone(),
        };
        let extras = Extras {
            retention_seconds: Some(def.retention_seconds),
            high_throughput: def.high_throughput,
        };
        self.apply(&spec, extras).await
    }

    /// Deletes logical queue `name` and its messages; a missing queue is fine.
    pub async fn delete_queue(&self, name: &str) -> Result<(), QueueError> {
        let url = match self.url(name).await {
            Ok(url) => url,
            Err(QueueError::QueueNotFound { .. }) => return Ok(()),
            Err(err) => return Err(err),
        };
        lock(&self.urls).remove(name);
        match self.client.delete_queue().queue_url(url).send().await {
            Ok(_) => Ok(()),
            Err(err) if is_queue_missing(&err) => Ok(()),
            Err(err) => Err(backend(name, "delete queue", sdk(err))),
        }
    }

    async fn apply(&self, spec: &QueueSpec, extras: Extras) -> Result<String, QueueError> {
        spec.validate()?;
        let name = spec.name.as_str();
        let invalid = |reason: String| QueueError::InvalidSpec {
            queue: name.to_owned(),
            reason,
        };
        let redrive = match (&spec.dead_letter, spec.max_receive_count) {
            (Some(dlq), Some(count)) => {
                if dlq.ends_with(".fifo") != spec.fifo {
                    return Err(invalid(format!(
                        "dead-letter queue `{dlq}` must be of the same kind (FIFO or standard)"
                    )));
                }
                let dlq_url = match self.url(dlq).await {
                    Ok(url) => url,
                    Err(QueueError::QueueNotFound { .. }) => {
                        return Err(invalid(format!(
                            "dead-letter queue `{dlq}` does not exist (create it first)"
                        )));
                    }
                    Err(err) => return Err(err),
                };
                let arn = self
                    .attributes(dlq, &dlq_url, &[QueueAttributeName::QueueArn])
                    .await?
                    .remove(&QueueAttributeName::QueueArn)
                    .ok_or_else(|| {
                        backend(dlq, "get queue arn", Malformed("no QueueArn attribute"))
                    })?;
                serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": count })
                    .to_string()
            }
            // An empty policy removes an existing one.
            _ => String::new(),
        };

        let mut attributes = HashMap::from([(
            QueueAttributeName::VisibilityTimeout,
            whole_seconds(spec.visibility_timeout).to_string(),
        )]);
        if let Some(retention) = extras.retention_seconds {
            attributes.insert(
                QueueAttributeName::MessageRetentionPeriod,
                retention.to_string(),
            );
        }
        if spec.fifo {
            attributes.insert(
                QueueAttributeName::ContentBasedDeduplication,
                "false".into(),
            );
            if extras.high_throughput {
                attributes.insert(
                    QueueAttributeName::DeduplicationScope,
                    "messageGroup".into(),
                );
                attributes.insert(
                    QueueAttributeName::FifoThroughputLimit,
                    "perMessageGroupId".into(),
                );
            }
        }
        let mut update = attributes.clone();
        update.insert(QueueAttributeName::RedrivePolicy, redrive.clone());
        let mut create = attributes;
        if !redrive.is_empty() {
            create.insert(QueueAttributeName::RedrivePolicy, redrive);
        }
        if spec.fifo {
            create.insert(QueueAttributeName::FifoQueue, "true".into());
        }

        if let Ok(url) = self.url(name).await {
            self.set_attributes(name, &url, update).await?;
            return Ok(url);
        }
        let created = self
            .client
            .create_queue()
            .queue_name(self.physical_name(name))
            .set_attributes(Some(create))
            .send()
            .await;
        let url = match created {
            Ok(out) => out.queue_url.ok_or_else(|| {
                backend(
                    name,
                    "create queue",
                    Malformed("CreateQueue without QueueUrl"),
                )
            })?,
            // Created concurrently with other attributes: update it like an existing one.
            Err(err) if code(&err) == Some("QueueAlreadyExists") => {
                let url = self.url(name).await?;
                self.set_attributes(name, &url, update).await?;
                return Ok(url);
            }
            Err(err) => return Err(backend(name, "create queue", sdk(err))),
        };
        lock(&self.urls).insert(name.to_owned(), url.clone());
        Ok(url)
    }

    async fn set_attributes(
        &self,
        queue: &str,
        url: &str,
        attributes: HashMap<QueueAttributeName, String>,
    ) -> Result<(), QueueError> {
        self.client
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map(drop)
            .map_err(|err| self.failure(queue, "set queue attributes", err))
    }

    async fn attributes(
        &self,
        queue: &str,
        url: &str,
        names: &[QueueAttributeName],
    ) -> Result<HashMap<QueueAttributeName, String>, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|err| self.failure(queue, "get queue attributes", err))?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// Maps a failed call on `queue`: a missing queue (also forgets its URL) or a backend
    /// failure.
    fn failure<E>(
        &self,
        queue: &str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if is_queue_missing(&err) {
            lock(&self.urls).remove(queue);
            return not_found(queue);
        }
        backend(queue, operation, sdk(err))
    }

    /// Maps a failed call that carried `receipt` on `queue`.
    fn receipt_failure<E>(
        &self,
        queue: &str,
        operation: &'static str,
        receipt: &ReceiptHandle,
        err: SdkError<E, HttpResponse>,
    ) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match receipt_error(queue, receipt, code(&err), err.message()) {
            Some(mapped) => mapped,
            None => self.failure(queue, operation, err),
        }
    }
}

type HttpResponse = aws_smithy_runtime_api::http::Response;

#[async_trait]
impl Queue for SqsQueue {
    async fn ensure_queue(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        self.apply(spec, Extras::default()).await.map(drop)
    }

    async fn send(&self, queue: &str, msg: OutgoingMessage) -> Result<MessageId, QueueError> {
        let fifo = is_fifo(queue);
        validate_message(queue, fifo, &msg)?;
        let url = self.url(queue).await?;
        let mut request = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(msg.body);
        if fifo {
            request = request
                .set_message_group_id(msg.group_id)
                .message_deduplication_id(msg.dedup_id.unwrap_or_else(random_dedup_id));
        } else if !msg.delay.is_zero() {
            request = request.delay_seconds(whole_seconds(msg.delay));
        }
        let out = request
            .send()
            .await
            .map_err(|err| self.failure(queue, "send", err))?;
        out.message_id
            .map(MessageId::new)
            .ok_or_else(|| backend(queue, "send", Malformed("SendMessage without MessageId")))
    }

    async fn send_batch(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, QueueError> {
        let fifo = is_fifo(queue);
        validate_batch(queue, fifo, &msgs)?;
        let url = self.url(queue).await?;
        let mut entries = Vec::with_capacity(msgs.len());
        for (index, msg) in msgs.into_iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(msg.body);
            if fifo {
                entry = entry
                    .set_message_group_id(msg.group_id)
                    .message_deduplication_id(msg.dedup_id.unwrap_or_else(random_dedup_id));
            } else if !msg.delay.is_zero() {
                entry = entry.delay_seconds(whole_seconds(msg.delay));
            }
            entries.push(
                entry
                    .build()
                    .map_err(|err| backend(queue, "send batch", err))?,
            );
        }
        let mut ids: Vec<Option<MessageId>> = vec![None; entries.len()];
        let mut pending = entries;
        let mut backoff = BATCH_BACKOFF;
        for attempt in 1..=BATCH_ATTEMPTS {
            let out = self
                .client
                .send_message_batch()
                .queue_url(&url)
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(|err| self.failure(queue, "send batch", err))?;
            for ok in out.successful() {
                if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| ids.get_mut(i)) {
                    *slot = Some(MessageId::new(ok.message_id()));
                }
            }
            if let Some(bad) = out.failed().iter().find(|f| f.sender_fault()) {
                return Err(backend(
                    queue,
                    "send batch",
                    Rejected(format!(
                        "entry {} refused: {} {}",
                        bad.id(),
                        bad.code(),
                        bad.message().unwrap_or_default()
                    )),
                ));
            }
            pending.retain(|entry| {
                entry
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| ids.get(i))
                    .is_some_and(Option::is_none)
            });
            if pending.is_empty() {
                break;
            }
            if attempt < BATCH_ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        ids.into_iter()
            .enumerate()
            .map(|(index, id)| {
                id.ok_or_else(|| {
                    backend(
                        queue,
                        "send batch",
                        Rejected(format!(
                            "entry {index} still failing after {BATCH_ATTEMPTS} attempts"
                        )),
                    )
                })
            })
            .collect()
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(queue, max, visibility_timeout, wait)?;
        let url = self.url(queue).await?;
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(whole_seconds(visibility_timeout))
            .wait_time_seconds(whole_seconds(wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|err| self.failure(queue, "receive", err))?;
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| received(queue, m))
            .collect()
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        if receipt.as_str().is_empty() {
            return Err(invalid_receipt(queue, receipt));
        }
        let url = self.url(queue).await?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt.as_str())
            .send()
            .await
            .map(drop)
            .map_err(|err| self.receipt_failure(queue, "delete", receipt, err))
    }

    async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        validate_delete_batch(queue, receipts)?;
        let url = self.url(queue).await?;
        let mut results: Vec<Option<Result<(), QueueError>>> =
            receipts.iter().map(|_| None).collect();
        let mut pending = Vec::new();
        for (index, receipt) in receipts.iter().enumerate() {
            if receipt.as_str().is_empty() {
                results[index] = Some(Err(invalid_receipt(queue, receipt)));
                continue;
            }
            pending.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(receipt.as_str())
                    .build()
                    .map_err(|err| backend(queue, "delete batch", err))?,
            );
        }
        let mut backoff = BATCH_BACKOFF;
        let mut attempt = 0;
        while !pending.is_empty() && attempt < BATCH_ATTEMPTS {
            attempt += 1;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(|err| self.failure(queue, "delete batch", err))?;
            let slot = |id: &str| id.parse::<usize>().ok().filter(|i| *i < receipts.len());
            for ok in out.successful() {
                if let Some(i) = slot(ok.id()) {
                    results[i] = Some(Ok(()));
                }
            }
            for bad in out.failed() {
                let Some(i) = slot(bad.id()) else { continue };
                if let Some(err) =
                    receipt_error(queue, &receipts[i], Some(bad.code()), bad.message())
                {
                    results[i] = Some(Err(err));
                } else if bad.sender_fault() || attempt == BATCH_ATTEMPTS {
                    results[i] = Some(Err(backend(
                        queue,
                        "delete batch",
                        Rejected(format!(
                            "{} {}",
                            bad.code(),
                            bad.message().unwrap_or_default()
                        )),
                    )));
                }
            }
            pending.retain(|entry| slot(entry.id()).is_some_and(|i| results[i].is_none()));
            if !pending.is_empty() {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Ok(results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(backend(
                        queue,
                        "delete batch",
                        Malformed("DeleteMessageBatch did not answer for an entry"),
                    ))
                })
            })
            .collect())
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &ReceiptHandle,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        validate_visibility(queue, timeout)?;
        if receipt.as_str().is_empty() {
            return Err(invalid_receipt(queue, receipt));
        }
        let url = self.url(queue).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt.as_str())
            .visibility_timeout(whole_seconds(timeout))
            .send()
            .await
            .map(drop)
            .map_err(|err| self.receipt_failure(queue, "change visibility", receipt, err))
    }

    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let url = self.url(queue).await?;
        self.client
            .purge_queue()
            .queue_url(url)
            .send()
            .await
            .map(drop)
            .map_err(|err| self.failure(queue, "purge", err))
    }

    async fn approximate_len(&self, queue: &str) -> Result<usize, QueueError> {
        let url = self.url(queue).await?;
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let attributes = self.attributes(queue, &url, &names).await?;
        let mut total = 0usize;
        for name in &names {
            let count = attributes
                .get(name)
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| {
                    backend(
                        queue,
                        "approximate length",
                        Rejected(format!(
                            "attribute {} missing or not a number",
                            name.as_str()
                        )),
                    )
                })?;
            total += count;
        }
        Ok(total)
    }
}

/// A FIFO queue's name ends in `.fifo` (an SQS rule).
fn is_fifo(queue: &str) -> bool {
    queue.ends_with(".fifo")
}

/// A duration in whole seconds for SQS, rounded up (see the module docs).
fn whole_seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

fn random_dedup_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn received(queue: &str, m: Message) -> Result<ReceivedMessage, QueueError> {
    let malformed = |what| backend(queue, "receive", Malformed(what));
    let attributes = m.attributes.unwrap_or_default();
    Ok(ReceivedMessage {
        id: MessageId::new(
            m.message_id
                .ok_or_else(|| malformed("a message without MessageId"))?,
        ),
        body: m.body.unwrap_or_default(),
        receipt_handle: ReceiptHandle::new(
            m.receipt_handle
                .ok_or_else(|| malformed("a message without ReceiptHandle"))?,
        ),
        receive_count: attributes
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        group_id: attributes
            .get(&MessageSystemAttributeName::MessageGroupId)
            .cloned(),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

fn backend(
    queue: &str,
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> QueueError {
    QueueError::Backend {
        queue: queue.to_owned(),
        operation,
        source: Box::new(source),
    }
}

/// The error code of a failed call, without SQS's `AWS.SimpleQueueService.` prefix.
fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    err.code()
        .map(|c| c.strip_prefix("AWS.SimpleQueueService.").unwrap_or(c))
}

fn is_queue_missing<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(code(err), Some("NonExistentQueue" | "QueueDoesNotExist"))
}

/// The port error for a receipt SQS refused (`None`: not about the receipt).
fn receipt_error(
    queue: &str,
    receipt: &ReceiptHandle,
    code: Option<&str>,
    message: Option<&str>,
) -> Option<QueueError> {
    let code = code.map(|c| c.strip_prefix("AWS.SimpleQueueService.").unwrap_or(c));
    let gone = || QueueError::MessageNotInFlight {
        queue: queue.to_owned(),
        receipt: receipt.to_string(),
    };
    match code? {
        "ReceiptHandleIsInvalid" | "InvalidIdFormat" => Some(invalid_receipt(queue, receipt)),
        "MessageNotInflight" => Some(gone()),
        // ChangeMessageVisibility on a deleted message: "Message does not exist or is not
        // available for visibility timeout change".
        "InvalidParameterValue"
            if message
                .is_some_and(|m| m.contains("does not exist") || m.contains("not available")) =>
        {
            Some(gone())
        }
        _ => None,
    }
}

/// An SDK error with its whole context as text (the SDK's `Display` alone says little).
#[derive(Debug)]
pub(crate) struct SdkFailure {
    text: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for SdkFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Wraps an SDK error so that its message carries the service's code and text.
pub(crate) fn sdk(err: impl std::error::Error + Send + Sync + 'static) -> SdkFailure {
    SdkFailure {
        text: DisplayErrorContext(&err).to_string(),
        source: Box::new(err),
    }
}

/// A response without a field the service always sends.
#[derive(Debug)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected response: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// A request the service refused, described.
#[derive(Debug)]
struct Rejected(String);

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejected {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(100)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(20)), 20);
    }

    #[test]
    fn receipt_codes() {
        let r = ReceiptHandle::new("x");
        assert!(matches!(
            receipt_error("q", &r, Some("ReceiptHandleIsInvalid"), None),
            Some(QueueError::ReceiptInvalid { .. })
        ));
        assert!(matches!(
            receipt_error(
                "q",
                &r,
                Some("AWS.SimpleQueueService.MessageNotInflight"),
                None
            ),
            Some(QueueError::MessageNotInFlight { .. })
        ));
        assert!(receipt_error("q", &r, Some("RequestThrottled"), None).is_none());
    }
}
