//! `io.kestra.plugin.jdbc.postgresql.Query`: runs SQL on a PostgreSQL server; the rows
//! become outputs (`row`, `rows`) or a file of internal storage (`uri`), per `fetchType`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Dialect, JdbcQuery};
use crate::plugin::PluginType;
use crate::validate::Validator;

/// A PostgreSQL query (the properties of [`JdbcQuery`]; `url` is required).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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
