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
//! **Queries** map the [`RangeCond`] onto the composite sort key:
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
//! so pages are exactly the in-memory twin's. A [`Cursor`] is [`Cursor::after`]`(sort,
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

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::delete_table::DeleteTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use kite_ports::documents::{MAX_KEY_BYTES, validate_key, validate_table, validate_transaction};
use kite_ports::{
    Clock, Cursor, Document, DocumentError, DocumentStore, Expect, Page, Query, QueryItem,
    RangeCond, Versioned, WriteOp,
};

use crate::config::Clients;
use crate::metrics::{Metrics, read_units, write_units};
use crate::resources::TableDef;

/// Number of GSI slots of the table (`gsi1`..`gsi3`).
pub const SLOT_COUNT: u8 = 3;

const PK: &str = "pk";
const TBL: &str = "tbl";
const DOC: &str = "doc";
const VER: &str = "ver";
const EXP: &str = "exp_ms";
const TTL: &str = "ttl";

/// Joins a sort value and the item key in `g{n}sk`.
const SEP: char = '\u{1}';
/// Just above [`SEP`]: `b + AFTER` is above every `b + SEP + key`.
const AFTER: char = '\u{2}';

/// DynamoDB's limit on the items of one transaction (4 MiB).
const DYNAMO_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// Attempts of an optimistic loop (Any puts, transactions with Any puts) before giving up.
const MAX_ATTEMPTS: u32 = 20;

/// Maps index names to the table's GSI slots `1..=3` (see the [table design](self)).
///
/// Two indexes used by the same document must be in different slots. Names without an
/// entry use the fallback slot (1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSlots {
    slots: BTreeMap<String, u8>,
    fallback: u8,
}

impl IndexSlots {
    /// No names mapped: every index uses slot 1.
    pub fn empty() -> Self {
        Self {
            slots: BTreeMap::new(),
            fallback: 1,
        }
    }

    /// Maps `index` to `slot` (1 to [`SLOT_COUNT`]; other values make writes and queries on
    /// that index fail as invalid).
    pub fn with(mut self, index: impl Into<String>, slot: u8) -> Self {
        self.slots.insert(index.into(), slot);
        self
    }

    /// The slot of names without an entry.
    pub fn fallback(mut self, slot: u8) -> Self {
        self.fallback = slot;
        self
    }

    /// The slot of `index`.
    pub fn slot(&self, index: &str) -> u8 {
        self.slots.get(index).copied().unwrap_or(self.fallback)
    }

    /// The explicit entries, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, u8)> {
        self.slots.iter().map(|(name, slot)| (name.as_str(), *slot))
    }

    fn checked_slot(&self, table: &str, index: &str) -> Result<u8, DocumentError> {
        let slot = self.slot(index);
        if (1..=SLOT_COUNT).contains(&slot) {
            Ok(slot)
        } else {
            Err(DocumentError::Invalid {
                table: table.to_owned(),
                reason: format!(
                    "index `{index}` is mapped to GSI slot {slot}, but the DynamoDB table has \
                     slots 1 to {SLOT_COUNT}"
                ),
            })
        }
    }
}

impl Default for IndexSlots {
    /// The engine's indexes (`namespace`, `execution` → 1, `flow`, `trigger_listen` → 2,
    /// `state`, `trigger_due` → 3) and
    /// those of the port's contract suite (`by_ns`, `by_x`, `by_kind`, `by_sort` → 1,
    /// `by_flow` → 2, `by_state` → 3).
    fn default() -> Self {
        Self::empty()
            .with("namespace", 1)
            .with("execution", 1)
            .with("flow", 2)
            .with("state", 3)
            .with("trigger_listen", 2)
            .with("trigger_due", 3)
            .with("by_ns", 1)
            .with("by_x", 1)
            .with("by_kind", 1)
            .with("by_sort", 1)
            .with("by_flow", 2)
            .with("by_state", 3)
    }
}

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
    seen_index_keys: Arc<std::sync::Mutex<HashMap<String, IndexKeys>>>,
}

/// An item's GSI entries: (`g{n}pk` attribute, its values joined), sorted.
type IndexKeys = Vec<(String, String)>;

/// How many items' index keys [`DynamoDocuments`] remembers for its metrics.
const SEEN_INDEX_KEYS: usize = 10_000;

/// The GSI slot values of one put: `(g{n}pk, g{n}sk)` per slot.
type SlotValues = [Option<(String, String)>; SLOT_COUNT as usize];

type Attrs = HashMap<String, AttributeValue>;

/// A stored item, decoded.
#[derive(Debug)]
struct Stored {
    doc: String,
    version: u64,
    expires_at: Option<DateTime<Utc>>,
}

