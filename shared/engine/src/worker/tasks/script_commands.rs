//! `io.kestra.plugin.scripts.shell.Commands` and `io.kestra.plugin.scripts.python.Commands`:
//! shell commands run by the [`Process`](super::process) task runner (for Python too, the
//! commands are shell commands such as `python3 main.py`; the task fails early with a clear
//! message when `python3` is not on the worker's PATH).

use std::marker::PhantomData;

use async_trait::async_trait;
use kite_flow::tasks::script_commands::{Commands, Language};

use super::process::{self, Main, ProcessSpec};
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner of `Commands<L>`.
#[derive(Debug)]
pub struct Runner<L: Language>(PhantomData<L>);

impl<L: Language> Runner<L> {
    /// A runner.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<L: Language> Default for Runner<L> {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl<L: Language> TaskRunner for Runner<L> {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<Commands<L>>()
            .ok_or_else(|| TaskError::new(format!("not a {} task", L::COMMANDS)))?;
        process::run(
            ctx,
            ProcessSpec {
                python: L::INTERPRETER.first().is_some_and(|p| p.contains("python")),
                env: &spec.env,
                input_files: spec.input_files.as_ref(),
                output_files: &spec.output_files,
                before_commands: &spec.before_commands,
                interpreter: spec.interpreter.as_ref(),
                warning_on_std_err: spec.warning_on_std_err,
                main: Main::Commands(&spec.commands),
            },
        )
        .await
    }
}
