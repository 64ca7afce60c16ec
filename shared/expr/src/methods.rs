//! Java bean methods callable on values (`s.length()`, `list.size()`, `map.containsKey(k)`,
//! `entry.getKey()`…), and their zero-argument property form (`s.length`, `list.size`).
//!
//! Pebble resolves `a.b(...)` through reflection on the Java object. Kestra values are
//! strings, numbers, lists and maps, so the commonly used `String`, `List` and `Map`
//! methods are reproduced here. Indexes count Unicode scalar values (Java counts UTF-16
//! units; they differ only outside the Basic Multilingual Plane).

use minijinja::value::{Rest, ValueKind};
use minijinja::{Error, Value};

use crate::convert::{
    MapEntry, Num, int, is_map, java_string, lookup, map_pairs, num, seq_items, seq_value,
    values_eq,
};
use crate::error::{func_err, type_err};
use crate::runtime::type_name;

/// `__kmeth(obj, "name", args…)`.
pub(crate) fn call_method(obj: Value, name: &str, args: Rest<Value>) -> Result<Value, Error> {
    if obj.is_undefined() || args.iter().any(Value::is_undefined) {
        return Ok(Value::UNDEFINED);
    }
    let args = &args.0;
    if let Some(v) = common(&obj, name, args)? {
        return Ok(v);
    }
    let res = if let Some(e) = obj.downcast_object_ref::<MapEntry>() {
        match name {
            "getKey" => Some(e.key.clone()),
            "getValue" => Some(e.value.clone()),
            _ => None,
        }
    } else {
        match obj.kind() {
            ValueKind::String => string_method(obj.as_str().unwrap_or_default(), name, args)?,
            ValueKind::Seq | ValueKind::Iterable => list_method(&obj, name, args)?,
            ValueKind::Map => map_method(&obj, name, args)?,
            ValueKind::Number => number_method(&obj, name)?,
            _ => None,
        }
    };
    res.ok_or_else(|| {
        func_err(format!(
            "Method [{name}] with {} argument(s) is not available on a {}",
            args.len(),
            type_name(&obj)
        ))
    })
}

/// `obj.name` without parentheses on a non-map: Pebble tries the getter / method.
pub(crate) fn zero_arg_property(obj: &Value, name: &str) -> Result<Option<Value>, Error> {
    let name = match name {
        "empty" => "isEmpty",
        "blank" => "isBlank",
        "class" => return Ok(None),
        n => n,
    };
    match call_method(obj.clone(), name, Rest(Vec::new())) {
        Ok(v) => Ok(Some(v)),
        Err(_) => Ok(None),
    }
}

fn common(obj: &Value, name: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    Ok(match (name, args) {
        ("toString", []) => Some(Value::from(java_string(obj))),
        ("equals", [other]) => Some(Value::from(values_eq(obj, other))),
        _ => None,
    })
}

fn arg_str(args: &[Value], i: usize) -> Result<String, Error> {
    match args.get(i) {
        Some(v) if v.kind() == ValueKind::String => Ok(v.as_str().unwrap_or_default().to_owned()),
        Some(v) => Ok(java_string(v)),
        None => Err(type_err("missing argument")),
    }
}

fn arg_int(args: &[Value], i: usize) -> Result<i64, Error> {
    args.get(i)
        .and_then(int)
        .ok_or_else(|| type_err("expected an integer argument"))
}

fn char_index(s: &str, byte: Option<usize>) -> i64 {
    byte.map_or(-1, |b| s[..b].chars().count() as i64)
}

fn substring(s: &str, from: i64, to: Option<i64>) -> Result<String, Error> {
    let len = s.chars().count() as i64;
    let to = to.unwrap_or(len);
    if from < 0 || to > len || from > to {
        return Err(type_err(format!("begin {from}, end {to}, length {len}")));
    }
    Ok(s.chars()
        .skip(from as usize)
        .take((to - from) as usize)
        .collect())
}

