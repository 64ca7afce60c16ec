//! Date filters: `date(format, timeZone, existingFormat, locale)`,
//! `dateAdd(amount, unit, format, timeZone, existingFormat, locale)`, `timestamp`,
//! `timestampMicro`, `timestampNano` (see `dates.rs` for the conversion rules).

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value};

use super::{ArgList, add_filter};
use crate::convert::{Num, num};
use crate::dates::{self, DateInput, Zdt, Zone};
use crate::error::{func_err, type_err};
use crate::runtime::type_name;

const DATE_ARGS: &[&str] = &["format", "timeZone", "existingFormat", "locale"];

pub(crate) fn register(env: &mut Environment<'static>) {
    add_filter(env, "date", DATE_ARGS, false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        let zone = zone_arg(a, 1)?;
        let z = to_zdt(v, &zone, a.str(2).as_deref())?;
        format_with(&z, a.str(0).as_deref())
    });
    add_filter(
        env,
        "dateAdd",
        &[
            "amount",
            "unit",
            "format",
            "timeZone",
            "existingFormat",
            "locale",
        ],
        false,
        |v, a| {
            if v.is_none() {
                return Ok(Value::from(()));
            }
            let amount = a
                .int(0)?
                .ok_or_else(|| func_err("The 'dateAdd' filter expects an argument 'amount'."))?;
            let unit = a
                .str(1)
                .ok_or_else(|| func_err("The 'dateAdd' filter expects an argument 'unit'."))?;
            let zone = zone_arg(a, 3)?;
            let z = to_zdt(v, &zone, a.str(4).as_deref())?;
            let z = dates::add(&z, amount, &unit, &zone).map_err(func_err)?;
            format_with(&z, a.str(2).as_deref())
        },
    );
    add_filter(
        env,
        "timestamp",
        &["timeZone", "existingFormat"],
        false,
        |v, a| stamp(v, a, |z| Value::from(z.epoch_seconds())),
    );
    add_filter(
        env,
        "timestampMicro",
        &["timeZone", "existingFormat"],
        false,
        |v, a| {
            stamp(v, a, |z| {
                Value::from(
                    (i128::from(z.epoch_seconds()) * 1_000_000 + i128::from(z.nanos() / 1000))
                        .to_string(),
                )
            })
        },
    );
    add_filter(
        env,
        "timestampNano",
        &["timeZone", "existingFormat"],
        false,
        |v, a| {
            stamp(v, a, |z| {
                Value::from(
                    (i128::from(z.epoch_seconds()) * 1_000_000_000 + i128::from(z.nanos()))
                        .to_string(),
                )
            })
        },
    );
}

fn stamp(v: &Value, a: &ArgList, f: impl FnOnce(&Zdt) -> Value) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let zone = zone_arg(a, 0)?;
    let z = to_zdt(v, &zone, a.str(1).as_deref())?;
    Ok(f(&z))
}

/// The `timeZone` argument at `i` (UTC when absent).
pub(crate) fn zone_arg(a: &ArgList, i: usize) -> Result<Zone, Error> {
    match a.str(i) {
        Some(z) => Zone::parse(&z).map_err(func_err),
        None => Ok(Zone::utc()),
    }
}

/// Converts a filter input into a zoned date-time.
pub(crate) fn to_zdt(v: &Value, zone: &Zone, existing: Option<&str>) -> Result<Zdt, Error> {
    let input = match v.kind() {
        ValueKind::String => DateInput::Text(v.as_str().unwrap_or_default()),
        ValueKind::Number => DateInput::Epoch(match num(v) {
            Some(Num::I(i)) => i as f64,
            Some(Num::F(f)) => f,
            None => return Err(type_err("invalid epoch value")),
        }),
        _ => {
            return Err(type_err(format!(
                "Unable to convert a {} to a date",
                type_name(v)
            )));
        }
    };
    dates::convert(input, zone, existing).map_err(func_err)
}

/// Formats with the `format` argument (default `iso`).
pub(crate) fn format_with(z: &Zdt, format: Option<&str>) -> Result<Value, Error> {
    dates::format(z, format.unwrap_or("iso"))
        .map(Value::from)
        .map_err(func_err)
}
