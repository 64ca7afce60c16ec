//! `io.kestra.plugin.scripts.shell.Commands` and `...python.Commands`: commands run by a
//! process task runner in a temporary working directory.

use std::marker::PhantomData;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// A script language: its type names and default interpreter.
pub trait Language: std::fmt::Debug + Send + Sync + 'static {
    /// Type name of the Commands task.
    const COMMANDS: &'static str;
    /// Type name of the Script task.
    const SCRIPT: &'static str;
    /// Default interpreter.
    const INTERPRETER: &'static [&'static str];
}

/// Shell.
#[derive(Debug)]
pub struct Shell;
impl Language for Shell {
    const COMMANDS: &'static str = "io.kestra.plugin.scripts.shell.Commands";
    const SCRIPT: &'static str = "io.kestra.plugin.scripts.shell.Script";
    const INTERPRETER: &'static [&'static str] = &["/bin/sh", "-c"];
}

/// Python 3.
#[derive(Debug)]
pub struct Python;
impl Language for Python {
    const COMMANDS: &'static str = "io.kestra.plugin.scripts.python.Commands";
    const SCRIPT: &'static str = "io.kestra.plugin.scripts.python.Script";
    const INTERPRETER: &'static [&'static str] = &["python3"];
}

/// Runs `commands` with the language's interpreter.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, bound = "")]
pub struct Commands<L: Language> {
    /// The commands, run one after another.
    pub commands: Vec<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Files written before running: name → content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_files: Option<serde_json::Value>,
    /// Globs of files saved to internal storage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_files: Vec<String>,
    /// Commands run before the main ones.
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

/// `io.kestra.plugin.scripts.shell.Commands`.
pub type ShellCommands = Commands<Shell>;
/// `io.kestra.plugin.scripts.python.Commands`.
pub type PythonCommands = Commands<Python>;

impl<L: Language> PluginType for Commands<L> {
    const TYPE: &'static str = L::COMMANDS;
}
