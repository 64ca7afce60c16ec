//! Pebble and Kestra filters, split by family.
//!
//! Every filter receives its input and an [`ArgList`] that maps positional arguments
//! onto Pebble's argument names, so `date('yyyy')` and `date(format='yyyy')` are the
//! same call, and unknown named arguments are rejected like Pebble does. A filter whose
//! input or arguments are undefined returns undefined (see `runtime.rs`), except
//! `default`, which exists to replace it.

pub(crate) mod collections;
pub(crate) mod dates;
pub(crate) mod encoding;
pub(crate) mod numbers;
pub(crate) mod strings;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, Value};

use crate::convert::{int, java_string};
use crate::error::type_err;

/// Arguments of a filter or function call, addressable by position or Pebble name.
#[derive(Debug)]
pub(crate) struct ArgList {
    what: &'static str,
    names: &'static [&'static str],
    values: Vec<Option<Value>>,
}

impl ArgList {
    /// Maps `pos` and `kwargs` onto `names`.
    pub(crate) fn new(
        what: &'static str,
        names: &'static [&'static str],
        pos: Vec<Value>,
        kwargs: Option<Kwargs>,
    ) -> Result<Self, Error> {
        if pos.len() > names.len() && !names.contains(&"*") {
            return Err(type_err(format!(
                "'{what}' accepts at most {} argument(s) but {} were given",
                names.len(),
                pos.len()
            )));
        }
        let mut values: Vec<Option<Value>> = vec![None; names.len().max(pos.len())];
        for (i, v) in pos.into_iter().enumerate() {
            values[i] = Some(v);
        }
        if let Some(kw) = kwargs {
            for name in kw.args() {
                let Some(i) = names.iter().position(|n| *n == name) else {
                    return Err(type_err(format!(
                        "The argument '{name}' is not supported by '{what}'"
                    )));
                };
                values[i] = Some(kw.peek::<Value>(name)?);
            }
        }
        Ok(Self {
            what,
            names,
            values,
        })
    }

    /// Whether any argument is undefined.
    pub(crate) fn any_undefined(&self) -> bool {
        self.values.iter().flatten().any(Value::is_undefined)
    }

    /// Argument `i` (`None` when absent or null).
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        self.values
            .get(i)
            .and_then(Option::as_ref)
            .filter(|v| !v.is_none())
    }

    /// All positional values (for variadic functions).
    pub(crate) fn all(&self) -> impl Iterator<Item = &Value> {
        self.values.iter().flatten()
    }

    /// Whether argument `i` was given (even as null).
    pub(crate) fn has(&self, i: usize) -> bool {
        self.values.get(i).is_some_and(Option::is_some)
    }

    fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("argument")
    }

    /// Argument `i` as a string (non-strings are converted with `toString`).
    pub(crate) fn str(&self, i: usize) -> Option<String> {
        self.get(i).map(|v| match v.as_str() {
            Some(s) if v.kind() == ValueKind::String => s.to_owned(),
            _ => java_string(v),
        })
    }

    /// Required string argument.
    pub(crate) fn req_str(&self, i: usize) -> Result<String, Error> {
        self.str(i).ok_or_else(|| self.missing(i))
    }

    /// Argument `i` as an integer.
    pub(crate) fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => int(v).map(Some).ok_or_else(|| {
                type_err(format!(
                    "The argument '{}' of '{}' must be a number, got {}",
                    self.name(i),
                    self.what,
                    crate::runtime::type_name(v)
                ))
            }),
        }
    }

    /// Required integer argument.
    pub(crate) fn req_int(&self, i: usize) -> Result<i64, Error> {
        self.int(i)?.ok_or_else(|| self.missing(i))
    }

    /// Argument `i` as a boolean.
    pub(crate) fn bool(&self, i: usize) -> Result<Option<bool>, Error> {
        match self.get(i) {
            None => Ok(None),
            Some(v) if v.kind() == ValueKind::Bool => Ok(Some(v.is_true())),
            Some(v) => Err(type_err(format!(
                "The argument '{}' of '{}' must be a boolean, got {}",
                self.name(i),
                self.what,
                crate::runtime::type_name(v)
            ))),
        }
    }

    /// Error for a missing required argument.
    pub(crate) fn missing(&self, i: usize) -> Error {
        crate::error::func_err(format!(
            "The '{}' filter or function expects an argument '{}'.",
            self.what,
            self.name(i)
        ))
    }
}

/// A filter implementation.
pub(crate) type FilterFn = fn(&Value, &ArgList) -> Result<Value, Error>;

/// Registers a filter; `catch_undefined` lets an undefined input through (for `default`).
pub(crate) fn add_filter(
    env: &mut Environment<'static>,
    name: &'static str,
    names: &'static [&'static str],
    catch_undefined: bool,
    f: FilterFn,
) {
    env.add_filter(
        name,
        move |input: Value, rest: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            let args = ArgList::new(name, names, rest.0, Some(kwargs))?;
            if (!catch_undefined && input.is_undefined()) || args.any_undefined() {
                return Ok(Value::UNDEFINED);
            }
            f(&input, &args)
        },
    );
}

/// Registers every filter.
pub(crate) fn register(env: &mut Environment<'static>) {
    strings::register(env);
    collections::register(env);
    numbers::register(env);
    encoding::register(env);
    dates::register(env);
}
