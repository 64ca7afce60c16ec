//! Write-unit accounting for keys-only GSIs: [`SeenIndexKeys`], the index keys last seen
//! (read or written) per item, so a write counts the index entries it adds, changes or
//! removes, as DynamoDB bills them (a put that leaves an item's index keys as they were
//! writes no index entry). Metrics only; bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoDocuments;
use super::encoding::{Attrs, PK, SEP, item_size};
use crate::metrics::write_units;

/// An item's GSI entries: (`g{n}pk` attribute, its values joined), sorted.
pub(super) type IndexKeys = Vec<(String, String)>;

/// How many items' index keys [`DynamoDocuments`] remembers for its metrics.
const SEEN_INDEX_KEYS: usize = 10_000;

/// The GSI keys last seen per item `pk` (at most [`SEEN_INDEX_KEYS`] items: cleared when
/// full), shared by the clones of one store.
#[derive(Debug, Clone, Default)]
pub(super) struct SeenIndexKeys(Arc<Mutex<HashMap<String, IndexKeys>>>);

impl SeenIndexKeys {
    /// Remembers the index keys of `item`, read or written.
    pub(super) fn remember_item(&self, item: &Attrs) {
        if let Some(AttributeValue::S(item_pk)) = item.get(PK) {
            self.remember(item_pk.clone(), index_keys(item));
        }
    }

    /// Remembers `keys` as the index keys of item `item_pk`.
    pub(super) fn remember(&self, item_pk: String, keys: IndexKeys) {
        if let Ok(mut seen) = self.0.lock() {
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
    pub(super) fn write_units_of(&self, item: &Attrs) -> (f64, Option<(String, IndexKeys)>) {
        let after = index_keys(item);
        let item_pk = match item.get(PK) {
            Some(AttributeValue::S(p)) => Some(p.clone()),
            _ => None,
        };
        let before = item_pk
            .as_ref()
            .and_then(|p| self.0.lock().ok()?.get(p).cloned())
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
}

impl DynamoDocuments {
    /// Records a successful write: its `units`, and the index keys of the items `written`.
    pub(super) fn record_write(
        &self,
        units: f64,
        written: impl IntoIterator<Item = (String, IndexKeys)>,
    ) {
        self.metrics.add_units(0.0, units);
        for (item_pk, keys) in written {
            self.seen_index_keys.remember(item_pk, keys);
        }
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