impl Stored {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// Why a conditional write did not happen.
enum WriteFail {
    /// The condition failed; the old item when the service returned it.
    Condition(Option<Attrs>),
    /// Anything else.
    Other(DocumentError),
}

impl From<DocumentError> for WriteFail {
    fn from(err: DocumentError) -> Self {
        WriteFail::Other(err)
    }
}

/// Expression attribute names and values, added as they are used (DynamoDB rejects unused
/// ones).
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn n(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    fn v(&mut self, name: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{name}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Attrs> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// "Absent or expired".
    fn absent(&mut self, now: &str) -> String {
        let (pk, exp) = (self.n(PK), self.n(EXP));
        let now = self.v("now", n(now));
        format!("attribute_not_exists({pk}) OR {exp} <= {now}")
    }

    /// "Absent or live".
    fn absent_or_live(&mut self, now: &str) -> String {
        let (pk, exp) = (self.n(PK), self.n(EXP));
        let now = self.v("now", n(now));
        format!("attribute_not_exists({pk}) OR attribute_not_exists({exp}) OR {exp} > {now}")
    }

    /// "Live with exactly this version".
    fn version(&mut self, version: u64, now: &str) -> String {
        let (ver, exp) = (self.n(VER), self.n(EXP));
        let expected = self.v("expected", n(&version.to_string()));
        let now = self.v("now", n(now));
        format!("{ver} = {expected} AND (attribute_not_exists({exp}) OR {exp} > {now})")
    }

    /// The condition of `expected`, none for `Any`.
    fn expect(&mut self, expected: Expect, now: &str) -> Option<String> {
        match expected {
            Expect::Any => None,
            Expect::Absent => Some(self.absent(now)),
            Expect::Version(version) => Some(self.version(version, now)),
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: &str) -> AttributeValue {
    AttributeValue::N(value.to_owned())
}

fn pk(table: &str, key: &str) -> String {
    format!("{table}#{key}")
}

fn gsi_name(slot: u8) -> String {
    format!("gsi{slot}")
}

fn gpk_attr(slot: u8) -> String {
    format!("g{slot}pk")
}

fn gsk_attr(slot: u8) -> String {
    format!("g{slot}sk")
}

/// An instant as a DynamoDB number of epoch milliseconds, exact to the nanosecond.
fn instant_number(at: DateTime<Utc>) -> String {
    let nanos =
        i128::from(at.timestamp()) * 1_000_000_000 + i128::from(at.timestamp_subsec_nanos());
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let (ms, sub) = (abs / 1_000_000, abs % 1_000_000);
    if sub == 0 {
        format!("{sign}{ms}")
    } else {
        let fraction = format!("{sub:06}");
        format!("{sign}{ms}.{}", fraction.trim_end_matches('0'))
    }
}

/// The inverse of [`instant_number`] (also accepts DynamoDB's normalised forms).
fn parse_instant(number: &str) -> Option<DateTime<Utc>> {
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    if whole.is_empty()
        || fraction.len() > 6
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let ms: i128 = whole.parse().ok()?;
    let sub: i128 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    let mut nanos = ms * 1_000_000 + sub;
    if negative {
        nanos = -nanos;
    }
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let rest = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    DateTime::from_timestamp(secs, rest)
}

/// The DynamoDB TTL value of an expiry: epoch seconds, rounded up.
fn ttl_seconds(at: DateTime<Utc>) -> i64 {
    let secs = at.timestamp();
    if at.timestamp_subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    }
}

/// The GSI entries of `item`: per used slot, its `g{n}pk` attribute name with the `g{n}pk`
/// and `g{n}sk` values, sorted.
fn index_keys(item: &Attrs) -> IndexKeys {
    let mut keys: IndexKeys = item
        .iter()
        .filter(|(k, _)| k.starts_with('g') && k.ends_with("pk"))
        .filter_map(|(k, v)| {
            let sk_attr = format!("{}sk", k.strip_suffix("pk")?);
            match (v, item.get(&sk_attr)) {
                (AttributeValue::S(p), Some(AttributeValue::S(s))) => {
                    Some((k.clone(), format!("{p}{SEP}{s}")))
                }
                _ => None,
            }
        })
        .collect();
    keys.sort();
    keys
}

/// The size DynamoDB bills for an item: attribute names plus values.
fn item_size(item: &Attrs) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// A failure of the AWS SDK or of the stored data, with what was being done.
#[derive(Debug)]
struct AwsFailure {
    context: String,
    detail: String,
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.detail)
    }
}

impl StdError for AwsFailure {}

fn backend(
    table: &str,
    operation: &'static str,
    context: String,
    detail: impl fmt::Display,
) -> DocumentError {
    DocumentError::Backend {
        table: table.to_owned(),
        operation,
        source: Box::new(AwsFailure {
            context,
            detail: detail.to_string(),
        }),
    }
}

fn sdk_failure<E, R>(
    table: &str,
    operation: &'static str,
    context: String,
    err: &SdkError<E, R>,
) -> DocumentError
where
    E: StdError + 'static,
    R: fmt::Debug,
{
    backend(table, operation, context, DisplayErrorContext(err))
}

fn invalid(table: &str, reason: String) -> DocumentError {
    DocumentError::Invalid {
        table: table.to_owned(),
        reason,
    }
}

/// Rejects the separator characters in a sort value or query bound.
fn check_sort_chars(table: &str, what: &str, value: &str) -> Result<(), DocumentError> {
    if value.chars().any(|c| c <= AFTER) {
        return Err(invalid(
            table,
            format!(
                "{what} contains a control character U+0000 to U+0002, which the DynamoDB \
                 document store reserves as separators"
            ),
        ));
    }
    Ok(())
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
            seen_index_keys: Arc::default(),
        }
    }

    /// Remembers the index keys of `item`, read or written.
    fn remember_index_keys(&self, item: &Attrs) {
        if let Some(AttributeValue::S(item_pk)) = item.get(PK) {
            self.remember(item_pk.clone(), index_keys(item));
        }
    }

    fn remember(&self, item_pk: String, keys: IndexKeys) {
        if let Ok(mut seen) = self.seen_index_keys.lock() {
            if seen.len() >= SEEN_INDEX_KEYS && !seen.contains_key(&item_pk) {
                seen.clear();
            }
            seen.insert(item_pk, keys);
        }
    }

    /// Write units of writing `item`, as DynamoDB bills them: its size in the table, plus
    /// one small keys-only entry per GSI entry added, and two (a delete and a put) per entry
    /// changed or removed, compared with the item's index keys last seen (an item never seen
    /// counts as new). Also returns what to [`remember`](Self::remember) once it is written.
    fn write_units_of(&self, item: &Attrs) -> (f64, Option<(String, IndexKeys)>) {
        let after = index_keys(item);
        let item_pk = match item.get(PK) {
            Some(AttributeValue::S(p)) => Some(p.clone()),
            _ => None,
        };
        let before = item_pk
            .as_ref()
            .and_then(|p| self.seen_index_keys.lock().ok()?.get(p).cloned())
            .unwrap_or_default();
        let mut index_writes = 0usize;
        for (attr, value) in &after {
            match before.iter().find(|(a, _)| a == attr) {
                Some((_, old)) if old == value => {}
                Some(_) => index_writes += 2,
                None => index_writes += 1,
            }
        }
        index_writes += 2 * before
            .iter()
            .filter(|(a, _)| !after.iter().any(|(b, _)| a == b))
            .count();
        // Keys-only index entries are far under 1 KB: one unit each.
        let units = write_units(item_size(item)) + index_writes as f64;
        (units, item_pk.map(|p| (p, after)))
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

    fn context(&self, table: &str, key: &str) -> String {
        format!("item `{table}`/`{key}` in DynamoDB table `{}`", self.table)
    }

    fn key_attrs(table: &str, key: &str) -> Attrs {
        HashMap::from([(PK.to_owned(), s(pk(table, key)))])
    }

    /// Places the index entries of a put in their slots; checks the adapter's limits.
    fn slot_values(
        &self,
        table: &str,
        key: &str,
        doc: &Document,
    ) -> Result<SlotValues, DocumentError> {
        let mut slots: SlotValues = Default::default();
        let mut owners: [Option<&str>; SLOT_COUNT as usize] = Default::default();
        for entry in &doc.indexes {
            let slot = self.slots.checked_slot(table, &entry.index)?;
            let i = usize::from(slot - 1);
            if let Some(other) = owners[i] {
                return Err(invalid(
                    table,
                    format!(
                        "indexes `{other}` and `{}` of item `{key}` both map to GSI slot {slot} \
                         of the DynamoDB table; map them to different slots (IndexSlots::with, \
                         slots 1 to {SLOT_COUNT})",
                        entry.index
                    ),
                ));
            }
            check_sort_chars(
                table,
                &format!("the sort value of index `{}` of item `{key}`", entry.index),
                &entry.sort,
            )?;
            let sk = format!("{}{SEP}{key}", entry.sort);
            if sk.len() > MAX_KEY_BYTES {
                return Err(invalid(
                    table,
                    format!(
                        "index `{}` of item `{key}`: the sort value plus the key are {} bytes; \
                         on DynamoDB they must be at most {} bytes together",
                        entry.index,
                        entry.sort.len() + key.len(),
                        MAX_KEY_BYTES - 1
                    ),
                ));
            }
            owners[i] = Some(&entry.index);
            slots[i] = Some((format!("{table}#{}#{}", entry.index, entry.partition), sk));
        }
        Ok(slots)
    }

    /// The full item of a put.
    fn item(
        &self,
        table: &str,
        key: &str,
        doc: &Document,
        slots: &SlotValues,
        version: u64,
    ) -> Attrs {
        let mut item = Self::key_attrs(table, key);
        item.insert(TBL.to_owned(), s(table));
        item.insert(DOC.to_owned(), s(doc.json.clone()));
        item.insert(VER.to_owned(), n(&version.to_string()));
        if let Some(at) = doc.expires_at {
            item.insert(EXP.to_owned(), n(&instant_number(at)));
            item.insert(TTL.to_owned(), n(&ttl_seconds(at).to_string()));
        }
        for (i, values) in slots.iter().enumerate() {
            if let Some((gpk, gsk)) = values {
                let slot = i as u8 + 1;
                item.insert(gpk_attr(slot), s(gpk.clone()));
                item.insert(gsk_attr(slot), s(gsk.clone()));
            }
        }
        item
    }

    fn corrupt(
        &self,
        table: &str,
        key: &str,
        operation: &'static str,
        what: &str,
    ) -> DocumentError {
        backend(
            table,
            operation,
            self.context(table, key),
            format!("the stored item {what}"),
        )
    }

    /// The version and expiry of a stored item.
    fn decode_meta(
        &self,
        table: &str,
        key: &str,
        operation: &'static str,
        item: &Attrs,
    ) -> Result<(u64, Option<DateTime<Utc>>), DocumentError> {
        let corrupt = |what: &str| self.corrupt(table, key, operation, what);
        let version = match item.get(VER) {
            Some(AttributeValue::N(v)) => {
                v.parse().map_err(|_| corrupt("has a malformed `ver`"))?
            }
            _ => return Err(corrupt("has no number `ver` attribute")),
        };
        let expires_at = match item.get(EXP) {
            None => None,
            Some(AttributeValue::N(at)) => {
                Some(parse_instant(at).ok_or_else(|| corrupt("has a malformed `exp_ms`"))?)
            }
            Some(_) => return Err(corrupt("has a non-number `exp_ms`")),
        };
        Ok((version, expires_at))
    }

    fn decode(
        &self,
        table: &str,
        key: &str,
        operation: &'static str,
        item: &Attrs,
    ) -> Result<Stored, DocumentError> {
        let doc = match item.get(DOC) {
            Some(AttributeValue::S(doc)) => doc.clone(),
            _ => {
                return Err(self.corrupt(table, key, operation, "has no string `doc` attribute"));
            }
        };
        let (version, expires_at) = self.decode_meta(table, key, operation, item)?;
        Ok(Stored {
            doc,
            version,
            expires_at,
        })
    }

    /// The live version in an old item returned by a failed condition (`None` = absent or
    /// expired); reads the item when the service did not return it.
    async fn actual_version(
        &self,
        table: &str,
        key: &str,
        operation: &'static str,
        old: Option<Attrs>,
    ) -> Result<Option<u64>, DocumentError> {
        let now = self.clock.now();
        let stored = match old {
            Some(item) => Some(self.decode(table, key, operation, &item)?),
            None => self.read(table, key).await?,
        };
        Ok(stored.filter(|s| s.live(now)).map(|s| s.version))
    }

    async fn conflict(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
        operation: &'static str,
        old: Option<Attrs>,
    ) -> DocumentError {
        match self.actual_version(table, key, operation, old).await {
            Ok(actual) => DocumentError::Conflict {
                table: table.to_owned(),
                key: key.to_owned(),
                expected,
                actual,
            },
            Err(err) => err,
        }
    }

    /// A consistent read of the stored item, expired or not.
    async fn read(&self, table: &str, key: &str) -> Result<Option<Stored>, DocumentError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure(table, "GetItem", self.context(table, key), &e))?;
        let item = out.item;
        self.metrics
            .add_units(read_units(item.as_ref().map_or(0, item_size)), 0.0);
        if let Some(item) = &item {
            self.remember_index_keys(item);
        }
        item.map(|item| self.decode(table, key, "GetItem", &item))
            .transpose()
    }

    /// A `PutItem` of `item` on the condition of `expected` (`Absent` or `Version`).
    async fn put_item(
        &self,
        table: &str,
        key: &str,
        item: Attrs,
        expected: Expect,
        now: &str,
    ) -> Result<(), WriteFail> {
        let (units, written) = self.write_units_of(&item);
        let mut expr = Expr::default();
        let condition = expr.expect(expected, now);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => {
                self.metrics.add_units(0.0, units);
                if let Some((item_pk, keys)) = written {
                    self.remember(item_pk, keys);
                }
                Ok(())
            }
            Err(err) => {
                self.metrics.add_units(0.0, write_units(0));
                if let Some(PutItemError::ConditionalCheckFailedException(e)) =
                    err.as_service_error()
                {
                    Err(WriteFail::Condition(e.item().cloned()))
                } else {
                    Err(WriteFail::Other(sdk_failure(
                        table,
                        "PutItem",
                        self.context(table, key),
                        &err,
                    )))
                }
            }
        }
    }

    /// The `Expect::Any` put: an `UpdateItem` continuing the version of an absent or live
    /// item; `Condition` when the item is stored expired.
    async fn update_any(
        &self,
        table: &str,
        key: &str,
        doc: &Document,
        slots: &SlotValues,
        now: &str,
    ) -> Result<u64, WriteFail> {
        let mut expr = Expr::default();
        let condition = expr.absent_or_live(now);
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let tbl = expr.n(TBL);
        set.push(format!("{tbl} = {}", expr.v("tbl", s(table))));
        let doc_name = expr.n(DOC);
        set.push(format!(
            "{doc_name} = {}",
            expr.v("doc", s(doc.json.clone()))
        ));
        let ver = expr.n(VER);
        let zero = expr.v("zero", n("0"));
        let one = expr.v("one", n("1"));
        set.push(format!("{ver} = if_not_exists({ver}, {zero}) + {one}"));
        let (exp, ttl) = (expr.n(EXP), expr.n(TTL));
        match doc.expires_at {
            Some(at) => {
                set.push(format!("{exp} = {}", expr.v("exp", n(&instant_number(at)))));
                set.push(format!(
                    "{ttl} = {}",
                    expr.v("ttl", n(&ttl_seconds(at).to_string()))
                ));
            }
            None => remove.extend([exp, ttl]),
        }
        for (i, values) in slots.iter().enumerate() {
            let slot = i as u8 + 1;
            let (gpk, gsk) = (expr.n(&gpk_attr(slot)), expr.n(&gsk_attr(slot)));
            match values {
                Some((pv, sv)) => {
                    set.push(format!(
                        "{gpk} = {}",
                        expr.v(&format!("g{slot}pk"), s(pv.clone()))
                    ));
                    set.push(format!(
                        "{gsk} = {}",
                        expr.v(&format!("g{slot}sk"), s(sv.clone()))
                    ));
                }
                None => remove.extend([gpk, gsk]),
            }
        }
        let mut update = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            update.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table, key)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let (units, written) = self.write_units_of(&item);
                self.metrics.add_units(0.0, units);
                if let Some((item_pk, keys)) = written {
                    self.remember(item_pk, keys);
                }
                let stored = self.decode(table, key, "UpdateItem", &item)?;
                Ok(stored.version)
            }
            Err(err) => {
                self.metrics.add_units(0.0, write_units(0));
                if let Some(UpdateItemError::ConditionalCheckFailedException(_)) =
                    err.as_service_error()
                {
                    Err(WriteFail::Condition(None))
                } else {
                    Err(WriteFail::Other(sdk_failure(
                        table,
                        "UpdateItem",
                        self.context(table, key),
                        &err,
                    )))
                }
            }
        }
    }

    /// Current live versions of items (consistent reads), for transactions with `Any` puts.
    async fn live_versions(
        &self,
        targets: &[(&str, &str)],
    ) -> Result<HashMap<String, Option<u64>>, DocumentError> {
        let now = self.clock.now();
        let mut found: HashMap<String, Option<u64>> =
            targets.iter().map(|(t, k)| (pk(t, k), None)).collect();
        let first_table = targets.first().map_or("", |(t, _)| *t);
        let keys = targets.iter().map(|(t, k)| Self::key_attrs(t, k)).collect();
        for item in self.batch_get(first_table, keys, true).await? {
            let Some(AttributeValue::S(item_pk)) = item.get(PK) else {
                continue;
            };
            let (table, key) = item_pk.split_once('#').unwrap_or((item_pk, ""));
            let (version, expires_at) = self.decode_meta(table, key, "BatchGetItem", &item)?;
            let live = expires_at.is_none_or(|at| at > now);
            found.insert(item_pk.clone(), live.then_some(version));
        }
        Ok(found)
    }

    /// Consistent `BatchGetItem`s of `keys` (100 at a time, unprocessed keys retried with a
    /// backoff); `meta_only` reads only the key, version and expiry. Missing items are
    /// absent from the result, which is in no particular order.
    async fn batch_get(
        &self,
        table: &str,
        keys: Vec<Attrs>,
        meta_only: bool,
    ) -> Result<Vec<Attrs>, DocumentError> {
        let mut pending = keys;
        let mut found = Vec::new();
        let mut attempts = 0;
        while !pending.is_empty() {
            attempts += 1;
            if attempts > MAX_ATTEMPTS {
                return Err(backend(
                    table,
                    "BatchGetItem",
                    format!("reading items of DynamoDB table `{}`", self.table),
                    "keys stayed unprocessed (throttled)",
                ));
            }
            let batch: Vec<Attrs> = pending.drain(..pending.len().min(100)).collect();
            let mut expr = Expr::default();
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(batch))
                .consistent_read(true);
            if meta_only {
                let projection = [expr.n(PK), expr.n(VER), expr.n(EXP)].join(", ");
                request = request
                    .projection_expression(projection)
                    .set_expression_attribute_names(expr.names());
            }
            let request = request.build().map_err(|e| {
                backend(table, "BatchGetItem", format!("table `{}`", self.table), e)
            })?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| {
                    sdk_failure(
                        table,
                        "BatchGetItem",
                        format!("reading items of DynamoDB table `{}`", self.table),
                        &e,
                    )
                })?;
            let items = out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default();
            for item in items {
                self.metrics.add_units(read_units(item_size(&item)), 0.0);
                if !meta_only {
                    self.remember_index_keys(&item);
                }
                found.push(item);
            }
            if let Some(unprocessed) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table))
            {
                pending.extend(unprocessed.keys);
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempts))).await;
            }
        }
        Ok(found)
    }

    /// One attempt of a transaction. `Ok(None)`: only conditions derived from `Any` puts
    /// failed; try again.
    async fn transact_once(
        &self,
        ops: &[WriteOp],
        slots: &[Option<SlotValues>],
    ) -> Result<Option<Vec<Option<u64>>>, DocumentError> {
        let any_targets: Vec<(&str, &str)> = ops
            .iter()
            .filter(|op| {
                matches!(
                    op,
                    WriteOp::Put {
                        expected: Expect::Any,
                        ..
                    }
                )
            })
            .map(WriteOp::target)
            .collect();
        let current = if any_targets.is_empty() {
            HashMap::new()
        } else {
            self.live_versions(&any_targets).await?
        };
        let now = instant_number(self.clock.now());
        let mut items = Vec::new();
        // For each sent item: the index of its operation and the condition it carries.
        let mut sent: Vec<(usize, Expect)> = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        let mut write_units_total = 0.0;
        let mut written_keys = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let (table, key) = op.target();
            let build_failed = |e: aws_sdk_dynamodb::error::BuildError| {
                backend(table, "TransactWriteItems", self.context(table, key), e)
            };
            let mut expr = Expr::default();
            match op {
                WriteOp::Put { doc, expected, .. } => {
                    let effective = match expected {
                        Expect::Any => match current.get(&pk(table, key)).copied().flatten() {
                            Some(v) => Expect::Version(v),
                            None => Expect::Absent,
                        },
                        other => *other,
                    };
                    let version = match effective {
                        Expect::Version(v) => v.checked_add(1).ok_or_else(|| {
                            invalid(table, format!("item `{key}`: version overflow"))
                        })?,
                        _ => 1,
                    };
                    let slots = slots.get(i).cloned().flatten().unwrap_or_default();
                    let item = self.item(table, key, doc, &slots, version);
                    let (units, written) = self.write_units_of(&item);
                    write_units_total += 2.0 * units;
                    written_keys.extend(written);
                    let condition = expr.expect(effective, &now);
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_failed)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                    sent.push((i, *expected));
                    results.push(Some(version));
                }
                WriteOp::Delete { expected, .. } => {
                    write_units_total += 2.0 * write_units(pk(table, key).len());
                    let condition = expr.expect(*expected, &now);
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key_attrs(table, key)))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_failed)?;
                    items.push(TransactWriteItem::builder().delete(delete).build());
                    sent.push((i, *expected));
                    results.push(None);
                }
                WriteOp::Check { expected, .. } => {
                    results.push(None);
                    let Some(condition) = expr.expect(*expected, &now) else {
                        continue;
                    };
                    write_units_total += 2.0 * write_units(pk(table, key).len());
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key_attrs(table, key)))
                        .condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_failed)?;
                    items.push(TransactWriteItem::builder().condition_check(check).build());
                    sent.push((i, *expected));
                }
            }
        }
        if items.is_empty() {
            return Ok(Some(results));
        }
        let first_table = ops.first().map_or("", |op| op.target().0);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                self.metrics.add_units(0.0, write_units_total);
                for (item_pk, keys) in written_keys {
                    self.remember(item_pk, keys);
                }
                return Ok(Some(results));
            }
            Err(err) => err,
        };
        self.metrics.add_units(0.0, 2.0 * write_units(0));
        let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
            err.as_service_error()
        else {
            return Err(sdk_failure(
                first_table,
                "TransactWriteItems",
                format!(
                    "a transaction of {} operations in DynamoDB table `{}`",
                    ops.len(),
                    self.table
                ),
                &err,
            ));
        };
        let mut retry = false;
        for (reason, (i, expected)) in cancel.cancellation_reasons().iter().zip(&sent) {
            match reason.code() {
                None | Some("None") => {}
                Some("ConditionalCheckFailed") if *expected == Expect::Any => retry = true,
                Some("ConditionalCheckFailed") => {
                    let (table, key) = ops[*i].target();
                    return Err(self
                        .conflict(
                            table,
                            key,
                            *expected,
                            "TransactWriteItems",
                            reason.item().cloned(),
                        )
                        .await);
                }
                // Another transaction or write was in flight on the item: try again.
                Some("TransactionConflict")
                | Some("ThrottlingError")
                | Some("ProvisionedThroughputExceeded") => retry = true,
                Some(code) => {
                    let (table, key) = ops[*i].target();
                    return Err(backend(
                        table,
                        "TransactWriteItems",
                        self.context(table, key),
                        format!(
                            "the transaction was cancelled: {code}: {}",
                            reason.message().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        if retry {
            Ok(None)
        } else {
            Err(sdk_failure(
                first_table,
                "TransactWriteItems",
                format!("a transaction in DynamoDB table `{}`", self.table),
                &err,
            ))
        }
    }

    /// Deletes expired item `pk_value` if it is still expired; whether it was deleted.
    async fn sweep_one(&self, pk_value: String, now: &str) -> Result<bool, DocumentError> {
        let (table, key) = pk_value.split_once('#').unwrap_or((&pk_value, ""));
        let mut expr = Expr::default();
        let exp = expr.n(EXP);
        let now_value = expr.v("now", n(now));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk_value.clone()))
            .condition_expression(format!("{exp} <= {now_value}"))
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        self.metrics.add_units(0.0, write_units(pk_value.len()));
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_failure(
                    table,
                    "DeleteItem",
                    self.context(table, key),
                    &err,
                )),
            },
        }
    }
}

