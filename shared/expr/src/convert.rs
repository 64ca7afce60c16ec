//! Value model glue: JSON ↔ template values, Java-like string conversions, equality,
//! ordering, attribute lookup and the two custom objects (map entries, lazy ranges).
//!
//! Pebble evaluates on Java objects; Kestra's variables come from Jackson. The rules
//! reproduced here are:
//! * `toString` of collections is Java's (`[a, b]`, `{k=v}`), of doubles is
//!   `Double.toString` (`1.0`, `1.0E10`), of null inside collections is `null`;
//! * a value *printed* by `{{ }}` is written like Kestra's `JsonWriter`: maps and lists
//!   as compact JSON, null as nothing, scalars as their `toString`.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use serde_json::{Map, Number, Value as Json};

/// A JSON value as a template value.
pub(crate) fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => number_to_value(n),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::from(items.iter().map(from_json).collect::<Vec<_>>()),
        Json::Object(map) => from_json_map(map),
    }
}

/// A JSON object as a template map.
pub(crate) fn from_json_map(map: &Map<String, Json>) -> Value {
    Value::from_pairs(
        map.iter()
            .map(|(k, v)| (Value::from(k.as_str()), from_json(v))),
    )
}

fn number_to_value(n: &Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        Value::from(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A template value as JSON (undefined becomes null, map keys are stringified).
pub(crate) fn to_json(v: &Value) -> Json {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None | ValueKind::Invalid => Json::Null,
        ValueKind::Bool => Json::Bool(v.is_true()),
        ValueKind::Number => match num(v) {
            Some(Num::I(i)) => Json::from(i),
            Some(Num::F(f)) => Number::from_f64(f).map_or(Json::Null, Json::Number),
            None => match u64::try_from(v.clone()) {
                Ok(u) => Json::from(u),
                Err(_) => Json::Null,
            },
        },
        ValueKind::String => Json::String(v.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bytes => {
            Json::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned())
        }
        ValueKind::Map => {
            if let Some(e) = v.downcast_object_ref::<MapEntry>() {
                let mut m = Map::new();
                m.insert(java_string(&e.key), to_json(&e.value));
                return Json::Object(m);
            }
            let mut m = Map::new();
            for (k, val) in map_pairs(v) {
                m.insert(key_string(&k), to_json(&val));
            }
            Json::Object(m)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            Json::Array(seq_items(v).iter().map(to_json).collect())
        }
        _ => Json::String(v.to_string()),
    }
}

/// A number extracted from a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// A (Java `long`) integer.
    I(i64),
    /// A double.
    F(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Num::I(i) => Value::from(i),
            Num::F(f) => Value::from(f),
        }
    }
}

/// The number held by `v`, if it is one (booleans are not numbers, as in Java).
pub(crate) fn num(v: &Value) -> Option<Num> {
    if v.kind() != ValueKind::Number {
        return None;
    }
    if v.is_integer() {
        match i64::try_from(v.clone()) {
            Ok(i) => Some(Num::I(i)),
            Err(_) => f64::try_from(v.clone()).ok().map(Num::F),
        }
    } else {
        f64::try_from(v.clone()).ok().map(Num::F)
    }
}

/// An integer argument (doubles are truncated like Java's `intValue()`).
pub(crate) fn int(v: &Value) -> Option<i64> {
    match num(v)? {
        Num::I(i) => Some(i),
        Num::F(f) if f.is_finite() => Some(f as i64),
        Num::F(_) => None,
    }
}

/// Java's `Double.toString`.
pub(crate) fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let a = d.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        if s.contains('.') { s } else { s + ".0" }
    } else {
        let s = format!("{d:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.to_owned()
        } else {
            format!("{mant}.0")
        };
        format!("{mant}E{exp}")
    }
}

fn number_string(v: &Value) -> String {
    match num(v) {
        Some(Num::I(i)) => i.to_string(),
        Some(Num::F(f)) => java_double(f),
        None => v.to_string(),
    }
}

/// Java `String.valueOf(v)`: `null` for null, Java collection syntax, …
pub(crate) fn java_string(v: &Value) -> String {
    let mut out = String::new();
    write_java(&mut out, v);
    out
}

fn write_java(out: &mut String, v: &Value) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&number_string(v)),
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        ValueKind::Map => {
            if let Some(e) = v.downcast_object_ref::<MapEntry>() {
                write_java(out, &e.key);
                out.push('=');
                write_java(out, &e.value);
                return;
            }
            out.push('{');
            for (i, (k, val)) in map_pairs(v).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(out, &k);
                out.push('=');
                write_java(out, &val);
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in seq_items(v).iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(out, item);
            }
            out.push(']');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// String conversion used when a string is expected (`~`, string filters): like
