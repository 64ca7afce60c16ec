//! Labels: written as a map (`team: sales`) or a list of `{key, value}`.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Key (`system.` is reserved).
    pub key: String,
    /// Value.
    pub value: String,
}

/// Labels in source order; serialised as Kestra's list of `{key, value}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Labels(pub Vec<Label>);

impl Labels {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }
}

fn scalar(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Map(indexmap::IndexMap<String, serde_json::Value>),
            List(Vec<Label>),
        }
        let form = Option::<serde_json::Value>::deserialize(d)?;
        let Some(form) = form else {
            return Ok(Labels::default());
        };
        match serde_json::from_value::<Form>(form) {
            Ok(Form::Map(m)) => Ok(Labels(
                m.into_iter()
                    .map(|(key, v)| Label {
                        key,
                        value: scalar(v),
                    })
                    .collect(),
            )),
            Ok(Form::List(l)) => Ok(Labels(l)),
            Err(_) => Err(serde::de::Error::custom(
                "labels must be a map (`key: value`) or a list of `{key, value}`",
            )),
        }
    }
}

impl JsonSchema for Labels {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Labels".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = g.subschema_for::<Label>();
        schemars::json_schema!({
            "anyOf": [
                {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
                {"type": "array", "items": item}
            ]
        })
    }
}