/// How a [`RangeCond`] reads the composite sort key `g{n}sk`.
enum KeyRange {
    /// No condition on the sort key.
    All,
    /// Nothing can match: no request.
    Empty,
    /// A key condition.
    Cond(RangeExpr),
}

/// A key condition on `g{n}sk`, with its operand(s).
enum RangeExpr {
    /// `begins_with(sk, p)`.
    BeginsWith(String),
    /// `sk >= b`.
    Gte(String),
    /// `sk < b`.
    Lt(String),
    /// `sk BETWEEN lo AND hi`.
    Between(String, String),
}

/// The key condition of `range` (see the table in the [module docs](self)).
fn key_range(range: &RangeCond) -> KeyRange {
    let after = |b: &str| format!("{b}{AFTER}");
    match range {
        RangeCond::All => KeyRange::All,
        RangeCond::Eq(v) if v.is_empty() => KeyRange::Empty,
        RangeCond::Eq(v) => KeyRange::Cond(RangeExpr::BeginsWith(format!("{v}{SEP}"))),
        RangeCond::Prefix(p) if p.is_empty() => KeyRange::All,
        RangeCond::Prefix(p) => KeyRange::Cond(RangeExpr::BeginsWith(p.clone())),
        RangeCond::Gte(b) if b.is_empty() => KeyRange::All,
        RangeCond::Gte(b) => KeyRange::Cond(RangeExpr::Gte(b.clone())),
        RangeCond::Gt(b) => KeyRange::Cond(RangeExpr::Gte(after(b))),
        RangeCond::Lt(b) if b.is_empty() => KeyRange::Empty,
        RangeCond::Lt(b) => KeyRange::Cond(RangeExpr::Lt(b.clone())),
        RangeCond::Lte(b) if b.is_empty() => KeyRange::Empty,
        RangeCond::Lte(b) => KeyRange::Cond(RangeExpr::Lt(after(b))),
        RangeCond::Between(lo, hi) if lo > hi || hi.is_empty() => KeyRange::Empty,
        RangeCond::Between(lo, hi) if lo.is_empty() => KeyRange::Cond(RangeExpr::Lt(after(hi))),
        RangeCond::Between(lo, hi) => KeyRange::Cond(RangeExpr::Between(lo.clone(), after(hi))),
    }
}

