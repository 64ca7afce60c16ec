//! Kite's ports: the model-independent interfaces between the engine and its
//! infrastructure, with in-memory twins and the contract suites every
//! implementation must pass.
//!
//! Kite runs in two homes: AWS serverless (SQS, DynamoDB, S3, Lambda) and a
//! local single process on an embedded SQLite store. Both sit behind these
//! ports, designed for AWS semantics everywhere: at-least-once delivery,
//! idempotent handlers, races settled by conditional writes, SQS and
//! DynamoDB size limits. All ports are object-safe async traits
//! (`Arc<dyn Queue>`, ...), `Send + Sync`, with `thiserror` errors that name
//! the queue, key or item involved.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`clock`] | [`Clock`], [`SystemClock`], [`ManualClock`]: all time goes through it |
//! | [`queue`] | [`Queue`]: SQS-shaped standard and FIFO queues, redrive, long polling |
//! | [`storage`] | [`Storage`], [`StorageKey`]: S3-shaped objects behind `kestra:///` URIs |
//! | [`documents`] | [`DocumentStore`]: versioned, conditional, indexed, DynamoDB-shaped items |
//! | [`secrets`] | [`SecretStore`]: named secrets for `secret()` (Secrets Manager on AWS) |
//! | [`faulty`] | [`faulty::FaultyQueue`], [`faulty::FaultyDocuments`]: wrappers that inject send and store faults (tests) |
//! | [`memory`] | [`MemoryQueue`], [`MemoryStorage`], [`MemoryDocuments`]: in-memory twins |
//! | [`contract`] | the contract suites (`queue`, `storage`, `documents`) and their test macros |
//!
//! Implementations elsewhere: `kite-embedded` (SQLite queue and documents,
//! files on local disk), and later an AWS crate.

pub mod clock;
pub mod contract;
pub mod documents;
pub mod faulty;
pub mod memory;
pub mod queue;
pub mod secrets;
pub mod storage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use documents::{
    Cursor, Document, DocumentError, DocumentStore, Expect, IndexEntry, Page, Query, QueryItem,
    RangeCond, Versioned, WriteOp,
};
pub use memory::{MemoryDocuments, MemoryQueue, MemoryStorage};
pub use queue::{
    MessageId, OutgoingMessage, Queue, QueueError, QueueSpec, ReceiptHandle, ReceivedMessage,
};
pub use secrets::{NoSecrets, SecretStore};
pub use storage::{Storage, StorageError, StorageKey};
