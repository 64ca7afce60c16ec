//! Resolving supplied input values against a flow's declarations.
//!
//! Follows Kestra's algorithm: take the supplied value or the `defaults`; resolve the
//! inputs a declaration `dependsOn` first; a dependency that is disabled, or a
//! `dependsOn.condition` that does not render `true`, disables the input (no value, no
//! error); SELECT/MULTISELECT `expression`s are rendered with the inputs resolved so far;
//! a missing required value is an error; then the value is coerced to its type and checked
//! against its validators. Every problem names the input; all are reported at once.
//!
//! Expressions are evaluated through [`InputRenderer`], so this module stays free of the
//! expression engine and of any I/O (FILE inputs arrive as URIs already stored).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime};
use serde_json::{Map, Value};

use crate::duration::IsoDuration;
use crate::model::input::{Input, InputType};

/// Renders the expressions inputs may contain.
pub trait InputRenderer {
    /// Renders `expression` to a typed value, with the inputs resolved so far in context.
    fn render_typed(&self, expression: &str, inputs: &Map<String, Value>) -> Result<Value, String>;
}

/// A renderer for contexts without expressions: any expression is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRenderer;

impl InputRenderer for NoRenderer {
    fn render_typed(&self, expression: &str, _: &Map<String, Value>) -> Result<Value, String> {
        Err(format!(
            "expressions are not available here: `{expression}`"
        ))
    }
}

/// One invalid input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid input for `{input}`: {message}")]
pub struct InputError {
    /// The input id.
    pub input: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Resolves `supplied` values against `declared` inputs.
///
/// Returns the typed values by input id (flat: `a.b` stays one key; see [`nest`]).
/// Supplied values for undeclared inputs are dropped, as Kestra does.
pub fn resolve(
    declared: &[Input],
    supplied: &Map<String, Value>,
    renderer: &dyn InputRenderer,
) -> Result<Map<String, Value>, Vec<InputError>> {
    let mut r = Resolver {
        declared,
        supplied,
        renderer,
        state: HashMap::new(),
        out: Map::new(),
        errors: Vec::new(),
    };
    for input in declared {
        r.resolve(input.key(), 0);
    }
    // Keep declaration order.
    let mut ordered = Map::new();
    for input in declared {
        if let Some(v) = r.out.remove(input.key()) {
            ordered.insert(input.key().to_owned(), v);
        }
    }
    if r.errors.is_empty() {
        Ok(ordered)
    } else {
        Err(r.errors)
    }
}

/// Turns dotted ids into nested maps: `{"a.b": 1}` → `{"a": {"b": 1}}`.
pub fn nest(flat: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in flat {
        let parts: Vec<&str> = k.split('.').collect();
        insert_path(&mut out, &parts, v.clone());
    }
    out
}

fn insert_path(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(m) = entry {
                insert_path(m, rest, value);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Resolving,
    Enabled,
    Disabled,
}

struct Resolver<'a> {
    declared: &'a [Input],
    supplied: &'a Map<String, Value>,
    renderer: &'a dyn InputRenderer,
    state: HashMap<String, State>,
    out: Map<String, Value>,
    errors: Vec<InputError>,
}

impl Resolver<'_> {
    fn fail(&mut self, input: &str, message: impl Into<String>) {
        self.errors.push(InputError {
            input: input.to_owned(),
            message: message.into(),
        });
    }

