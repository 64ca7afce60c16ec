//! `io.kestra.plugin.jdbc.sqlite.Query`: runs SQL on a SQLite database (a file on the
//! worker, one copied from internal storage with `sqliteFile`, or an in-memory one); the
//! rows become outputs (`row`, `rows`) or a file of internal storage (`uri`), per
//! `fetchType`; `outputDbFile` stores the database file afterwards (`databaseUri`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{Dialect, JdbcQuery};
use crate::plugin::PluginType;
use crate::validate::Validator;

/// A SQLite query (the properties of [`JdbcQuery`]; `url` defaults to `jdbc:sqlite:`, an
/// in-memory database).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SqliteQuery(pub JdbcQuery);

impl PluginType for SqliteQuery {
    const TYPE: &'static str = "io.kestra.plugin.jdbc.sqlite.Query";

    fn validate(&self, v: &mut Validator<'_>) {
        for (_, message) in self.0.problems(Dialect::Sqlite) {
            v.task_error(message);
        }
    }
}

impl JsonSchema for SqliteQuery {
    fn schema_name() -> Cow<'static, str> {
        "SqliteQuery".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        super::inline_schema::<JdbcQuery>(
            g,
            "Runs SQL on a SQLite database; the rows as outputs or a stored file, per `fetchType`.",
        )
    }
}
