//! The `DocumentStore` port: a versioned, DynamoDB-shaped document store.
//!
//! The engine's typed repositories (flows, executions, logs, KV, triggers,
//! concurrency slots) are built on this primitive, and each logical table
//! maps 1:1 to a DynamoDB table:
//!
//! * An item is a JSON document (opaque text here) under `(table, key)`, with
//!   a version that starts at 1 on creation and grows by one on every put.
//!   Deleting an item forgets it: re-creating it starts again at version 1,
//!   exactly like a version attribute stored in a DynamoDB item.
//! * Every write takes an [`Expect`] condition (`Any`, `Absent`,
//!   `Version(n)`); a failed condition is [`DocumentError::Conflict`] naming
//!   the table, key, expectation and actual version. This is how races are
//!   settled: read, compute, write with `Expect::Version(read_version)`, and
//!   retry on conflict.
//! * [`DocumentStore::transact`] applies up to [`MAX_TRANSACTION_OPS`] puts,
//!   deletes and condition checks all-or-nothing (TransactWriteItems); an item
//!   may appear only once per transaction.
//! * Secondary indexes are explicit: each put lists its [`IndexEntry`]s
//!   (index name, partition value, sort value; at most one entry per index),
//!   replacing the previous ones. [`DocumentStore::query`] reads one index
//!   partition in sort order (byte order of UTF-8, like DynamoDB), filtered by
//!   a [`RangeCond`], paged with an opaque [`Cursor`]. Ties on the sort value
//!   are broken by item key. On DynamoDB, global secondary indexes are
//!   eventually consistent; the local implementations are immediate.
//! * TTL: an item whose `expires_at` is at or before the clock's now is
//!   *absent* for reads, conditions and queries (DynamoDB deletes expired
//!   items lazily, so the AWS implementation filters the same way);
//!   [`DocumentStore::sweep_expired`] deletes them for real.
//! * Limits: an item is at most [`MAX_ITEM_BYTES`] (see [`Document::size`]),
//!   a transaction at most [`MAX_TRANSACTION_BYTES`].

use std::collections::HashSet;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Largest item: key + document + index values, in bytes. DynamoDB allows
/// 400 KiB including attribute names; 400 000 leaves room for those.
pub const MAX_ITEM_BYTES: usize = 400_000;
/// Most operations in one transaction (DynamoDB: 100).
pub const MAX_TRANSACTION_OPS: usize = 100;
/// Largest transaction, summing its items (DynamoDB: 4 MB).
pub const MAX_TRANSACTION_BYTES: usize = 4_000_000;
/// Longest item key, partition or sort value, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most index entries per item (DynamoDB: 20 GSIs per table).
pub const MAX_INDEXES: usize = 20;
/// Largest page size of a query.
pub const MAX_QUERY_LIMIT: usize = 1000;

/// A stored value with its version and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value (for the store: the JSON document).
    pub value: T,
    /// Starts at 1, grows by one on every write.
    pub version: u64,
    /// When the item stops existing, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The condition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// No condition.
    Any,
    /// The item must not exist (or be expired).
    Absent,
    /// The item must exist with exactly this version.
    Version(u64),
}

impl Expect {
    /// Whether an item whose live version is `actual` satisfies the
    /// condition (`None` = absent or expired).
    pub fn matches(self, actual: Option<u64>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Absent => actual.is_none(),
            Expect::Version(version) => actual == Some(version),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Any => f.write_str("any version"),
            Expect::Absent => f.write_str("no item"),
            Expect::Version(version) => write!(f, "version {version}"),
        }
    }
}

/// One secondary-index entry of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexEntry {
    /// The index name.
    pub index: String,
    /// The partition (hash key) value, non-empty.
    pub partition: String,
    /// The sort (range key) value, non-empty.
    pub sort: String,
}

impl IndexEntry {
    /// An entry of `index` under `partition`, sorted by `sort`.
    pub fn new(
        index: impl Into<String>,
        partition: impl Into<String>,
        sort: impl Into<String>,
    ) -> Self {
        Self {
            index: index.into(),
            partition: partition.into(),
            sort: sort.into(),
        }
    }
}