fn range_bounds(range: &RangeCond) -> Vec<&str> {
    match range {
        RangeCond::All => vec![],
        RangeCond::Eq(v)
        | RangeCond::Prefix(v)
        | RangeCond::Gte(v)
        | RangeCond::Gt(v)
        | RangeCond::Lte(v)
        | RangeCond::Lt(v) => vec![v],
        RangeCond::Between(lo, hi) => vec![lo, hi],
    }
}

#[async_trait]
impl DocumentStore for DynamoDocuments {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now = self.clock.now();
        Ok(self
            .read(table, key)
            .await?
            .filter(|stored| stored.live(now))
            .map(|stored| Versioned {
                value: stored.doc,
                version: stored.version,
                expires_at: stored.expires_at,
            }))
    }

    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        doc.validate(table, key)?;
        let slots = self.slot_values(table, key, &doc)?;
        let operation = match expected {
            Expect::Any => "UpdateItem",
            _ => "PutItem",
        };
        for _attempt in 0..MAX_ATTEMPTS {
            let now = instant_number(self.clock.now());
            let (version, condition) = match expected {
                Expect::Absent => (1, Expect::Absent),
                Expect::Version(v) => (
                    v.checked_add(1)
                        .ok_or_else(|| invalid(table, format!("item `{key}`: version overflow")))?,
                    expected,
                ),
                Expect::Any => match self.update_any(table, key, &doc, &slots, &now).await {
                    Ok(version) => return Ok(version),
                    Err(WriteFail::Other(err)) => return Err(err),
                    // Stored but expired: recreate it at version 1.
                    Err(WriteFail::Condition(_)) => (1, Expect::Absent),
                },
            };
            let item = self.item(table, key, &doc, &slots, version);
            match self.put_item(table, key, item, condition, &now).await {
                Ok(()) => return Ok(version),
                Err(WriteFail::Other(err)) => return Err(err),
                // Revived meanwhile: continue its version.
                Err(WriteFail::Condition(_)) if expected == Expect::Any => continue,
                Err(WriteFail::Condition(old)) => {
                    return Err(self.conflict(table, key, expected, operation, old).await);
                }
            }
        }
        Err(backend(
            table,
            operation,
            self.context(table, key),
            format!("gave up after {MAX_ATTEMPTS} attempts racing with other writers"),
        ))
    }

    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now_instant = self.clock.now();
        let now = instant_number(now_instant);
        let mut expr = Expr::default();
        let condition = expr.expect(expected, &now);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table, key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let old = out.attributes;
                self.metrics.add_units(
                    0.0,
                    write_units(old.as_ref().map_or(pk(table, key).len(), item_size)),
                );
                match old {
                    None => Ok(false),
                    Some(item) => Ok(self
                        .decode(table, key, "DeleteItem", &item)?
                        .live(now_instant)),
                }
            }
            Err(err) => {
                self.metrics.add_units(0.0, write_units(0));
                if let Some(DeleteItemError::ConditionalCheckFailedException(e)) =
                    err.as_service_error()
                {
                    Err(self
                        .conflict(table, key, expected, "DeleteItem", e.item().cloned())
                        .await)
                } else {
                    Err(sdk_failure(
                        table,
                        "DeleteItem",
                        self.context(table, key),
                        &err,
                    ))
                }
            }
        }
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        validate_transaction(&ops)?;
        let mut slots = Vec::with_capacity(ops.len());
        for op in &ops {
            slots.push(match op {
                WriteOp::Put {
                    table, key, doc, ..
                } => Some(self.slot_values(table, key, doc)?),
                _ => None,
            });
        }
        // DynamoDB's own limit counts attribute names and the composite keys too.
        let bytes: usize = ops
            .iter()
            .zip(&slots)
            .map(|(op, slots)| match (op, slots) {
                (
                    WriteOp::Put {
                        table, key, doc, ..
                    },
                    Some(slots),
                ) => item_size(&self.item(table, key, doc, slots, u64::MAX)),
                _ => PK.len() + pk(op.target().0, op.target().1).len(),
            })
            .sum();
        if bytes > DYNAMO_TRANSACTION_BYTES {
            let first_table = ops.first().map_or("", |op| op.target().0);
            return Err(invalid(
                first_table,
                format!(
                    "the transaction is {bytes} bytes as DynamoDB items, over DynamoDB's \
                     {DYNAMO_TRANSACTION_BYTES}-byte limit"
                ),
            ));
        }
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(results) = self.transact_once(&ops, &slots).await? {
                return Ok(results);
            }
            tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1))).await;
        }
        let first_table = ops.first().map_or("", |op| op.target().0);
        Err(backend(
            first_table,
            "TransactWriteItems",
            format!("a transaction in DynamoDB table `{}`", self.table),
            format!("gave up after {MAX_ATTEMPTS} attempts racing with other writers"),
        ))
    }

    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        query.validate()?;
        let table = query.table.as_str();
        for bound in range_bounds(&query.range) {
            check_sort_chars(table, "a query bound", bound)?;
            if bound.len() >= MAX_KEY_BYTES {
                return Err(invalid(
                    table,
                    format!("query bounds are at most {} bytes", MAX_KEY_BYTES - 1),
                ));
            }
        }
        let slot = self.slots.checked_slot(table, &query.index)?;
        let (gpk_name, gsk_name) = (gpk_attr(slot), gsk_attr(slot));
        let gpk_value = format!("{table}#{}#{}", query.index, query.partition);
        let mut start = match &query.cursor {
            None => None,
            Some(cursor) => {
                let (sort, key) = cursor.position().ok_or_else(|| query.bad_cursor())?;
                let sk = format!("{sort}{SEP}{key}");
                if key.is_empty() || sk.len() > MAX_KEY_BYTES {
                    return Err(query.bad_cursor());
                }
                Some(HashMap::from([
                    (PK.to_owned(), s(pk(table, key))),
                    (gpk_name.clone(), s(gpk_value.clone())),
                    (gsk_name.clone(), s(sk)),
                ]))
            }
        };
        let range = match key_range(&query.range) {
            KeyRange::Empty => return Ok(Page::default()),
            KeyRange::All => None,
            KeyRange::Cond(range) => Some(range),
        };
        let now = self.clock.now();
        let table_prefix = format!("{table}#");
        let mut items: Vec<QueryItem> = Vec::new();
        loop {
            let mut expr = Expr::default();
            let gpk = expr.n(&gpk_name);
            let partition = expr.v("partition", s(gpk_value.clone()));
            let mut key_condition = format!("{gpk} = {partition}");
            if let Some(range) = &range {
                let gsk = expr.n(&gsk_name);
                let cond = match range {
                    RangeExpr::BeginsWith(p) => {
                        format!("begins_with({gsk}, {})", expr.v("prefix", s(p.clone())))
                    }
                    RangeExpr::Gte(b) => format!("{gsk} >= {}", expr.v("low", s(b.clone()))),
                    RangeExpr::Lt(b) => format!("{gsk} < {}", expr.v("high", s(b.clone()))),
                    RangeExpr::Between(lo, hi) => format!(
                        "{gsk} BETWEEN {} AND {}",
                        expr.v("low", s(lo.clone())),
                        expr.v("high", s(hi.clone()))
                    ),
                };
                key_condition.push_str(" AND ");
                key_condition.push_str(&cond);
            }
            // The page plus one look-ahead item.
            let wanted = query.limit + 1 - items.len();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(gsi_name(slot))
                .key_condition_expression(key_condition)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .scan_index_forward(!query.descending)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    sdk_failure(
                        table,
                        "Query",
                        format!(
                            "index `{}` partition `{}` in DynamoDB table `{}`",
                            query.index, query.partition, self.table
                        ),
                        &e,
                    )
                })?;
            let page_items = out.items.unwrap_or_default();
            self.metrics
                .add_units(read_units(page_items.iter().map(item_size).sum()), 0.0);
            // The GSIs project keys only: the index gives the order, a consistent
            // BatchGetItem the documents.
            let mut hits: Vec<(String, String, String)> = Vec::new();
            for item in &page_items {
                let (Some(AttributeValue::S(item_pk)), Some(AttributeValue::S(sk))) =
                    (item.get(PK), item.get(&gsk_name))
                else {
                    continue;
                };
                let Some(key) = item_pk.strip_prefix(&table_prefix) else {
                    continue;
                };
                let Some(sort) = sk.strip_suffix(key).and_then(|rest| rest.strip_suffix(SEP))
                else {
                    continue;
                };
                if !query.range.matches(sort) {
                    continue;
                }
                hits.push((key.to_owned(), sort.to_owned(), sk.clone()));
            }
            let keys = hits
                .iter()
                .map(|(k, _, _)| Self::key_attrs(table, k))
                .collect();
            let mut full: HashMap<String, Attrs> = self
                .batch_get(table, keys, false)
                .await?
                .into_iter()
                .filter_map(|item| match item.get(PK) {
                    Some(AttributeValue::S(p)) => Some((p.clone(), item)),
                    _ => None,
                })
                .collect();
            for (key, sort, sk) in hits {
                let Some(item) = full.remove(&pk(table, &key)) else {
                    continue; // deleted since the index was read
                };
                if item.get(&gsk_name) != Some(&AttributeValue::S(sk)) {
                    continue; // moved in the index since it was read
                }
                let stored = self.decode(table, &key, "Query", &item)?;
                if !stored.live(now) {
                    continue;
                }
                items.push(QueryItem {
                    key,
                    sort,
                    doc: Versioned {
                        value: stored.doc,
                        version: stored.version,
                        expires_at: stored.expires_at,
                    },
                });
                if items.len() > query.limit {
                    break;
                }
            }
            if items.len() > query.limit {
                items.truncate(query.limit);
                let next = items
                    .last()
                    .map(|last| Cursor::after(&last.sort, &last.key));
                return Ok(Page { items, next });
            }
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(Page { items, next: None }),
            }
        }
    }

    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        let now = instant_number(self.clock.now());
        let mut start: Option<Attrs> = None;
        let mut swept = 0;
        loop {
            let mut expr = Expr::default();
            let (pk_name, exp) = (expr.n(PK), expr.n(EXP));
            let now_value = expr.v("now", n(&now));
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(format!("attribute_exists({exp}) AND {exp} <= {now_value}"))
                .projection_expression(format!("{pk_name}, {exp}"))
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    sdk_failure(
                        &self.table,
                        "Scan",
                        format!("sweeping expired items of DynamoDB table `{}`", self.table),
                        &e,
                    )
                })?;
            let found = out.items.unwrap_or_default();
            self.metrics
                .add_units(read_units(found.iter().map(item_size).sum()), 0.0);
            let pks: Vec<String> = found
                .into_iter()
                .filter_map(|mut item| match item.remove(PK) {
                    Some(AttributeValue::S(pk)) => Some(pk),
                    _ => None,
                })
                .collect();
            let mut deletes = futures::stream::iter(pks)
                .map(|pk_value| self.sweep_one(pk_value, &now))
                .buffer_unordered(8);
            while let Some(deleted) = deletes.next().await {
                if deleted? {
                    swept += 1;
                }
            }
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(swept),
            }
        }
    }
}

