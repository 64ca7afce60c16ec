//! `io.kestra.plugin.jdbc.sqlite.Trigger`: polls a SQLite query every `interval`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::JdbcTrigger;
use crate::plugin::{Category, PluginType};
use crate::tasks::jdbc::Dialect;
use crate::validate::Validator;

/// A SQLite polling trigger (the properties of [`JdbcTrigger`]; `url` defaults to an
/// in-memory database, which is new at every poll: give a file path).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SqliteTrigger(pub JdbcTrigger);

impl PluginType for SqliteTrigger {
    const TYPE: &'static str = "io.kestra.plugin.jdbc.sqlite.Trigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        self.0.report(self, Dialect::Sqlite, v);
    }
}

impl JsonSchema for SqliteTrigger {
    fn schema_name() -> Cow<'static, str> {
        "SqliteTrigger".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        crate::tasks::jdbc::inline_schema::<JdbcTrigger>(
            g,
            "Runs a SQLite query every `interval`; starts an execution when it returns rows.",
        )
    }
}