/// What a put writes: the document, its index entries and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The JSON document (stored as given).
    pub json: String,
    /// Index entries, replacing the item's previous ones.
    pub indexes: Vec<IndexEntry>,
    /// TTL: the item is absent from this instant on.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Document {
    /// A document without indexes or expiry.
    pub fn new(json: impl Into<String>) -> Self {
        Self {
            json: json.into(),
            indexes: Vec::new(),
            expires_at: None,
        }
    }

    /// Adds an index entry.
    pub fn index(
        mut self,
        index: impl Into<String>,
        partition: impl Into<String>,
        sort: impl Into<String>,
    ) -> Self {
        self.indexes.push(IndexEntry::new(index, partition, sort));
        self
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The size counted against [`MAX_ITEM_BYTES`]: key, document and every
    /// index name, partition and sort value, in bytes.
    pub fn size(&self, key: &str) -> usize {
        key.len()
            + self.json.len()
            + self
                .indexes
                .iter()
                .map(|e| e.index.len() + e.partition.len() + e.sort.len())
                .sum::<usize>()
    }

    /// Checks the document for a put of `table`/`key`; returns its size.
    pub fn validate(&self, table: &str, key: &str) -> Result<usize, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let invalid = |reason: String| DocumentError::Invalid {
            table: table.to_owned(),
            reason,
        };
        if self.indexes.len() > MAX_INDEXES {
            return Err(invalid(format!(
                "item `{key}` has {} index entries, over the limit of {MAX_INDEXES}",
                self.indexes.len()
            )));
        }
        let mut seen = HashSet::new();
        for entry in &self.indexes {
            validate_index_name(table, &entry.index)?;
            if !seen.insert(entry.index.as_str()) {
                return Err(invalid(format!(
                    "item `{key}` has two entries for index `{}`",
                    entry.index
                )));
            }
            for (what, value) in [("partition", &entry.partition), ("sort", &entry.sort)] {
                if value.is_empty() || value.len() > MAX_KEY_BYTES {
                    return Err(invalid(format!(
                        "index `{}` of item `{key}`: the {what} value must be 1 to \
                         {MAX_KEY_BYTES} bytes",
                        entry.index
                    )));
                }
            }
        }
        let size = self.size(key);
        if size > MAX_ITEM_BYTES {
            return Err(DocumentError::TooLarge {
                table: table.to_owned(),
                key: key.to_owned(),
                size,
                limit: MAX_ITEM_BYTES,
            });
        }
        Ok(size)
    }
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// A conditional put.
    Put {
        /// The table.
        table: String,
        /// The item key.
        key: String,
        /// What to write.
        doc: Document,
        /// The condition.
        expected: Expect,
    },
    /// A conditional delete (a no-op on a missing item if the condition
    /// allows it).
    Delete {
        /// The table.
        table: String,
        /// The item key.
        key: String,
        /// The condition.
        expected: Expect,
    },
    /// A condition on an item that is not written (ConditionCheck).
    Check {
        /// The table.
        table: String,
        /// The item key.
        key: String,
        /// The condition.
        expected: Expect,
    },
}

impl WriteOp {
    /// A put.
    pub fn put(
        table: impl Into<String>,
        key: impl Into<String>,
        doc: Document,
        expected: Expect,
    ) -> Self {
        WriteOp::Put {
            table: table.into(),
            key: key.into(),
            doc,
            expected,
        }
    }

    /// A delete.
    pub fn delete(table: impl Into<String>, key: impl Into<String>, expected: Expect) -> Self {
        WriteOp::Delete {
            table: table.into(),
            key: key.into(),
            expected,
        }
    }

    /// A condition check.
    pub fn check(table: impl Into<String>, key: impl Into<String>, expected: Expect) -> Self {
        WriteOp::Check {
            table: table.into(),
            key: key.into(),
            expected,
        }
    }

    /// The table and key the operation is about.
    pub fn target(&self) -> (&str, &str) {
        match self {
            WriteOp::Put { table, key, .. }
            | WriteOp::Delete { table, key, .. }
            | WriteOp::Check { table, key, .. } => (table, key),
        }
    }

