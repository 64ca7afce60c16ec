//! Item encoding: the attribute names and separators of the [table design](super), attribute
//! values, instants as exact DynamoDB numbers, the TTL value, item sizes as DynamoDB bills
//! them, and the [`DynamoDocuments`] helpers that build a put's item (its index entries
//! placed in their slots, limits checked) and decode a stored item (or report it corrupt).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use kite_ports::documents::MAX_KEY_BYTES;
use kite_ports::{Document, DocumentError};

use super::DynamoDocuments;
use super::errors::{backend, invalid};
use super::slots::SLOT_COUNT;

pub(super) const PK: &str = "pk";
pub(super) const TBL: &str = "tbl";
pub(super) const DOC: &str = "doc";
pub(super) const VER: &str = "ver";
pub(super) const EXP: &str = "exp_ms";
pub(super) const TTL: &str = "ttl";

/// Joins a sort value and the item key in `g{n}sk`.
pub(super) const SEP: char = '\u{1}';
/// Just above [`SEP`]: `b + AFTER` is above every `b + SEP + key`.
pub(super) const AFTER: char = '\u{2}';

/// The GSI slot values of one put: `(g{n}pk, g{n}sk)` per slot.
pub(super) type SlotValues = [Option<(String, String)>; SLOT_COUNT as usize];

/// A DynamoDB item (or key).
pub(super) type Attrs = HashMap<String, AttributeValue>;

/// A stored item, decoded.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) doc: String,
    pub(super) version: u64,
    pub(super) expires_at: Option<DateTime<Utc>>,
}

impl Stored {
    /// Whether the item is live at `now` (not expired).
    pub(super) fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A string value.
pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number value.
pub(super) fn n(value: &str) -> AttributeValue {
    AttributeValue::N(value.to_owned())
}

/// The `pk` of logical `(table, key)`.
pub(super) fn pk(table: &str, key: &str) -> String {
    format!("{table}#{key}")
}

/// The name of GSI slot `slot`.
pub(super) fn gsi_name(slot: u8) -> String {
    format!("gsi{slot}")
}

/// The partition key attribute of GSI slot `slot`.
pub(super) fn gpk_attr(slot: u8) -> String {
    format!("g{slot}pk")
}

/// The sort key attribute of GSI slot `slot`.
pub(super) fn gsk_attr(slot: u8) -> String {
    format!("g{slot}sk")
}

/// An instant as a DynamoDB number of epoch milliseconds, exact to the nanosecond.
pub(super) fn instant_number(at: DateTime<Utc>) -> String {
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
pub(super) fn parse_instant(number: &str) -> Option<DateTime<Utc>> {
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
pub(super) fn ttl_seconds(at: DateTime<Utc>) -> i64 {
    let secs = at.timestamp();
    if at.timestamp_subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    }
}

/// The size DynamoDB bills for an item: attribute names plus values.
pub(super) fn item_size(item: &Attrs) -> usize {
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

/// Rejects the separator characters in a sort value or query bound.
pub(super) fn check_sort_chars(table: &str, what: &str, value: &str) -> Result<(), DocumentError> {
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
    /// What an error about item `(table, key)` names.
    pub(super) fn context(&self, table: &str, key: &str) -> String {
        format!("item `{table}`/`{key}` in DynamoDB table `{}`", self.table)
    }

    /// The key of item `(table, key)`.
    pub(super) fn key_attrs(table: &str, key: &str) -> Attrs {
        HashMap::from([(PK.to_owned(), s(pk(table, key)))])
    }

    /// Places the index entries of a put in their slots; checks the adapter's limits.
    pub(super) fn slot_values(
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
    pub(super) fn item(
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

    /// The error of a stored item that does not decode.
    pub(super) fn corrupt(
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
    pub(super) fn decode_meta(
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

    /// A stored item: its document, version and expiry.
    pub(super) fn decode(
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
}
