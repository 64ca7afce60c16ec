//! Kestra and Pebble functions (registered as `__kf_<name>`, see `preprocess/emit.rs`).
//!
//! I/O goes through the [`crate::Host`] of the current render: `now`, `secret`, `read`,
//! `fileSize`, `fileExists`, `isFileEmpty`, `kv`, `errorLogs`. `render`/`renderOnce`
//! render a string with the current variables; `currentEachOutput` walks `parents` and
//! `taskrun.value` to pick the current iteration's output.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, State, Value};

use crate::convert::{
    LongRange, compare, from_json, int, is_map, is_seq, lookup, seq_items, seq_value, text,
};
use crate::error::{func_err, limit_err, nested_err, type_err};
use crate::filters::ArgList;
use crate::filters::dates::{format_with, zone_arg};
use crate::runtime::{MAX_LIST, frame, type_name};

type FnImpl = fn(&ArgList) -> Result<Value, Error>;
type StateFnImpl = fn(&State<'_, '_>, &ArgList) -> Result<Value, Error>;

fn add_fn(
    env: &mut Environment<'static>,
    name: &'static str,
    names: &'static [&'static str],
    f: FnImpl,
) {
    env.add_function(
        format!("__kf_{name}"),
        move |rest: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            let args = ArgList::new(name, names, rest.0, Some(kwargs))?;
            if args.any_undefined() {
                return Ok(Value::UNDEFINED);
            }
            f(&args)
        },
    );
}

fn add_state_fn(
    env: &mut Environment<'static>,
    name: &'static str,
    names: &'static [&'static str],
    f: StateFnImpl,
) {
    env.add_function(
        format!("__kf_{name}"),
        move |state: &State<'_, '_>, rest: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            let args = ArgList::new(name, names, rest.0, Some(kwargs))?;
            if args.any_undefined() {
                return Ok(Value::UNDEFINED);
            }
            f(state, &args)
        },
    );
}

