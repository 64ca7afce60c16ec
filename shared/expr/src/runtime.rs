//! Runtime helpers called by the generated templates (see `preprocess/emit.rs`), the
//! output formatter, and the per-render [`Frame`] (host, variables, limits).
//!
//! Every helper propagates `undefined`: if an operand is undefined the result is
//! undefined. Undefined values only exist inside the operand of a catching construct
//! (`??`, `???`, `default`, `is defined`, `is null`), because strict paths (`__ks`)
//! fail as soon as something is missing; propagation makes the whole operand
//! "missing", which is what Pebble's exception-based catching does.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, Output, State, Value};
use serde_json::{Map, Value as Json};

use crate::EngineConfig;
use crate::convert::{
    self, MapEntry, Num, compare, is_map, is_nullish, is_seq, java_string, lookup, map_pairs,
    map_value, num, seq_items, seq_value, text, truthy, values_eq,
};
use crate::error::{limit_err, type_err, undefined_err};
use crate::host::Host;

/// What helpers need to know about the render in progress.
pub(crate) struct Frame {
    pub(crate) host: Arc<dyn Host>,
    pub(crate) vars: Arc<Map<String, Json>>,
    pub(crate) config: EngineConfig,
    /// Nesting level of `render()` calls (0 for the top-level render).
    pub(crate) depth: usize,
}

thread_local! {
    static FRAMES: RefCell<Vec<Rc<Frame>>> = const { RefCell::new(Vec::new()) };
}

/// Pops the frame pushed by [`push_frame`] when dropped.
pub(crate) struct FrameGuard(());

impl Drop for FrameGuard {
    fn drop(&mut self) {
        FRAMES.with(|f| {
            f.borrow_mut().pop();
        });
    }
}

/// Makes `frame` the current frame of this thread until the guard is dropped.
pub(crate) fn push_frame(frame: Frame) -> FrameGuard {
    FRAMES.with(|f| f.borrow_mut().push(Rc::new(frame)));
    FrameGuard(())
}

/// The frame of the render in progress on this thread.
pub(crate) fn frame() -> Result<Rc<Frame>, Error> {
    FRAMES
        .with(|f| f.borrow().last().cloned())
        .ok_or_else(|| crate::error::func_err("no render in progress"))
}

/// Maximum size of any string built by a helper (the output limit).
pub(crate) fn max_string() -> usize {
    frame().map_or(usize::MAX, |f| f.config.max_output_bytes)
}

/// Fails when a string of `len` bytes would exceed the output limit.
pub(crate) fn check_len(len: usize) -> Result<(), Error> {
    let max = max_string();
    if len > max {
        return Err(limit_err(format!(
            "The rendered value exceeds the maximum allowed size of {max} bytes"
        )));
    }
    Ok(())
}

/// Maximum number of elements of a list built by an expression.
pub(crate) const MAX_LIST: usize = 1_000_000;

/// Fails when a list of `len` elements would be too large.
pub(crate) fn check_list(len: usize) -> Result<(), Error> {
    if len > MAX_LIST {
        return Err(limit_err(format!(
            "A list cannot have more than {MAX_LIST} elements, but this one would have {len}"
        )));
    }
    Ok(())
}

/// The output formatter: Kestra's `JsonWriter` rules (see [`convert::print_string`]).
pub(crate) fn format_value(
    out: &mut Output<'_>,
    _state: &mut State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    let res = match value.as_str() {
        Some(s) if value.kind() == ValueKind::String => out.write_str(s),
        _ => out.write_str(&convert::print_string(value)),
    };
    res.map_err(|_| {
        Error::new(
            minijinja::ErrorKind::WriteFailure,
            "unable to write the output",
        )
    })
}

