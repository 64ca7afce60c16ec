//! `io.kestra.plugin.scripts.shell.Commands` and `...python.Commands`: commands run by a
//! process task runner in a temporary working directory.

use std::marker::PhantomData;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;
use crate::validate::Validator;

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

    fn validate(&self, v: &mut Validator<'_>) {
        validate_runner(
            v,
            self.task_runner.as_ref(),
            self.namespace_files.as_ref(),
            self.container_image.is_some(),
        );
    }
}

/// The only task runner Kite has: scripts run as processes on the worker's host.
pub const PROCESS_RUNNER: &str = "io.kestra.plugin.core.runner.Process";

/// The rules of the script tasks' runner properties (Commands and Script):
/// - a `taskRunner` other than [`PROCESS_RUNNER`] (Docker, Kubernetes, cloud batch
///   services) is refused: the script would run on the worker's host instead of in the
///   runner's image and machine, with other tools, files and resources;
/// - `namespaceFiles` that are enabled are refused: Kite has no namespace files to copy
///   in, so the script would miss them;
/// - `containerImage` is accepted (Kestra's flows set it for the Docker runner) with a
///   warning: the Process runner ignores it.
pub(crate) fn validate_runner(
    v: &mut Validator<'_>,
    task_runner: Option<&serde_json::Value>,
    namespace_files: Option<&serde_json::Value>,
    container_image: bool,
) {
    if let Some(runner) = task_runner {
        match runner.get("type").and_then(serde_json::Value::as_str) {
            Some(PROCESS_RUNNER) => {}
            Some(other) => v.task_property_error(
                "taskRunner",
                format!(
                    "the task runner `{other}` is not supported: Kite runs scripts as processes \
                     on the worker's host ({PROCESS_RUNNER}), and running them there instead of \
                     in the runner's image would change what they see; remove `taskRunner` or \
                     set its type to {PROCESS_RUNNER}"
                ),
            ),
            None => v.task_property_error(
                "taskRunner",
                format!("`taskRunner` needs a `type` ({PROCESS_RUNNER})"),
            ),
        }
    }
    if let Some(nf) = namespace_files
        && namespace_files_enabled(nf)
    {
        v.task_property_error("namespaceFiles", NAMESPACE_FILES_UNSUPPORTED);
    }
    if container_image {
        v.task_property_warning(
            "containerImage",
            format!(
                "`containerImage` is ignored: Kite runs scripts with the Process task runner \
                 ({PROCESS_RUNNER}) on the worker's host, where the interpreter must be installed"
            ),
        );
    }
}

/// Why enabled namespace files are refused.
pub(crate) const NAMESPACE_FILES_UNSUPPORTED: &str = "namespace files are not supported: Kite \
     has no namespace file storage, so the files would be missing when the task runs; put \
     them in `inputFiles` (or read them from internal storage) and remove `namespaceFiles`";

/// Whether a `namespaceFiles` value enables them (Kestra's `enabled` defaults to true; an
/// expression counts as enabled).
pub(crate) fn namespace_files_enabled(nf: &serde_json::Value) -> bool {
    match nf.get("enabled") {
        None => nf.is_object(),
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.trim() != "false",
        Some(_) => true,
    }
}