    /// The operation's condition.
    pub fn expected(&self) -> Expect {
        match self {
            WriteOp::Put { expected, .. }
            | WriteOp::Delete { expected, .. }
            | WriteOp::Check { expected, .. } => *expected,
        }
    }
}

/// A condition on the sort value of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeCond {
    /// Every sort value.
    All,
    /// Exactly this value.
    Eq(String),
    /// Values starting with this prefix (`begins_with`).
    Prefix(String),
    /// `low <= value <= high`.
    Between(String, String),
    /// `value >= bound`.
    Gte(String),
    /// `value > bound`.
    Gt(String),
    /// `value <= bound`.
    Lte(String),
    /// `value < bound`.
    Lt(String),
}

impl RangeCond {
    /// Whether `sort` satisfies the condition.
    pub fn matches(&self, sort: &str) -> bool {
        match self {
            RangeCond::All => true,
            RangeCond::Eq(value) => sort == value,
            RangeCond::Prefix(prefix) => sort.starts_with(prefix.as_str()),
            RangeCond::Between(low, high) => low.as_str() <= sort && sort <= high.as_str(),
            RangeCond::Gte(bound) => sort >= bound.as_str(),
            RangeCond::Gt(bound) => sort > bound.as_str(),
            RangeCond::Lte(bound) => sort <= bound.as_str(),
            RangeCond::Lt(bound) => sort < bound.as_str(),
        }
    }
}

/// Where the next page of a query starts. Opaque: pass back what
/// [`Page::next`] returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor obtained from a page.
    pub fn new(cursor: impl Into<String>) -> Self {
        Self(cursor.into())
    }

    /// The cursor as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor after the entry `(sort, key)`, as the local
    /// implementations build them.
    pub fn after(sort: &str, key: &str) -> Self {
        Self(format!("{}:{sort}{key}", sort.len()))
    }

    /// The `(sort, key)` inside a cursor built by [`Cursor::after`].
    pub fn position(&self) -> Option<(&str, &str)> {
        let (len, rest) = self.0.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let sort = rest.get(..len)?;
        let key = rest.get(len..)?;
        Some((sort, key))
    }
}

/// A query over one partition of one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The table.
    pub table: String,
    /// The index name.
    pub index: String,
    /// The partition value.
    pub partition: String,
    /// The condition on sort values.
    pub range: RangeCond,
    /// Page size, 1..=1000.
    pub limit: usize,
    /// Continue after this cursor.
    pub cursor: Option<Cursor>,
    /// Highest sort values first.
    pub descending: bool,
}

impl Query {
    /// Every entry of `partition` in `index`, ascending, 100 per page.
    pub fn new(
        table: impl Into<String>,
        index: impl Into<String>,
        partition: impl Into<String>,
    ) -> Self {
        Self {
            table: table.into(),
            index: index.into(),
            partition: partition.into(),
            range: RangeCond::All,
            limit: 100,
            cursor: None,
            descending: false,
        }
    }

    /// Sets the sort condition.
    pub fn range(mut self, range: RangeCond) -> Self {
        self.range = range;
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after `cursor`.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    /// Highest sort values first.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Checks names and limits.
    pub fn validate(&self) -> Result<(), DocumentError> {
        validate_table(&self.table)?;
        validate_index_name(&self.table, &self.index)?;
        let reason = if self.partition.is_empty() || self.partition.len() > MAX_KEY_BYTES {
            format!("the partition value must be 1 to {MAX_KEY_BYTES} bytes")
        } else if !(1..=MAX_QUERY_LIMIT).contains(&self.limit) {
            format!(
                "the page size must be 1 to {MAX_QUERY_LIMIT}, not {}",
                self.limit
            )
        } else {
            return Ok(());
        };
        Err(DocumentError::Invalid {
            table: self.table.clone(),
            reason,
        })
    }

    /// The error for a cursor this store cannot have produced.
    pub fn bad_cursor(&self) -> DocumentError {
        DocumentError::Invalid {
            table: self.table.clone(),
            reason: format!(
                "cursor `{}` was not produced by this store",
                self.cursor.as_ref().map_or("", Cursor::as_str)
            ),
        }
    }
}

/// One result of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryItem {
    /// The item key.
    pub key: String,
    /// The item's sort value in the queried index.
    pub sort: String,
    /// The document.
    pub doc: Versioned<String>,
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// At most `limit` items, in order.
    pub items: Vec<QueryItem>,
    /// Where the next page starts; `None` when there is no more. (The AWS
    /// implementation may return a cursor followed by an empty last page.)
    pub next: Option<Cursor>,
}

