//! `io.kestra.plugin.jdbc.postgresql.Trigger`: polls a PostgreSQL query every `interval`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::JdbcTrigger;
use crate::plugin::{Category, PluginType};
use crate::tasks::jdbc::Dialect;
use crate::validate::Validator;

/// A PostgreSQL polling trigger (the properties of [`JdbcTrigger`]; `url` is required).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostgresTrigger(pub JdbcTrigger);

impl PluginType for PostgresTrigger {
    const TYPE: &'static str = "io.kestra.plugin.jdbc.postgresql.Trigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        self.0.report(self, Dialect::Postgres, v);
    }
}

impl JsonSchema for PostgresTrigger {
    fn schema_name() -> Cow<'static, str> {
        "PostgresTrigger".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut s = crate::tasks::jdbc::inline_schema::<JdbcTrigger>(
            g,
            "Runs a PostgreSQL query every `interval`; starts an execution when it returns rows.",
        );
        // `url` has no default on PostgreSQL.
        if let Some(serde_json::Value::Array(required)) = s.ensure_object().get_mut("required") {
            required.push("url".into());
        }
        s
    }
}
