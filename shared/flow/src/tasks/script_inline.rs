//! `io.kestra.plugin.scripts.shell.Script` and `...python.Script`: an inline script run by a
//! process task runner in a temporary working directory.

use std::marker::PhantomData;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;
use crate::tasks::script_commands::{Language, Python, Shell};
use crate::validate::Validator;

/// Runs `script` with the language's interpreter.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, bound = "")]
pub struct Script<L: Language> {
    /// The script source.
    pub script: String,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Files written before running: name → content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_files: Option<serde_json::Value>,
    /// Globs of files saved to internal storage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_files: Vec<String>,
    /// Commands run before the script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_commands: Vec<String>,
    /// Interpreter (default per language).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<Vec<String>>,
    /// End WARNING when something was written to stderr.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warning_on_std_err: bool,
    /// Container image (ignored by the process runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_image: Option<String>,
    /// Task runner (`io.kestra.plugin.core.runner.Process`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_runner: Option<serde_json::Value>,
    /// Namespace files to copy in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_files: Option<serde_json::Value>,
    #[serde(skip)]
    #[schemars(skip)]
    lang: PhantomData<L>,
}

/// `io.kestra.plugin.scripts.shell.Script`.
pub type ShellScript = Script<Shell>;
/// `io.kestra.plugin.scripts.python.Script`.
pub type PythonScript = Script<Python>;

impl<L: Language> PluginType for Script<L> {
    const TYPE: &'static str = L::SCRIPT;

    fn validate(&self, v: &mut Validator<'_>) {
        crate::tasks::script_commands::validate_runner(
            v,
            self.task_runner.as_ref(),
            self.namespace_files.as_ref(),
            self.container_image.is_some(),
        );
    }
}
