//! [`FaultyQueue`]: a [`Queue`] wrapper that lets a [`SendFault`] see every send first, to
//! inject the faults a real deployment meets (a handler stopped before its sends, messages
//! delivered twice) into tests of the handlers above any queue implementation.
//!
//! [`FaultyDocuments`]: a [`DocumentStore`] wrapper that lets a [`DocumentFault`] fail any
//! operation first (a storage outage, throttling), for the same kind of tests.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::documents::{
    Document, DocumentError, DocumentStore, Expect, Page, Query, Versioned, WriteOp,
};
use crate::queue::{
    MessageId, OutgoingMessage, Queue, QueueError, QueueSpec, ReceiptHandle, ReceivedMessage,
};

/// What a [`FaultyQueue`] does to sends.
pub trait SendFault: Send + Sync + fmt::Debug {
    /// Called before `msgs` are sent to `queue` (one call per `send` or `send_batch`): an
    /// error fails the whole call and nothing is sent.
    fn before_send(&self, queue: &str, msgs: &[&OutgoingMessage]) -> Result<(), QueueError>;

    /// A second copy of `msg` to send before it (a duplicate delivery), if any.
    fn duplicate(&self, msg: &OutgoingMessage) -> Option<OutgoingMessage> {
        let _ = msg;
        None
    }
}

/// `inner`, with `fault` consulted on every send; every other operation passes through.
#[derive(Debug, Clone)]
pub struct FaultyQueue<F> {
    /// The queue sends go to.
    pub inner: Arc<dyn Queue>,
    /// The fault.
    pub fault: F,
}

impl<F: SendFault> FaultyQueue<F> {
    /// `inner` with `fault`.
    pub fn new(inner: Arc<dyn Queue>, fault: F) -> Self {
        Self { inner, fault }
    }
}

#[async_trait]
impl<F: SendFault> Queue for FaultyQueue<F> {
    async fn ensure_queue(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        self.inner.ensure_queue(spec).await
    }

    async fn send(&self, queue: &str, msg: OutgoingMessage) -> Result<MessageId, QueueError> {
        self.fault.before_send(queue, &[&msg])?;
        if let Some(twin) = self.fault.duplicate(&msg) {
            self.inner.send(queue, twin).await?;
        }
        self.inner.send(queue, msg).await
    }

    async fn send_batch(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, QueueError> {
        self.fault
            .before_send(queue, &msgs.iter().collect::<Vec<_>>())?;
        for m in &msgs {
            if let Some(twin) = self.fault.duplicate(m) {
                self.inner.send(queue, twin).await?;
            }
        }
        self.inner.send_batch(queue, msgs).await
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner
            .receive(queue, max, visibility_timeout, wait)
            .await
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.inner.delete(queue, receipt).await
    }

    async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        self.inner.delete_batch(queue, receipts).await
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &ReceiptHandle,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.inner.change_visibility(queue, receipt, timeout).await
    }

    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        self.inner.purge(queue).await
    }

    async fn approximate_len(&self, queue: &str) -> Result<usize, QueueError> {
        self.inner.approximate_len(queue).await
    }
}

/// What a [`FaultyDocuments`] does to store operations.
pub trait DocumentFault: Send + Sync + fmt::Debug {
    /// Called before `operation` (`get`, `put`, `delete`, `transact`, `query`) on `key` of
    /// `table` (the first operation's, for a transaction; the partition, for a query): an
    /// error fails the operation and the store is not touched.
    fn before(&self, operation: &'static str, table: &str, key: &str) -> Result<(), DocumentError>;
}

/// `inner`, with `fault` consulted before every operation.
#[derive(Debug, Clone)]
pub struct FaultyDocuments<F> {
    /// The store operations go to.
    pub inner: Arc<dyn DocumentStore>,
    /// The fault.
    pub fault: F,
}

impl<F: DocumentFault> FaultyDocuments<F> {
    /// `inner` with `fault`.
    pub fn new(inner: Arc<dyn DocumentStore>, fault: F) -> Self {
        Self { inner, fault }
    }
}

fn op_target(op: &WriteOp) -> (&str, &str) {
    match op {
        WriteOp::Put { table, key, .. }
        | WriteOp::Delete { table, key, .. }
        | WriteOp::Check { table, key, .. } => (table, key),
    }
}

#[async_trait]
impl<F: DocumentFault> DocumentStore for FaultyDocuments<F> {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        self.fault.before("get", table, key)?;
        self.inner.get(table, key).await
    }

    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        self.fault.before("put", table, key)?;
        self.inner.put(table, key, doc, expected).await
    }

    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        self.fault.before("delete", table, key)?;
        self.inner.delete(table, key, expected).await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        for op in &ops {
            let (table, key) = op_target(op);
            self.fault.before("transact", table, key)?;
        }
        self.inner.transact(ops).await
    }

    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        self.fault.before("query", &query.table, &query.partition)?;
        self.inner.query(query).await
    }

    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        self.inner.sweep_expired().await
    }
}
