//! Collection filters: `length`, `first`, `last`, `join`, `keys`, `values`, `slice`
//! (Pebble semantics: `slice(from, to)` on strings and lists), `sort`, `rsort`,
//! `reverse`, `merge`, `flatten`, `chunk`, `distinct`.

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value};

use super::add_filter;
use crate::convert::{
    MapEntry, is_map, is_seq, java_string, map_pairs, map_value, seq_items, seq_value, sort_cmp,
    text, values_eq,
};
use crate::error::type_err;
use crate::runtime::{check_len, check_list, type_name};

pub(crate) fn register(env: &mut Environment<'static>) {
    add_filter(env, "length", &[], false, |v, _| {
        Ok(Value::from(match v.kind() {
            ValueKind::None => 0,
            ValueKind::String => v.as_str().unwrap_or_default().chars().count(),
            ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => v.len().unwrap_or(0),
            _ => 0,
        }))
    });
    add_filter(env, "first", &[], false, |v, _| first_last(v, true));
    add_filter(env, "last", &[], false, |v, _| first_last(v, false));
    add_filter(env, "join", &["separator"], false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        if !is_seq(v) {
            return Ok(Value::from(text(v)));
        }
        let sep = a.str(0).unwrap_or_default();
        let mut out = String::new();
        for (i, item) in seq_items(v).iter().enumerate() {
            if i > 0 {
                out.push_str(&sep);
            }
            out.push_str(&java_string(item));
            check_len(out.len())?;
        }
        Ok(Value::from(out))
    });
    add_filter(env, "keys", &[], false, |v, _| match v.kind() {
        ValueKind::None => Ok(Value::from(())),
        _ if is_map(v) => Ok(seq_value(
            map_pairs(v).into_iter().map(|(k, _)| k).collect(),
        )),
        _ => Err(type_err(format!(
            "The 'keys' filter can only be applied to a map, got {}",
            type_name(v)
        ))),
    });
    add_filter(env, "values", &[], false, |v, _| match v.kind() {
        ValueKind::None => Ok(Value::from(())),
        _ if is_map(v) => Ok(seq_value(
            map_pairs(v).into_iter().map(|(_, x)| x).collect(),
        )),
        _ => Err(type_err(format!(
            "The 'values' filter can only be applied to a map, got {}",
            type_name(v)
        ))),
    });
    add_filter(env, "slice", &["fromIndex", "toIndex"], false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        let from = a.int(0)?.unwrap_or(0);
        if from < 0 {
            return Err(type_err("fromIndex must be greater than 0"));
        }
        let (len, chars, items) = match v.kind() {
            ValueKind::String => {
                let chars: Vec<char> = v.as_str().unwrap_or_default().chars().collect();
                (chars.len(), Some(chars), None)
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let items = seq_items(v);
                (items.len(), None, Some(items))
            }
            _ => {
                return Err(type_err(format!(
                    "Slice filter can only be applied to String, List and array inputs. Actual type was: {}",
                    type_name(v)
                )));
            }
        };
        let to = match a.int(1)? {
            Some(to) => {
                if to > len as i64 {
                    return Err(type_err(format!(
                        "toIndex must be smaller than input size: {len}"
                    )));
                }
                if from >= to {
                    return Err(type_err("toIndex must be greater than fromIndex"));
                }
                to as usize
            }
            None => len,
        };
        let from = (from as usize).min(to);
        Ok(match (chars, items) {
            (Some(c), _) => Value::from(c[from..to].iter().collect::<String>()),
            (_, Some(i)) => seq_value(i[from..to].to_vec()),
            _ => Value::from(()),
        })
    });
    add_filter(env, "sort", &[], false, |v, _| sorted(v, false));
    add_filter(env, "rsort", &[], false, |v, _| sorted(v, true));
    add_filter(env, "reverse", &[], false, |v, _| match v.kind() {
        ValueKind::None => Ok(Value::from(())),
        ValueKind::String => Ok(Value::from(
            v.as_str()
                .unwrap_or_default()
                .chars()
                .rev()
                .collect::<String>(),
        )),
        _ if is_seq(v) => {
            let mut items = seq_items(v);
            items.reverse();
            Ok(seq_value(items))
        }
        _ => Err(type_err(format!(
            "The 'reverse' filter can only be applied to a list, got {}",
            type_name(v)
        ))),
    });
    add_filter(env, "merge", &["items"], false, merge);
    add_filter(env, "flatten", &[], false, |v, _| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        if !is_seq(v) {
            return Err(type_err(
                "The 'flatten' filter can only be applied to lists.",
            ));
        }
        let mut out = Vec::new();
        for item in seq_items(v) {
            if is_seq(&item) {
                out.extend(seq_items(&item));
            } else {
                out.push(item);
            }
            check_list(out.len())?;
        }
        Ok(seq_value(out))
    });
    add_filter(env, "chunk", &["size"], false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        let size = a
            .int(0)?
            .ok_or_else(|| crate::error::func_err("'chunk' filter expects an argument 'size'."))?;
        if !is_seq(v) {
            return Err(type_err(format!(
                "'chunk' filter can only be applied to List. Actual type was: {}",
                type_name(v)
            )));
        }
        if size <= 0 {
            return Err(type_err(format!(
                "'chunk' filter argument 'size' must be greater than 0, got {size}"
            )));
        }
        let items = seq_items(v);
        Ok(seq_value(
            items
                .chunks(size as usize)
                .map(|c| seq_value(c.to_vec()))
                .collect(),
        ))
    });
    add_filter(env, "distinct", &[], false, |v, _| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        if !is_seq(v) {
            return Err(type_err(format!(
                "The 'distinct' filter can only be applied to a list, got {}",
                type_name(v)
            )));
        }
        let mut out: Vec<Value> = Vec::new();
        for item in seq_items(v) {
            if !out.iter().any(|o| values_eq(o, &item)) {
                out.push(item);
            }
        }
        Ok(seq_value(out))
    });
}

