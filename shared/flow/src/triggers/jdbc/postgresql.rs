//! `io.kestra.plugin.jdbc.postgresql.Trigger`: polls a PostgreSQL query every `interval`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::JdbcTrigger;
use crate::plugin::{Category, PluginType};
use crate::tasks::jdbc::Dialect;
use crate::validate::Validator;

/// A PostgreSQL polling trigger (the properties of [`JdbcTrigger`]; `url` is required).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct PostgresTrigger(pub JdbcTrigger);

impl PluginType for PostgresTrigger {
    const TYPE: &'static str = "io.kestra.plugin.jdbc.postgresql.Trigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        self.0.report(self, Dialect::Postgres, v);
    }
}