pub(crate) fn register(env: &mut Environment<'static>) {
    add_fn(
        env,
        "now",
        &["format", "timeZone", "existingFormat", "locale"],
        |a| {
            let zone = zone_arg(a, 1)?;
            let z = zone.at(frame()?.host.now());
            format_with(&z, a.str(0).as_deref())
        },
    );
    add_fn(env, "json", &["json"], parse_json);
    add_fn(env, "fromJson", &["json"], parse_json);
    add_fn(env, "yaml", &["yaml"], |a| match a.get(0) {
        None => Ok(Value::from(())),
        Some(v) => {
            let s = text(v);
            let parsed: serde_json::Value = serde_saphyr::from_str(&s)
                .map_err(|e| func_err(format!("Unable to parse the YAML value: {e}")))?;
            Ok(from_json(&parsed))
        }
    });
    add_fn(env, "secret", &["key"], |a| {
        let key = a.req_str(0)?;
        frame()?
            .host
            .secret(&key)
            .map(Value::from)
            .map_err(func_err)
    });
    add_fn(env, "read", &["path"], |a| {
        let path = a.req_str(0)?;
        let content = frame()?.host.read(&path).map_err(func_err)?;
        crate::runtime::check_len(content.len())?;
        Ok(Value::from(content))
    });
    add_fn(env, "fileSize", &["path"], |a| {
        let path = a.req_str(0)?;
        frame()?
            .host
            .file_size(&path)
            .map(Value::from)
            .map_err(func_err)
    });
    add_fn(env, "fileExists", &["path"], |a| {
        let path = a.req_str(0)?;
        frame()?
            .host
            .file_exists(&path)
            .map(Value::from)
            .map_err(func_err)
    });
    add_fn(env, "isFileEmpty", &["path"], |a| {
        let path = a.req_str(0)?;
        frame()?
            .host
            .file_size(&path)
            .map(|s| Value::from(s == 0))
            .map_err(func_err)
    });
    add_fn(env, "kv", &["key", "namespace", "errorOnMissing"], |a| {
        let key = a.req_str(0)?;
        let ns = a.str(1);
        let error_on_missing = a.bool(2)?.unwrap_or(false);
        frame()?
            .host
            .kv(ns.as_deref(), &key, error_on_missing)
            .map(|v| from_json(&v))
            .map_err(func_err)
    });
    add_fn(env, "errorLogs", &[], |_| {
        Ok(seq_value(
            frame()?.host.error_logs().iter().map(from_json).collect(),
        ))
    });
    add_fn(env, "range", &["start", "end", "increment"], |a| {
        let (Some(start), Some(end)) = (a.get(0), a.get(1)) else {
            return Err(func_err(
                "The 'range' function expects the arguments 'start' and 'end'.",
            ));
        };
        let step = a.int(2)?.unwrap_or(1);
        range(start, end, step)
    });
    add_fn(env, "min", &["*"], |a| extremum(a, true));
    add_fn(env, "max", &["*"], |a| extremum(a, false));
    add_fn(env, "uuid", &[], |_| {
        Ok(Value::from(uuid::Uuid::new_v4().to_string()))
    });
    add_fn(env, "id", &[], |_| {
        Ok(Value::from(base62(uuid::Uuid::new_v4().as_u128())))
    });
    add_fn(env, "randomInt", &["lower", "upper"], |a| {
        let lower = a.req_int(0)?;
        let upper = a.req_int(1)?;
        if upper <= lower {
            return Err(func_err(
                "The 'randomInt' function expects 'upper' to be greater than 'lower'.",
            ));
        }
        let span = (i128::from(upper) - i128::from(lower)) as u128;
        let r = uuid::Uuid::new_v4().as_u128() % span;
        Ok(Value::from((i128::from(lower) + r as i128) as i64))
    });
    add_state_fn(env, "render", &["template", "recursive"], |state, a| {
        let recursive = a.bool(1)?.unwrap_or(true);
        render_fn(state, a, recursive)
    });
    add_state_fn(env, "renderOnce", &["template"], |state, a| {
        render_fn(state, a, false)
    });
    add_state_fn(env, "currentEachOutput", &["outputs"], current_each_output);
    add_state_fn(env, "printContext", &[], |state, _| Ok(context_map(state)));
    add_state_fn(env, "fetchContext", &[], |state, _| Ok(context_map(state)));
}

fn parse_json(a: &ArgList) -> Result<Value, Error> {
    match a.get(0) {
        None => Ok(Value::from(())),
        Some(v) if v.kind() != ValueKind::String => Ok(v.clone()),
        Some(v) => {
            let s = v.as_str().unwrap_or_default();
            let parsed: serde_json::Value = serde_json::from_str(s)
                .map_err(|e| func_err(format!("Invalid JSON value '{}': {e}", truncate(s))))?;
            Ok(from_json(&parsed))
        }
    }
}

fn truncate(s: &str) -> String {
    let end = s.char_indices().nth(100).map_or(s.len(), |(i, _)| i);
    if end < s.len() {
        format!("{}…", &s[..end])
    } else {
        s.to_owned()
    }
}

/// Pebble's inclusive `range(start, end, step)`, lazily materialised.
pub(crate) fn range(start: &Value, end: &Value, step: i64) -> Result<Value, Error> {
    if step == 0 {
        return Err(func_err(
            "The increment of the range function must be different than 0",
        ));
    }
    if let (Some(s), Some(e)) = (start.as_str(), end.as_str()) {
        let (mut sc, mut ec) = (s.chars(), e.chars());
        let (Some(a), None, Some(b), None) = (sc.next(), sc.next(), ec.next(), ec.next()) else {
            return Err(func_err(
                "Arguments of range function must be of type Number or String with a length of 1",
            ));
        };
        let (a, b) = (i64::from(u32::from(a)), i64::from(u32::from(b)));
        let mut out = Vec::new();
        let mut i = a;
        while (step > 0 && i <= b) || (step < 0 && i >= b) {
            if let Some(c) = u32::try_from(i).ok().and_then(char::from_u32) {
                out.push(Value::from(c.to_string()));
            }
            if out.len() > MAX_LIST {
                return Err(limit_err("The range function produced too many elements"));
            }
            i += step;
        }
        return Ok(seq_value(out));
    }
    let (Some(s), Some(e)) = (int(start), int(end)) else {
        return Err(func_err(
            "Arguments of range function must be of type Number or String with a length of 1",
        ));
    };
    let count: i128 = if (step > 0 && e < s) || (step < 0 && e > s) {
        0
    } else {
        (i128::from(e) - i128::from(s)).abs() / i128::from(step).abs() + 1
    };
    if count > MAX_LIST as i128 {
        return Err(limit_err(format!(
            "The range function cannot produce more than {MAX_LIST} elements, but this call would produce {count}."
        )));
    }
    Ok(Value::from_object(LongRange {
        start: s,
        step,
        len: count as usize,
    }))
}