    /// Resolves `id`; returns whether it is enabled.
    fn resolve(&mut self, id: &str, depth: usize) -> bool {
        match self.state.get(id) {
            Some(State::Enabled) => return true,
            Some(State::Disabled) => return false,
            Some(State::Resolving) => {
                self.fail(id, "dependency cycle between inputs");
                return false;
            }
            None => {}
        }
        let Some(input) = self.declared.iter().find(|i| i.key() == id) else {
            return false;
        };
        if depth > self.declared.len() {
            return false;
        }
        self.state.insert(id.to_owned(), State::Resolving);
        let mut enabled = true;
        if let Some(dep) = &input.depends_on {
            for d in &dep.inputs {
                if !self.resolve(d, depth + 1) {
                    enabled = false;
                }
            }
            if enabled && let Some(cond) = &dep.condition {
                match self.renderer.render_typed(cond, &self.out) {
                    Ok(Value::Bool(b)) => enabled = b,
                    Ok(Value::String(s)) => enabled = s.trim() == "true",
                    Ok(other) => {
                        self.fail(
                            id,
                            format!("`dependsOn.condition` must render a boolean, got {other}"),
                        );
                        enabled = false;
                    }
                    Err(e) => {
                        self.fail(id, format!("`dependsOn.condition` failed: {e}"));
                        enabled = false;
                    }
                }
            }
        }
        if !enabled {
            self.state.insert(id.to_owned(), State::Disabled);
            return false;
        }
        let value = self
            .supplied
            .get(id)
            .filter(|v| !v.is_null())
            .or(input.defaults.as_ref())
            .cloned();
        match value {
            None if input.required => {
                self.fail(
                    id,
                    format!(
                        "missing required input `{id}` ({}): supply a value{}",
                        input.kind.name(),
                        if input.kind == InputType::File {
                            " (a file)"
                        } else {
                            ""
                        }
                    ),
                );
            }
            None => {
                self.out.insert(id.to_owned(), Value::Null);
            }
            Some(v) => {
                let allowed = self.allowed_values(input);
                match coerce(input, input.kind, v, allowed.as_deref()) {
                    Ok(v) => {
                        self.out.insert(id.to_owned(), v);
                    }
                    Err(m) => self.fail(id, m),
                }
            }
        }
        self.state.insert(id.to_owned(), State::Enabled);
        true
    }