fn first_last(v: &Value, first: bool) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::None => Ok(Value::from(())),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            let c = if first {
                s.chars().next()
            } else {
                s.chars().next_back()
            };
            Ok(c.map_or_else(|| Value::from(()), |c| Value::from(c.to_string())))
        }
        _ if is_seq(v) => {
            let items = seq_items(v);
            let item = if first { items.first() } else { items.last() };
            Ok(item.cloned().unwrap_or_else(|| Value::from(())))
        }
        _ => Err(type_err(format!(
            "The '{}' filter can only be applied to a list or a string, got {}",
            if first { "first" } else { "last" },
            type_name(v)
        ))),
    }
}

fn sorted(v: &Value, reverse: bool) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    if !is_seq(v) {
        return Err(type_err(format!(
            "The sort filters can only be applied to a list, got {}",
            type_name(v)
        )));
    }
    let mut items = seq_items(v);
    items.sort_by(sort_cmp);
    if reverse {
        items.reverse();
    }
    Ok(seq_value(items))
}

fn merge(v: &Value, a: &super::ArgList) -> Result<Value, Error> {
    let items = a.get(0).cloned();
    let (input, items) = match (v.is_none(), items) {
        (true, None) => return Err(type_err("The two arguments to be merged are null")),
        (true, Some(i)) => return Ok(i),
        (false, None) => return Ok(v.clone()),
        (false, Some(i)) => (v, i),
    };
    if is_map(input) {
        let mut pairs = map_pairs(input);
        let mut put = |k: Value, val: Value| {
            if let Some(slot) = pairs.iter_mut().find(|(x, _)| values_eq(x, &k)) {
                slot.1 = val;
            } else {
                pairs.push((k, val));
            }
        };
        if is_map(&items) {
            for (k, val) in map_pairs(&items) {
                put(k, val);
            }
        } else if is_seq(&items) {
            for x in seq_items(&items) {
                put(x.clone(), x);
            }
        } else {
            return Err(type_err(
                "Currently, only Maps and Lists can be merged with a Map.",
            ));
        }
        return Ok(map_value(pairs));
    }
    if is_seq(input) {
        let mut out = seq_items(input);
        if is_seq(&items) {
            out.extend(seq_items(&items));
        } else if is_map(&items) {
            out.extend(
                map_pairs(&items)
                    .into_iter()
                    .map(|(key, value)| Value::from_object(MapEntry { key, value })),
            );
        } else {
            return Err(type_err(
                "Currently, only Maps and Lists can be merged with a List.",
            ));
        }
        check_list(out.len())?;
        return Ok(seq_value(out));
    }
    Err(type_err(
        "The object being filtered is not a Map/List/Array",
    ))
}
