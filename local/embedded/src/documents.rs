//! [`SqliteDocuments`]: the [`DocumentStore`] port on the embedded SQLite
//! database.
//!
//! Items live in `documents (tbl, key, body, version, expires_at)`, index
//! entries in `document_index (tbl, idx, part, sort, key)` whose primary key
//! is the query order, so a query is one index range scan joined to its
//! items. Every write is one `BEGIN IMMEDIATE` transaction that checks its
//! conditions against the live (unexpired) version before writing, which
//! makes conditional writes and [`DocumentStore::transact`] atomic. SQLite
//! compares `TEXT` byte-wise (`BINARY` collation), the same UTF-8 order as
//! DynamoDB and as the in-memory twin.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kite_ports::clock::Clock;
use kite_ports::documents::{
    Cursor, Document, DocumentError, DocumentStore, Expect, Page, Query, QueryItem, RangeCond,
    Versioned, WriteOp, validate_key, validate_table, validate_transaction,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::db::{Db, DbError, from_millis, millis};

/// Versioned documents on SQLite. Cheap to clone; clones share the database.
#[derive(Debug, Clone)]
pub struct SqliteDocuments {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
}

type TxResult<T> = rusqlite::Result<Result<T, DocumentError>>;

impl SqliteDocuments {
    pub(crate) fn new(db: Arc<Db>, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    async fn run<T, F>(
        &self,
        table: &str,
        operation: &'static str,
        f: F,
    ) -> Result<T, DocumentError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> TxResult<T> + Send + 'static,
    {
        self.db
            .call(f)
            .await
            .map_err(|err| backend(table, operation, err))?
    }
}

fn u64_version(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}

fn i64_version(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// The live version of an item (`None` if absent or expired).
fn live_version(
    tx: &Transaction<'_>,
    table: &str,
    key: &str,
    now_ms: i64,
) -> rusqlite::Result<Option<u64>> {
    let row: Option<(i64, Option<i64>)> = tx
        .prepare_cached("SELECT version, expires_at FROM documents WHERE tbl = ?1 AND key = ?2")?
        .query_row(params![table, key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(row
        .filter(|(_, expires_at)| expires_at.is_none_or(|at| at > now_ms))
        .map(|(version, _)| u64_version(version)))
}

/// Checks `expected`; returns the live version it was checked against.
fn check(
    tx: &Transaction<'_>,
    table: &str,
    key: &str,
    expected: Expect,
    now_ms: i64,
) -> TxResult<Option<u64>> {
    let actual = live_version(tx, table, key, now_ms)?;
    Ok(if expected.matches(actual) {
        Ok(actual)
    } else {
        Err(DocumentError::Conflict {
            table: table.to_owned(),
            key: key.to_owned(),
            expected,
            actual,
        })
    })
}

fn write(
    tx: &Transaction<'_>,
    table: &str,
    key: &str,
    doc: &Document,
    version: u64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO documents (tbl, key, body, version, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (tbl, key) DO UPDATE SET body = excluded.body, \
         version = excluded.version, expires_at = excluded.expires_at",
    )?
    .execute(params![
        table,
        key,
        doc.json,
        i64_version(version),
        doc.expires_at.map(millis)
    ])?;
    tx.prepare_cached("DELETE FROM document_index WHERE tbl = ?1 AND key = ?2")?
        .execute(params![table, key])?;
    for entry in &doc.indexes {
        tx.prepare_cached(
            "INSERT INTO document_index (tbl, idx, part, sort, key) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            table,
            entry.index,
            entry.partition,
            entry.sort,
            key
        ])?;
    }
    Ok(())
}

/// Removes the item and its index entries; returns whether a row existed.
fn remove(tx: &Transaction<'_>, table: &str, key: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("DELETE FROM document_index WHERE tbl = ?1 AND key = ?2")?
        .execute(params![table, key])?;
    let removed = tx
        .prepare_cached("DELETE FROM documents WHERE tbl = ?1 AND key = ?2")?
        .execute(params![table, key])?;
    Ok(removed > 0)
}

fn versioned(body: String, version: i64, expires_at: Option<i64>) -> Versioned<String> {
    Versioned {
        value: body,
        version: u64_version(version),
        expires_at: expires_at.map(from_millis),
    }
}

/// The smallest string greater than every string starting with `prefix`
/// (`None` if there is none), for an index-friendly `begins_with`.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The SQL and parameters of one page of `query`.
fn query_sql(
    query: &Query,
    after: Option<(&str, &str)>,
    now: DateTime<Utc>,
) -> (String, Vec<Value>) {
    let mut sql = String::from(
        "SELECT i.sort, i.key, d.body, d.version, d.expires_at \
         FROM document_index i JOIN documents d ON d.tbl = i.tbl AND d.key = i.key \
         WHERE i.tbl = ? AND i.idx = ? AND i.part = ? \
         AND (d.expires_at IS NULL OR d.expires_at > ?)",
    );
    let mut values = vec![
        Value::Text(query.table.clone()),
        Value::Text(query.index.clone()),
        Value::Text(query.partition.clone()),
        Value::Integer(millis(now)),
    ];
    let mut bound = |op: &str, value: &str| {
        sql.push_str(" AND i.sort ");
        sql.push_str(op);
        sql.push_str(" ?");
        values.push(Value::Text(value.to_owned()));
    };
    match &query.range {
        RangeCond::All => {}
        RangeCond::Eq(value) => bound("=", value),
        RangeCond::Prefix(prefix) => {
            bound(">=", prefix);
            if let Some(upper) = prefix_successor(prefix) {
                bound("<", &upper);
            }
        }
        RangeCond::Between(low, high) => {
            bound(">=", low);
            bound("<=", high);
        }
        RangeCond::Gte(value) => bound(">=", value),
        RangeCond::Gt(value) => bound(">", value),
        RangeCond::Lte(value) => bound("<=", value),
        RangeCond::Lt(value) => bound("<", value),
    }
    if let Some((sort, key)) = after {
        sql.push_str(if query.descending {
            " AND (i.sort, i.key) < (?, ?)"
        } else {
            " AND (i.sort, i.key) > (?, ?)"
        });
        values.push(Value::Text(sort.to_owned()));
        values.push(Value::Text(key.to_owned()));
    }
    sql.push_str(if query.descending {
        " ORDER BY i.sort DESC, i.key DESC LIMIT ?"
    } else {
        " ORDER BY i.sort ASC, i.key ASC LIMIT ?"
    });
    values.push(Value::Integer(
        i64::try_from(query.limit)
            .unwrap_or(i64::MAX)
            .saturating_add(1),
    ));
    (sql, values)
}

#[async_trait]
impl DocumentStore for SqliteDocuments {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now_ms = millis(self.clock.now());
        let (t, k) = (table.to_owned(), key.to_owned());
        self.run(table, "get", move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT body, version, expires_at FROM documents \
                     WHERE tbl = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
                )?
                .query_row(params![t, k, now_ms], |row| {
                    Ok(versioned(row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            Ok(Ok(row))
        })
        .await
    }

    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        doc.validate(table, key)?;
        let now_ms = millis(self.clock.now());
        let (t, k) = (table.to_owned(), key.to_owned());
        self.run(table, "put", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let actual = match check(&tx, &t, &k, expected, now_ms)? {
                Ok(actual) => actual,
                Err(conflict) => return Ok(Err(conflict)),
            };
            let version = actual.map_or(1, |v| v + 1);
            write(&tx, &t, &k, &doc, version)?;
            tx.commit()?;
            Ok(Ok(version))
        })
        .await
    }

    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now_ms = millis(self.clock.now());
        let (t, k) = (table.to_owned(), key.to_owned());
        self.run(table, "delete", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let actual = match check(&tx, &t, &k, expected, now_ms)? {
                Ok(actual) => actual,
                Err(conflict) => return Ok(Err(conflict)),
            };
            remove(&tx, &t, &k)?;
            tx.commit()?;
            Ok(Ok(actual.is_some()))
        })
        .await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        validate_transaction(&ops)?;
        let now_ms = millis(self.clock.now());
        let table = ops.first().map_or("", |op| op.target().0).to_owned();
        self.run(&table, "transact", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut actuals = Vec::with_capacity(ops.len());
            for op in &ops {
                let (table, key) = op.target();
                match check(&tx, table, key, op.expected(), now_ms)? {
                    Ok(actual) => actuals.push(actual),
                    Err(conflict) => return Ok(Err(conflict)),
                }
            }
            let mut results = Vec::with_capacity(ops.len());
            for (op, actual) in ops.iter().zip(actuals) {
                results.push(match op {
                    WriteOp::Put {
                        table, key, doc, ..
                    } => {
                        let version = actual.map_or(1, |v| v + 1);
                        write(&tx, table, key, doc, version)?;
                        Some(version)
                    }
                    WriteOp::Delete { table, key, .. } => {
                        remove(&tx, table, key)?;
                        None
                    }
                    WriteOp::Check { .. } => None,
                });
            }
            tx.commit()?;
            Ok(Ok(results))
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        query.validate()?;
        let after = match &query.cursor {
            None => None,
            Some(cursor) => Some(cursor.position().ok_or_else(|| query.bad_cursor())?),
        };
        let (sql, values) = query_sql(query, after, self.clock.now());
        let limit = query.limit;
        self.run(&query.table, "query", move |conn| {
            let mut items = conn
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(values), |row| {
                    Ok(QueryItem {
                        sort: row.get(0)?,
                        key: row.get(1)?,
                        doc: versioned(row.get(2)?, row.get(3)?, row.get(4)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = items.len() > limit;
            items.truncate(limit);
            let next = match items.last() {
                Some(last) if more => Some(Cursor::after(&last.sort, &last.key)),
                _ => None,
            };
            Ok(Ok(Page { items, next }))
        })
        .await
    }

    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        let now_ms = millis(self.clock.now());
        self.run("*", "sweep_expired", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM document_index WHERE (tbl, key) IN \
                 (SELECT tbl, key FROM documents \
                  WHERE expires_at IS NOT NULL AND expires_at <= ?1)",
                params![now_ms],
            )?;
            let swept = tx.execute(
                "DELETE FROM documents WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                params![now_ms],
            )?;
            tx.commit()?;
            Ok(Ok(swept))
        })
        .await
    }
}

fn backend(table: &str, operation: &'static str, err: DbError) -> DocumentError {
    DocumentError::Backend {
        table: table.to_owned(),
        operation,
        source: Box::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("").as_deref(), None);
        assert_eq!(
            prefix_successor("a\u{10FFFF}").as_deref(),
            Some("b"),
            "a maximal last char carries over"
        );
        assert_eq!(prefix_successor("\u{10FFFF}").as_deref(), None);
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        for prefix in ["2024-", "ü", "a\u{10FFFF}"] {
            let upper = prefix_successor(prefix).expect("has a successor");
            for candidate in [prefix.to_owned(), format!("{prefix}\u{10FFFF}zz")] {
                assert!(
                    candidate.as_str() < upper.as_str(),
                    "{candidate:?} < {upper:?}"
                );
            }
        }
    }
}