    fn allowed_values(&mut self, input: &Input) -> Option<Vec<String>> {
        if let Some(v) = input.values.as_ref().or(input.options.as_ref()) {
            return Some(v.clone());
        }
        let expr = input.expression.as_ref()?;
        match self.renderer.render_typed(expr, &self.out) {
            Ok(Value::Array(items)) => Some(items.iter().map(text).collect()),
            Ok(Value::String(s)) => match serde_json::from_str::<Vec<Value>>(&s) {
                Ok(items) => Some(items.iter().map(text).collect()),
                Err(_) => {
                    self.fail(
                        input.key(),
                        format!("`expression` must produce a list, got `{s}`"),
                    );
                    None
                }
            },
            Ok(other) => {
                self.fail(
                    input.key(),
                    format!("`expression` must produce a list, got {other}"),
                );
                None
            }
            Err(e) => {
                self.fail(input.key(), format!("`expression` failed: {e}"));
                None
            }
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn describe(v: &Value) -> String {
    let s = text(v);
    if s.chars().count() > 60 {
        format!("`{}...`", s.chars().take(60).collect::<String>())
    } else {
        format!("`{s}`")
    }
}

/// Coerces `v` to `kind`, checking the declaration's validators.
fn coerce(
    input: &Input,
    kind: InputType,
    v: Value,
    allowed: Option<&[String]>,
) -> Result<Value, String> {
    use InputType as T;
    match kind {
        T::String | T::Secret => {
            let s = match &v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => text(&v),
                _ => return Err(format!("expected a string, got {}", describe(&v))),
            };
            if let Some(pattern) = &input.validator {
                let re = fancy_regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("invalid validator pattern: {e}"))?;
                if !re.is_match(&s).unwrap_or(false) {
                    return Err(format!("`{s}` must match the pattern `{pattern}`"));
                }
            }
            Ok(Value::String(s))
        }
        T::Int => {
            let n = match &v {
                Value::Number(n) if n.is_i64() => n.as_i64(),
                Value::Number(n) => n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("expected an integer, got {}", describe(&v)))?;
            check_bounds(n as f64, input)?;
            Ok(Value::from(n))
        }
        T::Float => {
            let f = match &v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("expected a number, got {}", describe(&v)))?;
            check_bounds(f, input)?;
            Ok(serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null))
        }
        T::Boolean | T::Bool => match &v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, got {}", describe(&v))),
        },
        T::Datetime => {
            let s = text(&v);
            let d = DateTime::parse_from_rfc3339(s.trim()).map_err(|_| {
                format!(
                    "expected an ISO-8601 date-time like 2024-01-31T10:00:00Z, got {}",
                    describe(&v)
                )
            })?;
            let d = d.with_timezone(&chrono::Utc);
            check_order(&d, &s, input, |b| {
                DateTime::parse_from_rfc3339(b)
                    .ok()
                    .map(|x| x.with_timezone(&chrono::Utc))
            })?;
            Ok(Value::String(
                d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ))
        }
        T::Date => {
            let s = text(&v);
            let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                format!(
                    "expected an ISO-8601 date like 2024-01-31, got {}",
                    describe(&v)
                )
            })?;
            check_order(&d, &s, input, |b| {
                NaiveDate::parse_from_str(b, "%Y-%m-%d").ok()
            })?;
            Ok(Value::String(d.to_string()))
        }
        T::Time => {
            let s = text(&v);
            let t = NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M"))
                .map_err(|_| {
                    format!(
                        "expected an ISO-8601 time like 10:30:00, got {}",
                        describe(&v)
                    )
                })?;
            check_order(&t, &s, input, |b| {
                NaiveTime::parse_from_str(b, "%H:%M:%S%.f").ok()
            })?;
            Ok(Value::String(t.to_string()))
        }
        T::Duration => {
            let s = text(&v);
            let d: IsoDuration = s
                .parse()
                .map_err(|e: crate::duration::DurationError| e.to_string())?;
            let bound =
                |b: &Option<Value>| b.as_ref().and_then(|b| text(b).parse::<IsoDuration>().ok());
            if let Some(min) = bound(&input.min)
                && d < min
            {
                return Err(format!("`{d}` is shorter than the minimum {min}"));
            }
            if let Some(max) = bound(&input.max)
                && d > max
            {
                return Err(format!("`{d}` is longer than the maximum {max}"));
            }
            Ok(Value::String(d.to_string()))
        }
        T::File => match &v {
            Value::String(s) if !s.is_empty() => Ok(v),
            _ => Err(format!("expected a file, got {}", describe(&v))),
        },
        T::Json => match v {
            Value::String(s) => serde_json::from_str(&s).map_err(|e| format!("invalid JSON: {e}")),
            other => Ok(other),
        },
        T::Yaml => match v {
            Value::String(s) => {
                let docs = crate::yaml::load_documents(&s)
                    .map_err(|e| format!("invalid YAML: {}", e.message))?;
                Ok(docs
                    .first()
                    .map(crate::yaml::Node::to_json)
                    .unwrap_or(Value::Null))
            }
            other => Ok(other),
        },
        T::Uri => {
            let s = text(&v);
            let ok = s.split_once(':').is_some_and(|(scheme, rest)| {
                !rest.is_empty()
                    && scheme
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                    // A hierarchical URI (`scheme:/...`) needs an authority: `scheme://host/...`.
                    && (!rest.starts_with('/')
                        || rest
                            .strip_prefix("//")
                            .is_some_and(|a| !a.is_empty() && !a.starts_with('/')))
            }) && !s.contains(char::is_whitespace);
            if ok {
                Ok(Value::String(s))
            } else {
                Err(format!(
                    "expected a URI like https://example.com/path, got {}",
                    describe(&v)
                ))
            }
        }
        T::Email => {
            let s = text(&v);
            let ok = s.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }) && !s.contains(char::is_whitespace);
            if ok {
                Ok(Value::String(s))
            } else {
                Err(format!("expected an e-mail address, got {}", describe(&v)))
            }
        }
        T::Enum | T::Select => {
            let s = text(&v);
            check_allowed(&s, input, allowed)?;
            Ok(Value::String(s))
        }
        T::Multiselect | T::Array => {
            let items = match v {
                Value::Array(a) => a,
                Value::String(s) => match serde_json::from_str::<Value>(&s) {
                    Ok(Value::Array(a)) => a,
                    _ if kind == T::Multiselect => s
                        .split(',')
                        .map(|x| Value::String(x.trim().to_owned()))
                        .collect(),
                    _ => {
                        return Err(format!(
                            "expected a list (JSON array), got {}",
                            describe(&Value::String(s))
                        ));
                    }
                },
                other => return Err(format!("expected a list, got {}", describe(&other))),
            };
            let item_type = input.item_type.unwrap_or(T::String);
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                if kind == T::Multiselect {
                    check_allowed(&text(&item), input, allowed)?;
                }
                let plain = Input {
                    validator: None,
                    min: None,
                    max: None,
                    ..input.clone()
                };
                let checked = if item_type == T::Array {
                    Err("nested arrays are not supported".to_owned())
                } else {
                    coerce(&plain, item_type, item, None)
                };
                out.push(checked.map_err(|m| format!("item {i}: {m}"))?);
            }
            Ok(Value::Array(out))
        }
    }
}

