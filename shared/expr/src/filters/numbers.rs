//! Number filters: `abs`, `numberformat` (Java `DecimalFormat` subset), `number`
//! (Kestra: parse a string, optionally to a given type) and `className`.

use minijinja::value::ValueKind;
use minijinja::{Environment, Value};

use super::add_filter;
use crate::convert::{Num, num};
use crate::error::type_err;
use crate::java_format;
use crate::runtime::type_name;

pub(crate) fn register(env: &mut Environment<'static>) {
    add_filter(env, "abs", &[], false, |v, _| match num(v) {
        _ if v.is_none() => Ok(Value::from(())),
        Some(Num::I(i)) => Ok(Value::from(i.wrapping_abs())),
        Some(Num::F(f)) => Ok(Value::from(f.abs())),
        None => Err(type_err(format!(
            "The 'abs' filter expects a number, got {}",
            type_name(v)
        ))),
    });
    // Pebble's name, and the name Kestra registers it under
    add_filter(env, "numberformat", &["format"], false, number_format);
    add_filter(env, "numberFormat", &["format"], false, number_format);
    add_filter(env, "number", &["type"], false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        if v.kind() != ValueKind::String {
            return Err(type_err(format!(
                "'number' filter can only be applied to String. Actual type was: {}",
                type_name(v)
            )));
        }
        let kind = a.str(0).unwrap_or_default();
        java_format::parse_number(v.as_str().unwrap_or_default(), &kind).map(Num::into_value)
    });
    add_filter(env, "className", &[], false, |v, _| {
        Ok(match v.kind() {
            ValueKind::None => Value::from(()),
            _ => Value::from(class_name(v)),
        })
    });
}

fn number_format(v: &Value, a: &super::ArgList) -> Result<Value, minijinja::Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let n = num(v)
        .ok_or_else(|| type_err("The input for the 'NumberFormat' filter has to be a number."))?;
    let pattern = a.str(0).unwrap_or_else(|| "#,##0.###".to_owned());
    Ok(Value::from(java_format::decimal_format(n, &pattern)?))
}

/// The Java class a Jackson-deserialised value would have.
fn class_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Bool => "java.lang.Boolean",
        ValueKind::Number => match num(v) {
            Some(Num::I(i)) if i32::try_from(i).is_ok() => "java.lang.Integer",
            Some(Num::I(_)) => "java.lang.Long",
            Some(Num::F(_)) => "java.lang.Double",
            None => "java.math.BigInteger",
        },
        ValueKind::String => "java.lang.String",
        ValueKind::Seq | ValueKind::Iterable => "java.util.ArrayList",
        ValueKind::Map => "java.util.LinkedHashMap",
        _ => "java.lang.Object",
    }
}