/// Registers the helpers in `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function("__ks", strict_path);
    env.add_function("__kl", lenient_path);
    env.add_function("__kvar", |state: &State<'_, '_>, name: &str| {
        state.lookup(name).unwrap_or_default()
    });
    env.add_function("__kmeth", crate::methods::call_method);
    env.add_function("__kb", |v: Value| {
        if v.is_undefined() {
            v
        } else {
            Value::from(truthy(&v))
        }
    });
    env.add_function("__keq", |a: Value, b: Value| {
        both(&a, &b, || Value::from(values_eq(&a, &b)))
    });
    env.add_function("__kne", |a: Value, b: Value| {
        both(&a, &b, || Value::from(!values_eq(&a, &b)))
    });
    env.add_function("__klt", |a: Value, b: Value| {
        cmp(a, b, "LESS_THAN", |o| o.is_lt())
    });
    env.add_function("__kgt", |a: Value, b: Value| {
        cmp(a, b, "GREATER_THAN", |o| o.is_gt())
    });
    env.add_function("__kle", |a: Value, b: Value| {
        cmp(a, b, "LESS_THAN_EQUALS", |o| o.is_le())
    });
    env.add_function("__kge", |a: Value, b: Value| {
        cmp(a, b, "GREATER_THAN_EQUALS", |o| o.is_ge())
    });
    env.add_function("__karith", arith_chain);
    env.add_function("__kcat", concat);
    env.add_function("__kcontains", contains);
    env.add_function("__kneg", |v: Value| unary(v, true));
    env.add_function("__kpos", |v: Value| unary(v, false));
    env.add_function("__kcw", |v: Value| {
        if is_nullish(&v) {
            Value::from(false)
        } else {
            seq_value(vec![v])
        }
    });
    env.add_function("__kcwu", |v: Value| {
        if v.is_undefined() {
            Value::from(false)
        } else {
            seq_value(vec![v])
        }
    });
    env.add_function("__kiter", iterate);
    env.add_function("__kt_defined", |v: Value, _: Rest<Value>| {
        Value::from(!is_nullish(&v))
    });
    env.add_function("__kt_null", |v: Value, _: Rest<Value>| {
        Value::from(is_nullish(&v))
    });
    env.add_function("__kt_empty", |v: Value, _: Rest<Value>| {
        prop(&v, || Ok(Value::from(is_empty(&v))))
    });
    env.add_function("__kt_even", |v: Value, _: Rest<Value>| {
        prop(&v, || parity(&v, 0))
    });
    env.add_function("__kt_odd", |v: Value, _: Rest<Value>| {
        prop(&v, || parity(&v, 1))
    });
    env.add_function("__kt_iterable", |v: Value, _: Rest<Value>| {
        prop(&v, || Ok(Value::from(is_seq(&v))))
    });
    env.add_function("__kt_map", |v: Value, _: Rest<Value>| {
        prop(&v, || Ok(Value::from(is_map(&v))))
    });
    env.add_function("__kt_json", |v: Value, _: Rest<Value>| {
        prop(&v, || {
            Ok(Value::from(v.as_str().is_some_and(|s| {
                serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
            })))
        })
    });
}

fn prop(v: &Value, f: impl FnOnce() -> Result<Value, Error>) -> Result<Value, Error> {
    if v.is_undefined() {
        Ok(Value::UNDEFINED)
    } else {
        f()
    }
}

fn both(a: &Value, b: &Value, f: impl FnOnce() -> Value) -> Value {
    if a.is_undefined() || b.is_undefined() {
        Value::UNDEFINED
    } else {
        f()
    }
}

/// Pebble's empty test: null, blank string, empty collection.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::String => v.as_str().unwrap_or_default().trim().is_empty(),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => v.len() == Some(0),
        _ => false,
    }
}

fn parity(v: &Value, rem: i64) -> Result<Value, Error> {
    match num(v) {
        Some(Num::I(i)) => Ok(Value::from(i.rem_euclid(2) == rem)),
        Some(Num::F(f)) => Ok(Value::from((f as i64).rem_euclid(2) == rem)),
        None => Err(type_err(format!(
            "Can not perform an even/odd test on a {}",
            type_name(v)
        ))),
    }
}

/// Human type name used in messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "undefined value",
        ValueKind::None => "null",
        ValueKind::Bool => "boolean",
        ValueKind::Number => {
            if v.is_integer() {
                "integer"
            } else {
                "number"
            }
        }
        ValueKind::String => "string",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "map",
        _ => "object",
    }
}

fn key_display(k: &Value) -> String {
    match k.as_str() {
        Some(s) => s.to_owned(),
        None => java_string(k),
    }
}

/// One attribute step; falls back to a zero-argument method for non-maps (`s.length`).
fn step(cur: &Value, key: &Value) -> Result<Option<Value>, Error> {
    if let Some(v) = lookup(cur, key) {
        return Ok(Some(v));
    }
    if !is_map(cur)
        && !cur.is_none()
        && let Some(name) = key.as_str()
    {
        return crate::methods::zero_arg_property(cur, name);
    }
    Ok(None)
}

fn strict_path(name: Value, root: Value, keys: Rest<Value>) -> Result<Value, Error> {
    if root.is_undefined() {
        return Err(undefined_err(
            name.as_str()
                .map_or_else(|| "value".to_owned(), str::to_owned),
        ));
    }
    let mut cur = root;
    for key in keys.iter() {
        if key.is_undefined() {
            return Ok(Value::UNDEFINED);
        }
        match step(&cur, key)? {
            Some(v) => cur = v,
            None => return Err(undefined_err(key_display(key))),
        }
    }
    Ok(cur)
}

fn lenient_path(root: Value, keys: Rest<Value>) -> Result<Value, Error> {
    let mut cur = root;
    for key in keys.iter() {
        if cur.is_undefined() || key.is_undefined() {
            return Ok(Value::UNDEFINED);
        }
        match step(&cur, key) {
            Ok(Some(v)) => cur = v,
            _ => return Ok(Value::UNDEFINED),
        }
    }
    Ok(cur)
}

fn cmp(
    a: Value,
    b: Value,
    what: &str,
    f: impl FnOnce(std::cmp::Ordering) -> bool,
) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    if a.is_none() || b.is_none() {
        return Ok(Value::from(false));
    }
    match compare(&a, &b) {
        Some(o) => Ok(Value::from(f(o))),
        None => Err(type_err(format!(
            "invalid operands for mathematical comparison [{what}]: {} and {}",
            type_name(&a),
            type_name(&b)
        ))),
    }
}