fn check_allowed(s: &str, input: &Input, allowed: Option<&[String]>) -> Result<(), String> {
    if input.allow_custom_value {
        return Ok(());
    }
    match allowed {
        Some(values) if !values.iter().any(|x| x == s) => Err(format!(
            "`{s}` is not one of the allowed values [{}]",
            values.join(", ")
        )),
        _ => Ok(()),
    }
}

fn check_bounds(n: f64, input: &Input) -> Result<(), String> {
    let shown = crate::yaml::format_float(n);
    let shown = shown.strip_suffix(".0").map(str::to_owned).unwrap_or(shown);
    let num = |b: &Option<Value>| {
        b.as_ref().and_then(|b| match b {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    };
    if let Some(min) = num(&input.min)
        && n < min
    {
        return Err(format!(
            "`{shown}` is lower than the minimum {}",
            text(input.min.as_ref().unwrap_or(&Value::Null))
        ));
    }
    if let Some(max) = num(&input.max)
        && n > max
    {
        return Err(format!(
            "`{shown}` is greater than the maximum {}",
            text(input.max.as_ref().unwrap_or(&Value::Null))
        ));
    }
    Ok(())
}

fn check_order<T: PartialOrd>(
    value: &T,
    raw: &str,
    input: &Input,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(), String> {
    if let Some(after) = input.after.as_deref()
        && let Some(bound) = parse(after)
        && *value <= bound
    {
        return Err(format!("`{}` must be after {after}", raw.trim()));
    }
    if let Some(before) = input.before.as_deref()
        && let Some(bound) = parse(before)
        && *value >= bound
    {
        return Err(format!("`{}` must be before {before}", raw.trim()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(yaml: &str) -> Vec<Input> {
        let src = format!(
            "id: f\nnamespace: n\ninputs:\n{yaml}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
        );
        let parsed = crate::parse_flow(&src);
        parsed
            .flow
            .unwrap_or_else(|| panic!("{:?}", parsed.diagnostics))
            .inputs
    }

    fn supplied(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn coerces_every_scalar_type() {
        let decl = inputs(
            "  - {id: s, type: STRING}\n  - {id: i, type: INT}\n  - {id: f, type: FLOAT}\n  - {id: b, type: BOOLEAN}\n  - {id: dt, type: DATETIME}\n  - {id: d, type: DATE}\n  - {id: t, type: TIME}\n  - {id: du, type: DURATION}\n  - {id: j, type: JSON}\n  - {id: y, type: YAML}\n  - {id: u, type: URI}\n  - {id: e, type: EMAIL}\n  - {id: a, type: ARRAY, itemType: INT}",
        );
        let out = resolve(
            &decl,
            &supplied(json!({
                "s": 5, "i": "42", "f": "1.5", "b": "true", "dt": "2024-01-31T10:00:00+01:00",
                "d": "2024-01-31", "t": "10:30:00", "du": "PT90M", "j": "{\"a\": [1]}", "y": "a: 1\nb: [x]",
                "u": "https://example.com/x", "e": "me@example.com", "a": "[1, \"2\"]"
            })),
            &NoRenderer,
        )
        .unwrap();
        assert_eq!(out["s"], json!("5"));
        assert_eq!(out["i"], json!(42));
        assert_eq!(out["f"], json!(1.5));
        assert_eq!(out["b"], json!(true));
        assert_eq!(out["dt"], json!("2024-01-31T09:00:00Z"));
        assert_eq!(out["d"], json!("2024-01-31"));
        assert_eq!(out["t"], json!("10:30:00"));
        assert_eq!(out["du"], json!("PT1H30M"));
        assert_eq!(out["j"], json!({"a": [1]}));
        assert_eq!(out["y"], json!({"a": 1, "b": ["x"]}));
        assert_eq!(out["a"], json!([1, 2]));
    }

    #[test]
    fn reports_every_error_with_the_input_name() {
        let decl = inputs(
            "  - {id: i, type: INT, min: 1, max: 5}\n  - {id: s, type: STRING, validator: '^[a-z]+$'}\n  - {id: r, type: STRING}\n  - {id: e, type: EMAIL}",
        );
        let errs = resolve(
            &decl,
            &supplied(json!({"i": 9, "s": "ABC", "e": "nope"})),
            &NoRenderer,
        )
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 4, "{text:?}");
        assert!(text[0].contains("`i`") && text[0].contains("`9` is greater than the maximum 5"));
        assert!(text[1].contains("`s`") && text[1].contains("pattern"));
        assert!(text[2].contains("missing required input `r`"));
        assert!(text[3].contains("e-mail"));
    }

    #[test]
    fn defaults_optional_and_select() {
        let decl = inputs(
            "  - {id: a, type: STRING, defaults: hello}\n  - {id: b, type: INT, required: false}\n  - {id: c, type: SELECT, values: [X, Y]}\n  - {id: m, type: MULTISELECT, values: [X, Y, Z]}",
        );
        let out = resolve(
            &decl,
            &supplied(json!({"c": "Y", "m": ["X", "Z"]})),
            &NoRenderer,
        )
        .unwrap();
        assert_eq!(out["a"], json!("hello"));
        assert_eq!(out["b"], Value::Null);
        assert_eq!(out["m"], json!(["X", "Z"]));
        let err = resolve(&decl, &supplied(json!({"c": "W", "m": []})), &NoRenderer).unwrap_err();
        assert!(
            err[0]
                .message
                .contains("not one of the allowed values [X, Y]")
        );
    }

    struct Cond;
    impl InputRenderer for Cond {
        fn render_typed(&self, e: &str, inputs: &Map<String, Value>) -> Result<Value, String> {
            match e {
                "mode-is-delta" => Ok(Value::Bool(inputs.get("mode") == Some(&json!("DELTA")))),
                _ => Err("unknown".into()),
            }
        }
    }

    #[test]
    fn depends_on_disables_inputs() {
        let decl = inputs(
            "  - {id: region, type: STRING, dependsOn: {inputs: [mode], condition: mode-is-delta}}\n  - {id: mode, type: SELECT, values: [FULL, DELTA]}",
        );
        let out = resolve(&decl, &supplied(json!({"mode": "FULL"})), &Cond).unwrap();
        assert!(
            !out.contains_key("region"),
            "disabled input has no value and no error"
        );
        let err = resolve(&decl, &supplied(json!({"mode": "DELTA"})), &Cond).unwrap_err();
        assert_eq!(err[0].input, "region");
    }

    #[test]
    fn nests_dotted_ids() {
        let flat = supplied(json!({"a.b.c": 1, "a.d": 2, "e": 3}));
        assert_eq!(
            Value::Object(nest(&flat)),
            json!({"a": {"b": {"c": 1}, "d": 2}, "e": 3})
        );
    }
}