/// Document store failures; each names the table and, where there is one,
/// the item key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// A write condition did not hold.
    #[error(
        "conditional write on `{table}`/`{key}` failed: expected {expected}, found {}",
        describe_version(*.actual)
    )]
    Conflict {
        /// The table.
        table: String,
        /// The item key.
        key: String,
        /// The condition.
        expected: Expect,
        /// The live version found (`None` = absent or expired).
        actual: Option<u64>,
    },
    /// An item over [`MAX_ITEM_BYTES`].
    #[error(
        "item `{table}`/`{key}` is {size} bytes, over the {limit}-byte limit; \
         keep large content in storage and store its URI"
    )]
    TooLarge {
        /// The table.
        table: String,
        /// The item key.
        key: String,
        /// The item size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A malformed request: bad name, key, index entry, page size, cursor or
    /// transaction shape.
    #[error("invalid request on table `{table}`: {reason}")]
    Invalid {
        /// The table (the first one, for transactions).
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// The backing service or database failed.
    #[error("document backend failed during {operation} on `{table}`: {source}")]
    Backend {
        /// The table.
        table: String,
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn describe_version(actual: Option<u64>) -> String {
    match actual {
        Some(version) => format!("version {version}"),
        None => "no item".to_owned(),
    }
}

/// A versioned, DynamoDB-shaped document store. See the
/// [module docs](self) for semantics.
#[async_trait]
pub trait DocumentStore: Send + Sync + fmt::Debug {
    /// The live item, or `None` if absent or expired.
    async fn get(&self, table: &str, key: &str)
    -> Result<Option<Versioned<String>>, DocumentError>;

    /// Writes the item if `expected` holds; returns the new version.
    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError>;

    /// Deletes the item if `expected` holds; `false` if there was no live
    /// item (which is not an error unless the condition says so).
    async fn delete(&self, table: &str, key: &str, expected: Expect)
    -> Result<bool, DocumentError>;

    /// Applies every operation or none; one entry per operation: the new
    /// version for puts, `None` for deletes and checks. The first failed
    /// condition is reported as [`DocumentError::Conflict`].
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError>;

    /// One page of an index partition.
    async fn query(&self, query: &Query) -> Result<Page, DocumentError>;

    /// Deletes every expired item; returns how many.
    async fn sweep_expired(&self) -> Result<usize, DocumentError>;
}

/// Checks a table name (DynamoDB rules: 3..=255 of `[A-Za-z0-9_.-]`).
pub fn validate_table(table: &str) -> Result<(), DocumentError> {
    if dynamo_name(table) {
        Ok(())
    } else {
        Err(DocumentError::Invalid {
            table: table.to_owned(),
            reason: "table names are 3 to 255 characters of A-Z, a-z, 0-9, `_`, `-`, `.`".into(),
        })
    }
}

/// Checks an index name (same rules as tables).
pub fn validate_index_name(table: &str, index: &str) -> Result<(), DocumentError> {
    if dynamo_name(index) {
        Ok(())
    } else {
        Err(DocumentError::Invalid {
            table: table.to_owned(),
            reason: format!(
                "index name `{index}`: names are 3 to 255 characters of A-Z, a-z, 0-9, \
                 `_`, `-`, `.`"
            ),
        })
    }
}

/// Checks an item key (1..=1024 bytes).
pub fn validate_key(table: &str, key: &str) -> Result<(), DocumentError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(DocumentError::Invalid {
            table: table.to_owned(),
            reason: format!(
                "item keys are 1 to {MAX_KEY_BYTES} bytes (got {})",
                key.len()
            ),
        });
    }
    Ok(())
}

/// Checks the shape of a transaction: 1..=100 valid operations, each item at
/// most once, at most [`MAX_TRANSACTION_BYTES`] in total.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<(), DocumentError> {
    let first_table = ops.first().map_or("", |op| op.target().0).to_owned();
    let invalid = |reason: String| DocumentError::Invalid {
        table: first_table.clone(),
        reason,
    };
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for op in ops {
        let (table, key) = op.target();
        match op {
            WriteOp::Put { doc, .. } => total += doc.validate(table, key)?,
            WriteOp::Delete { .. } | WriteOp::Check { .. } => {
                validate_table(table)?;
                validate_key(table, key)?;
                total += key.len();
            }
        }
        if !seen.insert((table, key)) {
            return Err(invalid(format!(
                "item `{table}`/`{key}` appears twice in one transaction"
            )));
        }
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(invalid(format!(
            "the transaction is {total} bytes, over the {MAX_TRANSACTION_BYTES}-byte limit"
        )));
    }
    Ok(())
}

