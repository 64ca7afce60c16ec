//! Queries: a [`RangeCond`] as a key condition on the composite sort key `g{n}sk`, the GSI
//! `Query` (keys only) paged with a look-ahead item, and the documents read with consistent
//! `BatchGetItem`s.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::{DateTime, Utc};
use kite_ports::documents::MAX_KEY_BYTES;
use kite_ports::{Cursor, DocumentError, Page, Query, QueryItem, RangeCond, Versioned};

use super::encoding::{
    AFTER, Attrs, EXP, PK, SEP, VER, check_sort_chars, gpk_attr, gsi_name, gsk_attr, item_size, pk,
    s,
};
use super::errors::{backend, invalid, sdk_failure};
use super::expr::Expr;
use super::{DynamoDocuments, MAX_ATTEMPTS};
use crate::metrics::read_units;

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

/// The key condition of `range` (see the table in the [module docs](super)).
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

/// The bounds of `range`, to check.
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

/// Rejects query bounds with separator characters or too long for a sort key.
fn check_bounds(table: &str, range: &RangeCond) -> Result<(), DocumentError> {
    for bound in range_bounds(range) {
        check_sort_chars(table, "a query bound", bound)?;
        if bound.len() >= MAX_KEY_BYTES {
            return Err(invalid(
                table,
                format!("query bounds are at most {} bytes", MAX_KEY_BYTES - 1),
            ));
        }
    }
    Ok(())
}

/// The GSI partition a query reads.
struct Partition<'q> {
    query: &'q Query,
    slot: u8,
    /// `g{n}pk`.
    gpk_name: String,
    /// `g{n}sk`.
    gsk_name: String,
    /// `{table}#{index}#{partition}`.
    gpk_value: String,
}

impl Partition<'_> {
    /// The `ExclusiveStartKey` of the query's cursor, if any.
    fn start_key(&self) -> Result<Option<Attrs>, DocumentError> {
        let query = self.query;
        let Some(cursor) = &query.cursor else {
            return Ok(None);
        };
        let (sort, key) = cursor.position().ok_or_else(|| query.bad_cursor())?;
        let sk = format!("{sort}{SEP}{key}");
        if key.is_empty() || sk.len() > MAX_KEY_BYTES {
            return Err(query.bad_cursor());
        }
        Ok(Some(HashMap::from([
            (PK.to_owned(), s(pk(&query.table, key))),
            (self.gpk_name.clone(), s(self.gpk_value.clone())),
            (self.gsk_name.clone(), s(sk)),
        ])))
    }

    /// The key condition expression on the partition and `range`.
    fn key_condition(&self, expr: &mut Expr, range: Option<&RangeExpr>) -> String {
        let gpk = expr.n(&self.gpk_name);
        let partition = expr.v("partition", s(self.gpk_value.clone()));
        let mut key_condition = format!("{gpk} = {partition}");
        if let Some(range) = range {
            let gsk = expr.n(&self.gsk_name);
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
        key_condition
    }

    /// The entries of an index page in this table that match the range: (key, sort value,
    /// `g{n}sk`), in index order.
    fn hits(&self, page_items: &[Attrs]) -> Vec<(String, String, String)> {
        let table_prefix = format!("{}#", self.query.table);
        let mut hits = Vec::new();
        for item in page_items {
            let (Some(AttributeValue::S(item_pk)), Some(AttributeValue::S(sk))) =
                (item.get(PK), item.get(&self.gsk_name))
            else {
                continue;
            };
            let Some(key) = item_pk.strip_prefix(&table_prefix) else {
                continue;
            };
            let Some(sort) = sk.strip_suffix(key).and_then(|rest| rest.strip_suffix(SEP)) else {
                continue;
            };
            if !self.query.range.matches(sort) {
                continue;
            }
            hits.push((key.to_owned(), sort.to_owned(), sk.clone()));
        }
        hits
    }
}

impl DynamoDocuments {
    /// [`DocumentStore::query`](kite_ports::DocumentStore::query): reads the GSI partition
    /// until the page and one look-ahead item are found, or the partition ends.
    pub(super) async fn query_page(&self, query: &Query) -> Result<Page, DocumentError> {
        query.validate()?;
        let table = query.table.as_str();
        check_bounds(table, &query.range)?;
        let slot = self.slots.checked_slot(table, &query.index)?;
        let partition = Partition {
            query,
            slot,
            gpk_name: gpk_attr(slot),
            gsk_name: gsk_attr(slot),
            gpk_value: format!("{table}#{}#{}", query.index, query.partition),
        };
        let mut start = partition.start_key()?;
        let range = match key_range(&query.range) {
            KeyRange::Empty => return Ok(Page::default()),
            KeyRange::All => None,
            KeyRange::Cond(range) => Some(range),
        };
        let now = self.clock.now();
        let mut items: Vec<QueryItem> = Vec::new();
        loop {
            // The page plus one look-ahead item.
            let wanted = query.limit + 1 - items.len();
            let out = self
                .query_index(&partition, range.as_ref(), wanted, start.take())
                .await?;
            let page_items = out.items.unwrap_or_default();
            self.metrics
                .add_units(read_units(page_items.iter().map(item_size).sum()), 0.0);
            // The GSIs project keys only: the index gives the order, a consistent
            // BatchGetItem the documents.
            let hits = partition.hits(&page_items);
            self.fetch_hits(&partition, hits, now, &mut items).await?;
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

    /// One `Query` request on the partition's GSI, for at most `wanted` entries.
    async fn query_index(
        &self,
        partition: &Partition<'_>,
        range: Option<&RangeExpr>,
        wanted: usize,
        start: Option<Attrs>,
    ) -> Result<QueryOutput, DocumentError> {
        let query = partition.query;
        let mut expr = Expr::default();
        let key_condition = partition.key_condition(&mut expr, range);
        self.client
            .query()
            .table_name(&self.table)
            .index_name(gsi_name(partition.slot))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(!query.descending)
            .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| {
                sdk_failure(
                    &query.table,
                    "Query",
                    format!(
                        "index `{}` partition `{}` in DynamoDB table `{}`",
                        query.index, query.partition, self.table
                    ),
                    &e,
                )
            })
    }

    /// Reads the documents of `hits` and appends the live ones still at their index
    /// position to `items`, stopping after the look-ahead item.
    async fn fetch_hits(
        &self,
        partition: &Partition<'_>,
        hits: Vec<(String, String, String)>,
        now: DateTime<Utc>,
        items: &mut Vec<QueryItem>,
    ) -> Result<(), DocumentError> {
        let table = partition.query.table.as_str();
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
            if item.get(&partition.gsk_name) != Some(&AttributeValue::S(sk)) {
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
            if items.len() > partition.query.limit {
                break;
            }
        }
        Ok(())
    }

    /// Consistent `BatchGetItem`s of `keys` (100 at a time, unprocessed keys retried with a
    /// backoff); `meta_only` reads only the key, version and expiry. Missing items are
    /// absent from the result, which is in no particular order.
    pub(super) async fn batch_get(
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
            let request = self.batch_request(table, batch, meta_only)?;
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
                    self.seen_index_keys.remember_item(&item);
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

    /// The consistent read of `batch`, projected to the key, version and expiry when
    /// `meta_only`.
    fn batch_request(
        &self,
        table: &str,
        batch: Vec<Attrs>,
        meta_only: bool,
    ) -> Result<KeysAndAttributes, DocumentError> {
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
        request
            .build()
            .map_err(|e| backend(table, "BatchGetItem", format!("table `{}`", self.table), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
