//! `io.kestra.plugin.jdbc.sqlite.Trigger`: polls a SQLite query every `interval`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::JdbcTrigger;
use crate::plugin::{Category, PluginType};
use crate::tasks::jdbc::Dialect;
use crate::validate::Validator;

/// A SQLite polling trigger (the properties of [`JdbcTrigger`]; `url` defaults to an
/// in-memory database, which is new at every poll: give a file path).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SqliteTrigger(pub JdbcTrigger);

impl PluginType for SqliteTrigger {
    const TYPE: &'static str = "io.kestra.plugin.jdbc.sqlite.Trigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        self.0.report(self, Dialect::Sqlite, v);
    }
}