/// [`java_string`] but null becomes the empty string.
pub(crate) fn text(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::String => v.as_str().unwrap_or_default().to_owned(),
        _ => java_string(v),
    }
}

/// How a `{{ }}` prints a value (Kestra's `JsonWriter`): null prints nothing, maps and
/// lists print as compact JSON, everything else as its Java `toString`.
pub(crate) fn print_string(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::String => v.as_str().unwrap_or_default().to_owned(),
        ValueKind::Map if v.downcast_object_ref::<MapEntry>().is_some() => java_string(v),
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable => json_string(v),
        _ => java_string(v),
    }
}

/// Compact JSON as Jackson writes it (doubles use `Double.toString`).
pub(crate) fn json_string(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

fn write_json(out: &mut String, v: &Value) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None | ValueKind::Invalid => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => match num(v) {
            Some(Num::F(f)) if !f.is_finite() => json_escape(out, &java_double(f)),
            _ => out.push_str(&number_string(v)),
        },
        ValueKind::String => json_escape(out, v.as_str().unwrap_or_default()),
        ValueKind::Map => {
            if let Some(e) = v.downcast_object_ref::<MapEntry>() {
                out.push('{');
                json_escape(out, &java_string(&e.key));
                out.push(':');
                write_json(out, &e.value);
                out.push('}');
                return;
            }
            out.push('{');
            for (i, (k, val)) in map_pairs(v).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_escape(out, &key_string(&k));
                out.push(':');
                write_json(out, &val);
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in seq_items(v).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        _ => json_escape(out, &v.to_string()),
    }
}

/// Writes `s` as a JSON string literal.
pub(crate) fn json_escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A map key as a string.
pub(crate) fn key_string(k: &Value) -> String {
    match k.as_str() {
        Some(s) => s.to_owned(),
        None => java_string(k),
    }
}

/// Whether `v` is a map (Java `Map`).
pub(crate) fn is_map(v: &Value) -> bool {
    v.kind() == ValueKind::Map && v.downcast_object_ref::<MapEntry>().is_none()
}

/// Whether `v` is a list (Java `Collection`).
pub(crate) fn is_seq(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

/// Whether `v` is null or undefined.
pub(crate) fn is_nullish(v: &Value) -> bool {
    v.is_none() || v.is_undefined()
}

/// The items of a list (empty for non-lists).
pub(crate) fn seq_items(v: &Value) -> Vec<Value> {
    if let Some(vec) = v.downcast_object_ref::<Vec<Value>>() {
        return vec.clone();
    }
    match v.try_iter() {
        Ok(it) if is_seq(v) => it.collect(),
        _ => Vec::new(),
    }
}

/// The entries of a map, in order (empty for non-maps).
pub(crate) fn map_pairs(v: &Value) -> Vec<(Value, Value)> {
    if v.kind() != ValueKind::Map {
        return Vec::new();
    }
    match v.try_iter() {
        Ok(keys) => keys
            .map(|k| {
                let val = v.get_item(&k).unwrap_or_default();
                (k, val)
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Builds a map value from ordered pairs.
pub(crate) fn map_value(pairs: Vec<(Value, Value)>) -> Value {
    Value::from_pairs(pairs)
}

/// Builds a list value.
pub(crate) fn seq_value(items: Vec<Value>) -> Value {
    Value::from(items)
}

/// Pebble truthiness (`if`, `and`, `or`, `not`, ternary): null is false, numbers are
/// true when non-zero, strings when non-empty, collections when non-empty.
pub(crate) fn truthy(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        ValueKind::Bool => v.is_true(),
        ValueKind::Number => num(v).is_some_and(|n| {
            let f = n.as_f64();
            !f.is_nan() && f != 0.0
        }),
        ValueKind::String => !v.as_str().unwrap_or_default().is_empty(),
        _ => v.len().is_none_or(|l| l > 0),
    }
}

/// Pebble equality: numbers compare numerically, collections structurally.
pub(crate) fn values_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return match (x, y) {
            (Num::I(x), Num::I(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        };
    }
    match (a.kind(), b.kind()) {
        (ValueKind::Undefined | ValueKind::None, ValueKind::Undefined | ValueKind::None) => true,
        (ValueKind::String, ValueKind::String) => a.as_str() == b.as_str(),
        (ValueKind::Bool, ValueKind::Bool) => a.is_true() == b.is_true(),
        (ValueKind::Seq | ValueKind::Iterable, ValueKind::Seq | ValueKind::Iterable) => {
            let (x, y) = (seq_items(a), seq_items(b));
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| values_eq(p, q))
        }
        (ValueKind::Map, ValueKind::Map) => {
            let (x, y) = (map_pairs(a), map_pairs(b));
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .any(|(k2, v2)| values_eq(k, k2) && values_eq(v, v2))
                })
        }
        _ => false,
    }
}

/// Natural ordering for comparisons and sorting: numbers numerically, strings
/// lexicographically, booleans false < true. `None` when the types do not compare.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return match (x, y) {
            (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
            _ => x.as_f64().partial_cmp(&y.as_f64()),
        };
    }
    match (a.kind(), b.kind()) {
        (ValueKind::String, ValueKind::String) => Some(a.as_str().cmp(&b.as_str())),
        (ValueKind::Bool, ValueKind::Bool) => Some(a.is_true().cmp(&b.is_true())),
        _ => None,
    }
}

