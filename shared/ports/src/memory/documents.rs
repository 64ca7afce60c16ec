//! [`MemoryDocuments`]: the in-memory twin of the [`DocumentStore`] port.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::clock::Clock;
use crate::documents::{
    Cursor, Document, DocumentError, DocumentStore, Expect, IndexEntry, Page, Query, QueryItem,
    Versioned, WriteOp, validate_key, validate_table, validate_transaction,
};

/// Items in hash maps, index partitions in sorted sets.
#[derive(Debug)]
pub struct MemoryDocuments {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

type ItemKey = (String, String);
type PartitionKey = (String, String, String);

#[derive(Debug, Default)]
struct State {
    items: HashMap<ItemKey, Item>,
    /// (table, index, partition) → sorted (sort, item key).
    partitions: BTreeMap<PartitionKey, BTreeSet<(String, String)>>,
}

#[derive(Debug)]
struct Item {
    json: String,
    version: u64,
    expires_at: Option<DateTime<Utc>>,
    indexes: Vec<IndexEntry>,
}

impl Item {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    fn versioned(&self) -> Versioned<String> {
        Versioned {
            value: self.json.clone(),
            version: self.version,
            expires_at: self.expires_at,
        }
    }
}

impl State {
    fn live_version(&self, table: &str, key: &str, now: DateTime<Utc>) -> Option<u64> {
        self.items
            .get(&(table.to_owned(), key.to_owned()))
            .filter(|item| item.live(now))
            .map(|item| item.version)
    }

    fn check(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, DocumentError> {
        let actual = self.live_version(table, key, now);
        if expected.matches(actual) {
            Ok(actual)
        } else {
            Err(DocumentError::Conflict {
                table: table.to_owned(),
                key: key.to_owned(),
                expected,
                actual,
            })
        }
    }

    /// Removes the item and its index entries; returns whether it was live.
    fn remove(&mut self, table: &str, key: &str, now: DateTime<Utc>) -> bool {
        let Some(item) = self.items.remove(&(table.to_owned(), key.to_owned())) else {
            return false;
        };
        for entry in &item.indexes {
            let partition = (
                table.to_owned(),
                entry.index.clone(),
                entry.partition.clone(),
            );
            if let Some(set) = self.partitions.get_mut(&partition) {
                set.remove(&(entry.sort.clone(), key.to_owned()));
                if set.is_empty() {
                    self.partitions.remove(&partition);
                }
            }
        }
        item.live(now)
    }

    fn write(&mut self, table: &str, key: &str, doc: Document, version: u64, now: DateTime<Utc>) {
        self.remove(table, key, now);
        for entry in &doc.indexes {
            self.partitions
                .entry((
                    table.to_owned(),
                    entry.index.clone(),
                    entry.partition.clone(),
                ))
                .or_default()
                .insert((entry.sort.clone(), key.to_owned()));
        }
        self.items.insert(
            (table.to_owned(), key.to_owned()),
            Item {
                json: doc.json,
                version,
                expires_at: doc.expires_at,
                indexes: doc.indexes,
            },
        );
    }
}

impl MemoryDocuments {
    /// An empty store reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
        }
    }
}

#[async_trait]
impl DocumentStore for MemoryDocuments {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now = self.clock.now();
        Ok(lock(&self.state)
            .items
            .get(&(table.to_owned(), key.to_owned()))
            .filter(|item| item.live(now))
            .map(Item::versioned))
    }

    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        doc.validate(table, key)?;
        let now = self.clock.now();
        let mut state = lock(&self.state);
        let version = state.check(table, key, expected, now)?.map_or(1, |v| v + 1);
        state.write(table, key, doc, version, now);
        Ok(version)
    }

    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now = self.clock.now();
        let mut state = lock(&self.state);
        state.check(table, key, expected, now)?;
        Ok(state.remove(table, key, now))
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        validate_transaction(&ops)?;
        let now = self.clock.now();
        let mut state = lock(&self.state);
        let mut actuals = Vec::with_capacity(ops.len());
        for op in &ops {
            let (table, key) = op.target();
            actuals.push(state.check(table, key, op.expected(), now)?);
        }
        let mut results = Vec::with_capacity(ops.len());
        for (op, actual) in ops.into_iter().zip(actuals) {
            results.push(match op {
                WriteOp::Put {
                    table, key, doc, ..
                } => {
                    let version = actual.map_or(1, |v| v + 1);
                    state.write(&table, &key, doc, version, now);
                    Some(version)
                }
                WriteOp::Delete { table, key, .. } => {
                    state.remove(&table, &key, now);
                    None
                }
                WriteOp::Check { .. } => None,
            });
        }
        Ok(results)
    }

    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        query.validate()?;
        let after = match &query.cursor {
            None => None,
            Some(cursor) => {
                let (sort, key) = cursor.position().ok_or_else(|| query.bad_cursor())?;
                Some((sort.to_owned(), key.to_owned()))
            }
        };
        let now = self.clock.now();
        let state = lock(&self.state);
        let partition = (
            query.table.clone(),
            query.index.clone(),
            query.partition.clone(),
        );
        let Some(entries) = state.partitions.get(&partition) else {
            return Ok(Page::default());
        };
        let bounds = match (&after, query.descending) {
            (None, _) => (Bound::Unbounded, Bound::Unbounded),
            (Some(after), false) => (Bound::Excluded(after), Bound::Unbounded),
            (Some(after), true) => (Bound::Unbounded, Bound::Excluded(after)),
        };
        let range = entries.range::<(String, String), _>(bounds);
        let ordered: Box<dyn Iterator<Item = &(String, String)>> = if query.descending {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut items = Vec::new();
        let mut more = false;
        for (sort, key) in ordered {
            if !query.range.matches(sort) {
                continue;
            }
            let Some(item) = state
                .items
                .get(&(query.table.clone(), key.clone()))
                .filter(|item| item.live(now))
            else {
                continue;
            };
            if items.len() == query.limit {
                more = true;
                break;
            }
            items.push(QueryItem {
                key: key.clone(),
                sort: sort.clone(),
                doc: item.versioned(),
            });
        }
        let next = match items.last() {
            Some(last) if more => Some(Cursor::after(&last.sort, &last.key)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        let expired: Vec<ItemKey> = state
            .items
            .iter()
            .filter(|(_, item)| !item.live(now))
            .map(|(key, _)| key.clone())
            .collect();
        for (table, key) in &expired {
            state.remove(table, key, now);
        }
        Ok(expired.len())
    }
}
