//! Property value shapes shared by many task types.
//!
//! Kestra renders most task properties with Pebble before using them, so a property typed
//! as a number or a duration may also be written as an expression (`"{{ inputs.limit }}"`).
//! [`Dyn`] captures that: either a value checked now, or an expression checked at run time.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether `s` contains Pebble syntax and so can only be evaluated at run time.
pub fn is_expression(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// A typed property that may also be a Pebble expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Dyn<T> {
    /// A literal value, valid now.
    Value(T),
    /// An expression rendered when the task runs.
    Expr(String),
}

impl<T> Dyn<T> {
    /// The literal value, if any.
    pub fn value(&self) -> Option<&T> {
        match self {
            Dyn::Value(v) => Some(v),
            Dyn::Expr(_) => None,
        }
    }
}

impl<T: Serialize> Serialize for Dyn<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dyn::Value(v) => v.serialize(s),
            Dyn::Expr(e) => s.serialize_str(e),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Dyn<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(d)?;
        if let serde_json::Value::String(s) = &raw
            && is_expression(s)
        {
            return Ok(Dyn::Expr(s.clone()));
        }
        T::deserialize(raw.clone())
            .or_else(|first| match &raw {
                // Jackson coerces "5" into 5: do the same for numbers and booleans in strings.
                serde_json::Value::String(s) => {
                    match serde_json::from_str::<serde_json::Value>(s) {
                        Ok(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                            T::deserialize(v).map_err(|_| first)
                        }
                        _ => Err(first),
                    }
                }
                _ => Err(first),
            })
            .map(Dyn::Value)
            .map_err(serde::de::Error::custom)
    }
}

impl<T: JsonSchema> JsonSchema for Dyn<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Dynamic_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let inner = generator.subschema_for::<T>();
        schemars::json_schema!({
            "anyOf": [inner, {"type": "string", "pattern": "\\{[{%]"}]
        })
    }
}

/// A string, or a list of strings (e.g. `Log.message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StringOrList {
    /// One string.
    One(String),
    /// Several strings.
    Many(Vec<String>),
}

impl StringOrList {
    /// The strings, one or many.
    pub fn items(&self) -> Vec<&str> {
        match self {
            StringOrList::One(s) => vec![s.as_str()],
            StringOrList::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Any YAML value, kept as JSON (maps of values rendered at run time, free-form data).
pub type AnyValue = serde_json::Value;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyn_accepts_values_and_expressions() {
        let v: Dyn<u32> = serde_json::from_str("5").unwrap();
        assert_eq!(v, Dyn::Value(5));
        let v: Dyn<u32> = serde_json::from_str("\"7\"").unwrap();
        assert_eq!(v, Dyn::Value(7));
        let v: Dyn<u32> = serde_json::from_str("\"{{ inputs.n }}\"").unwrap();
        assert_eq!(v, Dyn::Expr("{{ inputs.n }}".into()));
        assert!(serde_json::from_str::<Dyn<u32>>("\"many\"").is_err());
    }
}
