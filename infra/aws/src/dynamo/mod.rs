//! [`DynamoDocuments`]: the [`DocumentStore`] port on one DynamoDB table.
//!
//! # The table design
//!
//! Every logical table of the port lives in **one** DynamoDB table, `{prefix}documents`
//! (single-table design, created by [`create_table`] from `terraform/resources.json`):
//! partition key `pk` (string, no sort key), three global secondary indexes `gsi1`..`gsi3`
//! with string keys `g{n}pk`/`g{n}sk` projecting keys only, and DynamoDB TTL on
//! the attribute `ttl`.
//!
//! **Items.** The item of logical `(table, key)` has
//!
//! | attribute | type | value |
//! |---|---|---|
//! | `pk` | S | `{table}#{key}` (table names cannot contain `#`, so this is unambiguous) |
//! | `tbl` | S | the logical table |
//! | `doc` | S | the JSON text, as given |
//! | `ver` | N | the version: 1 on creation, +1 on every put |
//! | `exp_ms` | N | the exact expiry in epoch milliseconds (a decimal fraction keeps sub-millisecond precision); absent = never expires |
//! | `ttl` | N | the expiry in epoch seconds, rounded up: DynamoDB's TTL attribute, so AWS deletes expired items eventually |
//! | `g{n}pk`, `g{n}sk` | S | index entry in GSI slot `n` (see below); absent when the slot is unused |
//!
//! An item is *live* while `exp_ms` is absent or after the injected clock's now; expired
//! items are absent for reads, write conditions and queries (filtered here: DynamoDB's own
//! TTL deletion runs on the real clock and may lag by days).
//!
//! **Indexes.** Each index name is mapped to one of the three GSI slots by [`IndexSlots`]
//! (default: `namespace`, `execution` → 1, `flow` → 2, `state` → 3, plus the names of the
//! port's contract suite; any other name → 1). An index entry `(index, partition, sort)` of
//! item `key` is written to its slot `n` as `g{n}pk = "{table}#{index}#{partition}"` and
//! `g{n}sk = "{sort}\u{1}{key}"`, so a query reads one GSI partition and equal sort values
//! are ordered by key, in byte order, as the port requires. Two entries of one document in
//! the same slot are rejected as [`DocumentError::Invalid`] (map the indexes to different
//! slots with [`IndexSlots::with`]). A put replaces the item, so slots it does not use are
//! removed.
//!
//! **Limits**, checked before any request (besides the port's own): sort values (and query
//! bounds) cannot contain the characters U+0000 to U+0002 (the separators below);
//! `sort` + 1 + `key` is at most 1024 bytes (DynamoDB's limit on a sort key); a transaction's
//! items, as stored, are at most 4 MiB. An item of the port's maximum size (400 000 bytes)
//! plus this layout's overhead (attribute names, `pk`, `tbl`, the composite index keys: at
//! most about 4.5 KB) stays under DynamoDB's 400 KiB.
//!
//! **Queries** map the [`RangeCond`](kite_ports::RangeCond) onto the composite sort key:
//!
//! | condition | key condition on `g{n}sk` |
//! |---|---|
//! | `All` | none |
//! | `Eq(v)` | `begins_with(sk, v + "\u{1}")` |
//! | `Prefix(p)` | `begins_with(sk, p)` |
//! | `Gte(b)` | `sk >= b` |
//! | `Gt(b)` | `sk >= b + "\u{2}"` |
//! | `Lt(b)` | `sk < b` |
//! | `Lte(b)` | `sk < b + "\u{2}"` |
//! | `Between(lo, hi)` | `sk BETWEEN lo AND hi + "\u{2}"` (empty when `lo > hi`) |
//!
//! (empty bounds are resolved without a key condition: DynamoDB rejects empty key
//! values). Descending queries set `ScanIndexForward = false`. The sort value of a result is
//! `g{n}sk` minus the `"\u{1}{key}"` suffix, and every result is re-checked against the
//! condition. Expired items are dropped client-side and the query continues until `limit`
//! live items plus one more are found (the look-ahead decides whether a next page exists),
//! so pages are exactly the in-memory twin's. A [`Cursor`](kite_ports::Cursor) is
//! [`Cursor::after`](kite_ports::Cursor::after)`(sort,
//! key)` of the last item returned, turned back into `ExclusiveStartKey = {pk, g{n}pk,
//! g{n}sk}`. GSIs are eventually consistent on AWS: a query may miss a write made a few
//! milliseconds before.
//!
//! **Keys-only indexes.** The GSIs project only the keys, so a put that leaves an item's
//! index keys unchanged (an execution record rewritten on every event) writes nothing to
//! them, and an index entry is a fraction of a write unit whatever the document's size: a
//! query reads the keys from the index, then the documents with a consistent
//! `BatchGetItem` (100 keys per call), skipping an item deleted or moved in the index in
//! between.
//!
//! **Writes.** Reads are `GetItem` with `ConsistentRead`. `Expect::Absent` is a `PutItem`
//! with `ver = 1` and the condition `attribute_not_exists(pk) OR exp_ms <= :now`;
//! `Expect::Version(n)` a `PutItem` with `ver = n + 1` and `ver = :n AND
//! (attribute_not_exists(exp_ms) OR exp_ms > :now)`; `Expect::Any` an `UpdateItem` that sets
//! every attribute with `ver = if_not_exists(ver, 0) + 1` on condition "absent or live",
//! falling back to a fresh `ver = 1` put (condition: absent or expired) when the item is
//! expired. Deletes use the same conditions. A failed condition returns the old item
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`; a consistent `GetItem` when it is
//! missing) to report the version found in [`DocumentError::Conflict`].
//!
//! **Transactions** are one `TransactWriteItems` (Put, Delete, ConditionCheck; a check with
//! `Expect::Any` is not sent). Puts with `Expect::Any` first read the current versions
//! (consistent `BatchGetItem`) and become version (or absence) conditions, so every put's
//! new version is known; if only such derived conditions fail, the transaction is retried.
//! A `TransactionCanceledException` is mapped to a conflict on the first operation whose own
//! condition failed, with the version found (from the reason's `ALL_OLD` item).
//!
//! **TTL sweep.** [`DocumentStore::sweep_expired`] scans for `exp_ms <= now` (paginated)
//! and deletes each item on the condition that it is still expired.
//!
//! **Capacity.** Every request adds the capacity units DynamoDB bills to
//! [`Metrics`]: reads `read_units(item size)`, writes
//! `write_units(item size)`, twice inside transactions.
//!
//! # Layout
//!
//! * `mod.rs` (this module): [`DynamoDocuments`] and its [`DocumentStore`] impl, which
//!   delegates to the modules below.
//! * `slots`: [`IndexSlots`], index names to GSI slots.
//! * `encoding`: attribute names and values, instants as numbers, the TTL value, item
//!   sizes, a put's item and the decoding of a stored one.
//! * `expr`: the builder of condition expressions (names and values as they are used).
//! * `errors`: how AWS failures become [`DocumentError`]s, and why a conditional write failed.
//! * `index_cache`: the index keys last seen per item, to count write units as DynamoDB
//!   bills them.
//! * `write`: get, put (`PutItem`, `UpdateItem`), delete, and conflicts with the version found.
//! * `transact`: `TransactWriteItems`, with the versions of `Any` puts read first.
//! * `query`: range conditions on the composite sort key, GSI queries, `BatchGetItem`.
//! * `sweep`: the TTL sweep.
//! * `provision`: [`create_table`] and [`delete_table`].

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use kite_ports::{
    Clock, Document, DocumentError, DocumentStore, Expect, Page, Query, Versioned, WriteOp,
};

use crate::config::Clients;
use crate::metrics::Metrics;

mod encoding;
mod errors;
mod expr;
mod index_cache;
mod provision;
mod query;
mod slots;
mod sweep;
mod transact;
mod write;

pub use provision::{create_table, delete_table};
pub use slots::{IndexSlots, SLOT_COUNT};

/// Attempts of an optimistic loop (Any puts, transactions with Any puts, unprocessed keys
/// of a batch read) before giving up.
const MAX_ATTEMPTS: u32 = 20;

/// The [`DocumentStore`] port on one DynamoDB table (see the [table design](self)).
#[derive(Debug, Clone)]
pub struct DynamoDocuments {
    client: Client,
    metrics: Metrics,
    table: String,
    clock: Arc<dyn Clock>,
    slots: IndexSlots,
    /// The GSI keys last seen (read or written) per item, to count index writes as DynamoDB
    /// bills them (a put that leaves an item's index keys as they were writes no index
    /// entry: the GSIs project keys only). Metrics only; bounded.
    seen_index_keys: index_cache::SeenIndexKeys,
}

impl DynamoDocuments {
    /// The store on the DynamoDB table `table` (the full name, prefix included), reading
    /// time from `clock`, with the default [`IndexSlots`].
    pub fn new(clients: &Clients, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client: clients.dynamodb.clone(),
            metrics: clients.metrics.clone(),
            table: table.into(),
            clock,
            slots: IndexSlots::default(),
            seen_index_keys: Default::default(),
        }
    }

    /// Uses `slots` to map index names to GSI slots.
    pub fn with_slots(mut self, slots: IndexSlots) -> Self {
        self.slots = slots;
        self
    }

    /// The DynamoDB table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The index slot map.
    pub fn slots(&self) -> &IndexSlots {
        &self.slots
    }
}

#[async_trait]
impl DocumentStore for DynamoDocuments {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        self.get_live(table, key).await
    }

    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        self.put_doc(table, key, doc, expected).await
    }

    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        self.delete_doc(table, key, expected).await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        self.transact_ops(ops).await
    }

    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        self.query_page(query).await
    }

    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        self.sweep().await
    }
}