fn string_method(s: &str, name: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    Ok(Some(match (name, args.len()) {
        ("length", 0) => Value::from(s.chars().count()),
        ("isEmpty", 0) => Value::from(s.is_empty()),
        ("isBlank", 0) => Value::from(s.trim().is_empty()),
        ("toUpperCase", 0) => Value::from(s.to_uppercase()),
        ("toLowerCase", 0) => Value::from(s.to_lowercase()),
        ("trim" | "strip", 0) => Value::from(s.trim()),
        ("contains", 1) => Value::from(s.contains(&arg_str(args, 0)?)),
        ("startsWith", 1) => Value::from(s.starts_with(&arg_str(args, 0)?)),
        ("endsWith", 1) => Value::from(s.ends_with(&arg_str(args, 0)?)),
        ("equalsIgnoreCase", 1) => {
            Value::from(s.to_lowercase() == arg_str(args, 0)?.to_lowercase())
        }
        ("indexOf", 1) => Value::from(char_index(s, s.find(&arg_str(args, 0)?))),
        ("lastIndexOf", 1) => Value::from(char_index(s, s.rfind(&arg_str(args, 0)?))),
        ("substring", 1) => Value::from(substring(s, arg_int(args, 0)?, None)?),
        ("substring", 2) => Value::from(substring(s, arg_int(args, 0)?, Some(arg_int(args, 1)?))?),
        ("charAt", 1) => {
            let i = arg_int(args, 0)?;
            let c = usize::try_from(i).ok().and_then(|i| s.chars().nth(i));
            Value::from(
                c.ok_or_else(|| type_err(format!("index {i} out of bounds")))?
                    .to_string(),
            )
        }
        ("concat", 1) => Value::from(format!("{s}{}", arg_str(args, 0)?)),
        ("replace", 2) => {
            let out = s.replace(&arg_str(args, 0)?, &arg_str(args, 1)?);
            crate::runtime::check_len(out.len())?;
            Value::from(out)
        }
        ("replaceAll", 2) => {
            let out =
                crate::filters::strings::regex_replace(s, &arg_str(args, 0)?, &arg_str(args, 1)?)?;
            Value::from(out)
        }
        ("matches", 1) => {
            let re =
                crate::filters::strings::compile_regex(&format!("^(?:{})$", arg_str(args, 0)?))?;
            Value::from(re.is_match(s).map_err(|e| func_err(e.to_string()))?)
        }
        ("split", 1) => seq_value(
            crate::filters::strings::java_split(s, &arg_str(args, 0)?, 0)?
                .into_iter()
                .map(Value::from)
                .collect(),
        ),
        _ => return Ok(None),
    }))
}

fn list_method(obj: &Value, name: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let items = seq_items(obj);
    Ok(Some(match (name, args) {
        ("size", []) => Value::from(items.len()),
        ("isEmpty", []) => Value::from(items.is_empty()),
        ("get", [i]) => {
            let idx = int(i).ok_or_else(|| type_err("expected an integer index"))?;
            usize::try_from(idx)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .ok_or_else(|| {
                    type_err(format!(
                        "Index {idx} out of bounds for length {}",
                        items.len()
                    ))
                })?
        }
        ("contains", [x]) => Value::from(items.iter().any(|i| values_eq(i, x))),
        ("indexOf", [x]) => Value::from(
            items
                .iter()
                .position(|i| values_eq(i, x))
                .map_or(-1, |p| p as i64),
        ),
        ("subList", [a, b]) => {
            let (a, b) = (int(a).unwrap_or(-1), int(b).unwrap_or(-1));
            if a < 0 || b < a || b as usize > items.len() {
                return Err(type_err(format!(
                    "fromIndex {a}, toIndex {b}, size {}",
                    items.len()
                )));
            }
            seq_value(items[a as usize..b as usize].to_vec())
        }
        _ => return Ok(None),
    }))
}

fn map_method(obj: &Value, name: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    if !is_map(obj) {
        return Ok(None);
    }
    let pairs = map_pairs(obj);
    Ok(Some(match (name, args) {
        ("size", []) => Value::from(pairs.len()),
        ("isEmpty", []) => Value::from(pairs.is_empty()),
        ("get", [k]) => lookup(obj, k).unwrap_or_default(),
        ("getOrDefault", [k, d]) => lookup(obj, k).unwrap_or_else(|| d.clone()),
        ("containsKey", [k]) => Value::from(lookup(obj, k).is_some()),
        ("containsValue", [v]) => Value::from(pairs.iter().any(|(_, x)| values_eq(x, v))),
        ("keySet", []) => seq_value(pairs.into_iter().map(|(k, _)| k).collect()),
        ("values", []) => seq_value(pairs.into_iter().map(|(_, v)| v).collect()),
        ("entrySet", []) => seq_value(
            pairs
                .into_iter()
                .map(|(key, value)| Value::from_object(MapEntry { key, value }))
                .collect(),
        ),
        _ => return Ok(None),
    }))
}

fn number_method(obj: &Value, name: &str) -> Result<Option<Value>, Error> {
    let Some(n) = num(obj) else { return Ok(None) };
    Ok(Some(match name {
        "intValue" | "longValue" => Value::from(match n {
            Num::I(i) => i,
            Num::F(f) => f as i64,
        }),
        "doubleValue" | "floatValue" => Value::from(n.as_f64()),
        _ => return Ok(None),
    }))
}