fn arith_chain(args: Rest<Value>) -> Result<Value, Error> {
    let mut it = args.0.into_iter();
    let mut acc = it.next().unwrap_or_default();
    while let (Some(op), Some(rhs)) = (it.next(), it.next()) {
        acc = arith(&acc, op.as_str().unwrap_or("+"), &rhs)?;
    }
    Ok(acc)
}

/// Pebble's `OperatorUtils` for `+ - * / %`.
pub(crate) fn arith(a: &Value, op: &str, b: &Value) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    if op == "+" && (a.kind() == ValueKind::String || b.kind() == ValueKind::String) {
        let (x, y) = (java_string(a), java_string(b));
        check_len(x.len() + y.len())?;
        return Ok(Value::from(x + &y));
    }
    if is_seq(a) && (op == "+" || op == "-") {
        let mut items = seq_items(a);
        let others = if is_seq(b) {
            seq_items(b)
        } else {
            vec![b.clone()]
        };
        if op == "+" {
            check_list(items.len() + others.len())?;
            items.extend(others);
        } else if is_seq(b) {
            items.retain(|x| !others.iter().any(|o| values_eq(x, o)));
        } else if let Some(pos) = items.iter().position(|x| values_eq(x, b)) {
            items.remove(pos);
        }
        return Ok(seq_value(items));
    }
    let name = match op {
        "+" => "ADD",
        "-" => "SUBTRACT",
        "*" => "MULTIPLICATION",
        "/" => "DIVISION",
        _ => "MODULUS",
    };
    let (Some(x), Some(y)) = (num(a), num(b)) else {
        return Err(type_err(format!(
            "invalid operands for mathematical operation [{name}]: {} and {}",
            type_name(a),
            type_name(b)
        )));
    };
    Ok(match (x, y) {
        (Num::I(x), Num::I(y)) => Value::from(match op {
            "+" => x.wrapping_add(y),
            "-" => x.wrapping_sub(y),
            "*" => x.wrapping_mul(y),
            "/" | "%" if y == 0 => return Err(type_err("/ by zero")),
            "/" => x.wrapping_div(y),
            _ => x.wrapping_rem(y),
        }),
        _ => {
            let (x, y) = (x.as_f64(), y.as_f64());
            Value::from(match op {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "/" => x / y,
                _ => x % y,
            })
        }
    })
}

fn unary(v: Value, negate: bool) -> Result<Value, Error> {
    if v.is_undefined() {
        return Ok(v);
    }
    match num(&v) {
        Some(Num::I(i)) => Ok(Value::from(if negate { i.wrapping_neg() } else { i })),
        Some(Num::F(f)) => Ok(Value::from(if negate { -f } else { f })),
        None => Err(type_err(format!(
            "invalid operand for unary {}: {}",
            if negate { "minus" } else { "plus" },
            type_name(&v)
        ))),
    }
}

fn concat(args: Rest<Value>) -> Result<Value, Error> {
    if args.iter().any(Value::is_undefined) {
        return Ok(Value::UNDEFINED);
    }
    let mut out = String::new();
    for a in args.iter() {
        if let Some(s) = a.as_str() {
            out.push_str(s);
        } else if !a.is_none() {
            out.push_str(&java_string(a));
        }
        check_len(out.len())?;
    }
    Ok(Value::from(out))
}

fn contains(a: Value, b: Value) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    if a.is_none() {
        return Ok(Value::from(false));
    }
    Ok(Value::from(match a.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            let items = seq_items(&a);
            if is_seq(&b) {
                seq_items(&b)
                    .iter()
                    .all(|x| items.iter().any(|i| values_eq(i, x)))
            } else {
                items.iter().any(|i| values_eq(i, &b))
            }
        }
        ValueKind::Map => map_pairs(&a)
            .iter()
            .any(|(k, _)| values_eq(k, &b) || text(k) == text(&b)),
        ValueKind::String => a.as_str().unwrap_or_default().contains(&java_string(&b)),
        _ => {
            return Err(type_err(format!(
                "Contains operator can only be used on Collections, Maps and Strings. Actual type was: {}",
                type_name(&a)
            )));
        }
    }))
}

fn iterate(v: Value) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::Undefined => Ok(v),
        ValueKind::None => Ok(seq_value(Vec::new())),
        ValueKind::Seq | ValueKind::Iterable => Ok(v),
        ValueKind::Map if is_map(&v) => Ok(seq_value(
            map_pairs(&v)
                .into_iter()
                .map(|(key, value)| Value::from_object(MapEntry { key, value }))
                .collect(),
        )),
        _ => Err(type_err(format!(
            "Not an iterable object. Value = [{}]",
            java_string(&v)
        ))),
    }
}

/// Builds a map value from JSON-like pairs (helper for functions/filters).
pub(crate) fn map_from(pairs: Vec<(Value, Value)>) -> Value {
    map_value(pairs)
}