/// Total order used by `sort`: comparable values by [`compare`], otherwise by type rank.
pub(crate) fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    compare(a, b).unwrap_or_else(|| type_rank(a).cmp(&type_rank(b)))
}

fn type_rank(v: &Value) -> u8 {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => 0,
        ValueKind::Bool => 1,
        ValueKind::Number => 2,
        ValueKind::String => 3,
        ValueKind::Seq | ValueKind::Iterable => 4,
        ValueKind::Map => 5,
        _ => 6,
    }
}

/// Looks `key` up in `container` (map key, list index, object attribute).
/// Numeric keys also match their string form on maps and vice versa; list indexes may
/// be numeric strings (iteration values are strings in Kestra).
pub(crate) fn lookup(container: &Value, key: &Value) -> Option<Value> {
    match container.kind() {
        ValueKind::Map => {
            let found = container.get_item(key).ok().filter(|v| !v.is_undefined());
            if found.is_some() {
                return found;
            }
            if let Some(s) = key.as_str() {
                if let Ok(i) = s.parse::<i64>() {
                    return container
                        .get_item(&Value::from(i))
                        .ok()
                        .filter(|v| !v.is_undefined());
                }
                None
            } else if key.kind() == ValueKind::Number || key.kind() == ValueKind::Bool {
                container
                    .get_item(&Value::from(java_string(key)))
                    .ok()
                    .filter(|v| !v.is_undefined())
            } else {
                None
            }
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let idx = match num(key) {
                Some(Num::I(i)) => i,
                Some(Num::F(_)) => return None,
                None => key.as_str()?.trim().parse::<i64>().ok()?,
            };
            let idx = usize::try_from(idx).ok()?;
            container
                .get_item_by_index(idx)
                .ok()
                .filter(|v| !v.is_undefined())
        }
        ValueKind::Plain => {
            let name = key.as_str()?;
            container.get_attr(name).ok().filter(|v| !v.is_undefined())
        }
        _ => None,
    }
}

/// A `Map.Entry` produced when a `for` loop iterates over a map (`entry.key`, `entry.value`).
#[derive(Debug)]
pub(crate) struct MapEntry {
    pub(crate) key: Value,
    pub(crate) value: Value,
}

impl Object for MapEntry {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "key" => Some(self.key.clone()),
            "value" => Some(self.value.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["key", "value"])
    }
}

/// A lazily materialised arithmetic progression (Pebble's inclusive `range` / `a..b`).
#[derive(Debug)]
pub(crate) struct LongRange {
    pub(crate) start: i64,
    pub(crate) step: i64,
    pub(crate) len: usize,
}

impl Object for LongRange {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let idx = key.as_usize()?;
        if idx >= self.len {
            return None;
        }
        let off = (idx as i64).checked_mul(self.step)?;
        Some(Value::from(self.start.checked_add(off)?))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(2.5), "2.5");
        assert_eq!(java_double(-0.5), "-0.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e10), "1.5E10");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn java_strings() {
        let v = from_json(&serde_json::json!({"a": 1, "b": [1, "x", null, 2.0], "c": {"d": true}}));
        assert_eq!(java_string(&v), "{a=1, b=[1, x, null, 2.0], c={d=true}}");
        assert_eq!(
            print_string(&v),
            r#"{"a":1,"b":[1,"x",null,2.0],"c":{"d":true}}"#
        );
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, 2.5, "s", null, true], "b": {"c": -3}});
        assert_eq!(to_json(&from_json(&j)), j);
    }

    #[test]
    fn equality_and_order() {
        assert!(values_eq(&Value::from(1), &Value::from(1.0)));
        assert!(!values_eq(&Value::from("1"), &Value::from(1)));
        assert_eq!(
            compare(&Value::from(2), &Value::from(1.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&Value::from("a"), &Value::from(1)), None);
    }

    #[test]
    fn lookups() {
        let m = from_json(&serde_json::json!({"1": "one", "a": [10, 20]}));
        assert_eq!(lookup(&m, &Value::from(1)).unwrap().as_str(), Some("one"));
        let list = lookup(&m, &Value::from("a")).unwrap();
        assert_eq!(lookup(&list, &Value::from("1")).unwrap(), Value::from(20));
        assert!(lookup(&list, &Value::from(5)).is_none());
    }
}
