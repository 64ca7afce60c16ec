//! `io.kestra.plugin.jdbc.postgresql.Query`: runs SQL on a PostgreSQL server; the rows
//! become outputs (`row`, `rows`) or a file of internal storage (`uri`), per `fetchType`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{Dialect, JdbcQuery};
use crate::plugin::PluginType;
use crate::validate::Validator;

/// A PostgreSQL query (the properties of [`JdbcQuery`]; `url` is required).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostgresQuery(pub JdbcQuery);

impl PluginType for PostgresQuery {
    const TYPE: &'static str = "io.kestra.plugin.jdbc.postgresql.Query";

    fn validate(&self, v: &mut Validator<'_>) {
        for (_, message) in self.0.problems(Dialect::Postgres) {
            v.task_error(message);
        }
    }
}

impl JsonSchema for PostgresQuery {
    fn schema_name() -> Cow<'static, str> {
        "PostgresQuery".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut s = super::inline_schema::<JdbcQuery>(
            g,
            "Runs SQL on a PostgreSQL server; the rows as outputs or a stored file, per `fetchType`.",
        );
        // `url` has no default on PostgreSQL.
        if let Some(serde_json::Value::Array(required)) = s.ensure_object().get_mut("required") {
            required.push("url".into());
        }
        s
    }
}