fn dynamo_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        assert!(Expect::Any.matches(None));
        assert!(Expect::Any.matches(Some(3)));
        assert!(Expect::Absent.matches(None));
        assert!(!Expect::Absent.matches(Some(1)));
        assert!(Expect::Version(2).matches(Some(2)));
        assert!(!Expect::Version(2).matches(Some(3)));
        assert!(!Expect::Version(2).matches(None));
    }

    #[test]
    fn cursors_round_trip() {
        for (sort, key) in [("a", "b"), ("1:2", ":x"), ("日本", "ü"), ("", "")] {
            let cursor = Cursor::after(sort, key);
            assert_eq!(cursor.position(), Some((sort, key)));
        }
        assert_eq!(Cursor::new("garbage").position(), None);
        assert_eq!(Cursor::new("9:ab").position(), None);
        assert_eq!(Cursor::new("1:日").position(), None, "not a char boundary");
    }

    #[test]
    fn ranges() {
        assert!(RangeCond::Prefix("2024-".into()).matches("2024-01"));
        assert!(!RangeCond::Prefix("2024-".into()).matches("2023-12"));
        assert!(RangeCond::Between("b".into(), "d".into()).matches("d"));
        assert!(!RangeCond::Between("b".into(), "d".into()).matches("da"));
        assert!(RangeCond::Gt("b".into()).matches("ba"));
        assert!(!RangeCond::Lt("b".into()).matches("b"));
    }

    #[test]
    fn documents_are_checked() {
        assert!(Document::new("{}").validate("flows", "k").is_ok());
        assert!(Document::new("{}").validate("ab", "k").is_err());
        assert!(Document::new("{}").validate("flows", "").is_err());
        assert!(
            Document::new("{}")
                .index("by_ns", "p", "s")
                .index("by_ns", "p", "t")
                .validate("flows", "k")
                .is_err()
        );
        assert!(
            Document::new("{}")
                .index("by_ns", "", "s")
                .validate("flows", "k")
                .is_err()
        );
        let big = Document::new("x".repeat(MAX_ITEM_BYTES));
        assert!(matches!(
            big.validate("flows", "k"),
            Err(DocumentError::TooLarge { size, .. }) if size == MAX_ITEM_BYTES + 1
        ));
    }

    #[test]
    fn transactions_are_checked() {
        assert!(validate_transaction(&[]).is_err());
        let twice = [
            WriteOp::check("flows", "a", Expect::Any),
            WriteOp::delete("flows", "a", Expect::Any),
        ];
        assert!(validate_transaction(&twice).is_err());
        let too_many: Vec<_> = (0..=MAX_TRANSACTION_OPS)
            .map(|i| WriteOp::check("flows", i.to_string(), Expect::Any))
            .collect();
        assert!(validate_transaction(&too_many).is_err());
        assert!(validate_transaction(&too_many[..MAX_TRANSACTION_OPS]).is_ok());
    }

    #[test]
    fn conflicts_name_the_item() {
        let err = DocumentError::Conflict {
            table: "executions".into(),
            key: "e1".into(),
            expected: Expect::Version(3),
            actual: Some(4),
        };
        assert_eq!(
            err.to_string(),
            "conditional write on `executions`/`e1` failed: expected version 3, found version 4"
        );
    }
}