/// How long [`create_table`] and [`delete_table`] wait for DynamoDB.
const TABLE_WAIT: Duration = Duration::from_secs(600);

/// Creates the documents table `full_name` from `def` (on-demand billing, the GSIs with
/// keys only projected, TTL on `def.ttl_attribute`) and waits until it is ACTIVE.
/// Idempotent: an existing table is waited for and checked for the GSIs, and its TTL is
/// enabled if it is not yet.
pub async fn create_table(
    clients: &Clients,
    def: &TableDef,
    full_name: &str,
) -> Result<(), DocumentError> {
    let db = &clients.dynamodb;
    let failed = |operation: &'static str, detail: String| {
        backend(
            full_name,
            operation,
            format!("DynamoDB table `{full_name}`"),
            detail,
        )
    };
    let build = |operation: &'static str| {
        move |e: aws_sdk_dynamodb::error::BuildError| {
            backend(
                full_name,
                operation,
                format!("DynamoDB table `{full_name}`"),
                e,
            )
        }
    };
    let mut attributes: Vec<&str> = vec![&def.hash_key];
    for index in &def.indexes {
        for attr in [&index.hash_key, &index.range_key] {
            if !attributes.contains(&attr.as_str()) {
                attributes.push(attr);
            }
        }
    }
    let mut request = db
        .create_table()
        .table_name(full_name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(&def.hash_key)
                .key_type(KeyType::Hash)
                .build()
                .map_err(build("CreateTable"))?,
        );
    for attr in attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build("CreateTable"))?,
        );
    }
    for index in &def.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(&index.hash_key)
                        .key_type(KeyType::Hash)
                        .build()
                        .map_err(build("CreateTable"))?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(&index.range_key)
                        .key_type(KeyType::Range)
                        .build()
                        .map_err(build("CreateTable"))?,
                )
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(crate::resources::INDEX_PROJECTION))
                        .build(),
                )
                .build()
                .map_err(build("CreateTable"))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err) => match err.as_service_error() {
            Some(CreateTableError::ResourceInUseException(_)) => {}
            _ => {
                return Err(sdk_failure(
                    full_name,
                    "CreateTable",
                    format!("DynamoDB table `{full_name}`"),
                    &err,
                ));
            }
        },
    }

    // Wait until the table and its indexes are ACTIVE.
    let deadline = tokio::time::Instant::now() + TABLE_WAIT;
    let mut delay = Duration::from_millis(100);
    loop {
        let out = db
            .describe_table()
            .table_name(full_name)
            .send()
            .await
            .map_err(|e| {
                sdk_failure(
                    full_name,
                    "DescribeTable",
                    format!("DynamoDB table `{full_name}`"),
                    &e,
                )
            })?;
        let Some(table) = out.table else {
            return Err(failed(
                "DescribeTable",
                "no table description returned".into(),
            ));
        };
        let missing: Vec<&str> = def
            .indexes
            .iter()
            .map(|i| i.name.as_str())
            .filter(|name| {
                !table
                    .global_secondary_indexes()
                    .iter()
                    .any(|g| g.index_name() == Some(*name))
            })
            .collect();
        if !missing.is_empty() {
            return Err(failed(
                "DescribeTable",
                format!(
                    "the existing table lacks the global secondary indexes {}; delete it \
                     (`kite infra down`) or add them",
                    missing.join(", ")
                ),
            ));
        }
        let indexes_active = table
            .global_secondary_indexes()
            .iter()
            .all(|g| g.index_status().is_none_or(|s| *s == IndexStatus::Active));
        if table.table_status() == Some(&TableStatus::Active) && indexes_active {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(
                "DescribeTable",
                format!("not ACTIVE after {} s", TABLE_WAIT.as_secs()),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }

    // TTL on the expiry attribute.
    let ttl = db
        .describe_time_to_live()
        .table_name(full_name)
        .send()
        .await
        .map_err(|e| {
            sdk_failure(
                full_name,
                "DescribeTimeToLive",
                format!("DynamoDB table `{full_name}`"),
                &e,
            )
        })?;
    let description = ttl.time_to_live_description;
    let status = description.as_ref().and_then(|d| d.time_to_live_status());
    let attribute = description.as_ref().and_then(|d| d.attribute_name());
    match status {
        Some(TimeToLiveStatus::Enabled) | Some(TimeToLiveStatus::Enabling) => {
            if attribute != Some(def.ttl_attribute.as_str()) {
                return Err(failed(
                    "DescribeTimeToLive",
                    format!(
                        "TTL is enabled on attribute `{}` instead of `{}`; disable it on the \
                         table first",
                        attribute.unwrap_or_default(),
                        def.ttl_attribute
                    ),
                ));
            }
        }
        _ => {
            db.update_time_to_live()
                .table_name(full_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(&def.ttl_attribute)
                        .build()
                        .map_err(build("UpdateTimeToLive"))?,
                )
                .send()
                .await
                .map_err(|e| {
                    sdk_failure(
                        full_name,
                        "UpdateTimeToLive",
                        format!("DynamoDB table `{full_name}`"),
                        &e,
                    )
                })?;
        }
    }
    Ok(())
}

/// Deletes the table `full_name` and waits until it is gone; a missing table is fine.
pub async fn delete_table(clients: &Clients, full_name: &str) -> Result<(), DocumentError> {
    let db = &clients.dynamodb;
    match db.delete_table().table_name(full_name).send().await {
        Ok(_) => {}
        Err(err) => match err.as_service_error() {
            Some(DeleteTableError::ResourceNotFoundException(_)) => return Ok(()),
            _ => {
                return Err(sdk_failure(
                    full_name,
                    "DeleteTable",
                    format!("DynamoDB table `{full_name}`"),
                    &err,
                ));
            }
        },
    }
    let deadline = tokio::time::Instant::now() + TABLE_WAIT;
    let mut delay = Duration::from_millis(100);
    loop {
        match db.describe_table().table_name(full_name).send().await {
            Ok(_) => {}
            Err(err) => match err.as_service_error() {
                Some(DescribeTableError::ResourceNotFoundException(_)) => return Ok(()),
                _ => {
                    return Err(sdk_failure(
                        full_name,
                        "DescribeTable",
                        format!("DynamoDB table `{full_name}`"),
                        &err,
                    ));
                }
            },
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(backend(
                full_name,
                "DeleteTable",
                format!("DynamoDB table `{full_name}`"),
                format!("still there after {} s", TABLE_WAIT.as_secs()),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_as_numbers() {
        for (secs, nanos, text) in [
            (1_704_067_200, 0, "1704067200000"),
            (1_704_067_200, 500_000_000, "1704067200500"),
            (1_704_067_200, 1_500, "1704067200000.0015"),
            (0, 0, "0"),
            (-1, 999_000_000, "-1"),
            (-1, 999_999_000, "-0.001"),
        ] {
            let at = DateTime::from_timestamp(secs, nanos).unwrap_or_default();
            assert_eq!(instant_number(at), text);
            assert_eq!(parse_instant(text), Some(at), "{text}");
        }
        assert_eq!(parse_instant("1.5e3"), None);
        assert_eq!(parse_instant("12.3000"), parse_instant("12.3"));
    }

    #[test]
    fn ttl_rounds_up() {
        let at = DateTime::from_timestamp(10, 1).unwrap_or_default();
        assert_eq!(ttl_seconds(at), 11);
        let at = DateTime::from_timestamp(10, 0).unwrap_or_default();
        assert_eq!(ttl_seconds(at), 10);
    }

    #[test]
    fn default_slots_separate_indexes_used_together() {
        let slots = IndexSlots::default();
        assert_ne!(slots.slot("flow"), slots.slot("namespace"));
        assert_ne!(slots.slot("by_flow"), slots.slot("by_state"));
        let triggers = ["namespace", "trigger_due", "trigger_listen"].map(|i| slots.slot(i));
        assert!(
            triggers[0] != triggers[1] && triggers[1] != triggers[2] && triggers[0] != triggers[2],
            "the triggers table's indexes share a slot: {triggers:?}"
        );
        assert_eq!(slots.slot("anything"), 1);
    }

    #[test]
    fn range_conditions_map_to_the_composite_key() {
        assert!(matches!(
            key_range(&RangeCond::Between("b".into(), "a".into())),
            KeyRange::Empty
        ));
        assert!(matches!(
            key_range(&RangeCond::Prefix(String::new())),
            KeyRange::All
        ));
        match key_range(&RangeCond::Gt("b".into())) {
            KeyRange::Cond(RangeExpr::Gte(b)) => assert_eq!(b, "b\u{2}"),
            _ => panic!("Gt maps to >= bound + U+0002"),
        }
    }
}