fn extremum(a: &ArgList, min: bool) -> Result<Value, Error> {
    let mut items: Vec<Value> = a.all().cloned().collect();
    if items.len() == 1 && is_seq(&items[0]) {
        items = seq_items(&items[0]);
    }
    let mut best: Option<Value> = None;
    for it in items {
        if it.is_none() {
            continue;
        }
        best = Some(match best {
            None => it,
            Some(b) => {
                let ord = compare(&it, &b).ok_or_else(|| {
                    type_err(format!(
                        "Can not compare a {} with a {}",
                        type_name(&it),
                        type_name(&b)
                    ))
                })?;
                if (min && ord.is_lt()) || (!min && ord.is_gt()) {
                    it
                } else {
                    b
                }
            }
        });
    }
    Ok(best.unwrap_or_else(|| Value::from(())))
}

fn base62(mut n: u128) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < 22 {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// All variables visible at this point (root variables and locals).
fn context_map(state: &State<'_, '_>) -> Value {
    let pairs: Vec<(Value, Value)> = state
        .known_variables()
        .into_iter()
        .filter(|n| !n.starts_with("__k") && n != "loop")
        .filter_map(|n| state.lookup(&n).map(|v| (Value::from(n.as_ref()), v)))
        .filter(|(_, v)| !v.is_undefined())
        .collect();
    crate::runtime::map_from(pairs)
}

fn render_fn(state: &State<'_, '_>, a: &ArgList, recursive: bool) -> Result<Value, Error> {
    let Some(tpl) = a.get(0) else {
        return Ok(Value::from(()));
    };
    let Some(tpl) = tpl.as_str().filter(|_| tpl.kind() == ValueKind::String) else {
        return Ok(tpl.clone());
    };
    let root = context_map(state);
    crate::engine::render_nested(state.env(), tpl, &root, recursive)
        .map(Value::from)
        .map_err(nested_err)
}

fn current_each_output(state: &State<'_, '_>, a: &ArgList) -> Result<Value, Error> {
    let Some(mut outputs) = a.get(0).cloned() else {
        return Err(func_err(
            "The 'currentEachOutput' function expects an argument 'outputs'.",
        ));
    };
    if !is_map(&outputs) {
        return Err(func_err(
            "The 'currentEachOutput' function expects an argument 'outputs' with type map.",
        ));
    }
    let parents = state
        .lookup("parents")
        .filter(is_seq)
        .map(|p| seq_items(&p))
        .unwrap_or_default();
    for parent in parents.iter().rev() {
        let Some(value) =
            lookup(parent, &Value::from("taskrun")).and_then(|t| lookup(&t, &Value::from("value")))
        else {
            continue;
        };
        match lookup(&outputs, &value) {
            Some(next) if !next.is_none() => outputs = next,
            _ => return Ok(Value::from(())),
        }
    }
    let value = state
        .lookup("taskrun")
        .and_then(|t| lookup(&t, &Value::from("value")))
        .unwrap_or_else(|| Value::from(()));
    Ok(lookup(&outputs, &value).unwrap_or_else(|| Value::from(())))
}
