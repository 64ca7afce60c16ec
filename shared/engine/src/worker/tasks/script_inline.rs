//! `io.kestra.plugin.scripts.shell.Script` and `io.kestra.plugin.scripts.python.Script`: the
//! inline `script` is written to a file of the working directory and run by the language's
//! program (`/bin/sh` or `python3`) after the `beforeCommands`, through the
//! [`Process`](super::process) task runner.

use std::marker::PhantomData;

use async_trait::async_trait;
use kite_flow::tasks::script_commands::Language;
use kite_flow::tasks::script_inline::Script;

use super::process::{self, Main, ProcessSpec};
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner of `Script<L>`.
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
            .spec::<Script<L>>()
            .ok_or_else(|| TaskError::new(format!("not a {} task", L::SCRIPT)))?;
        let program = L::INTERPRETER.first().copied().unwrap_or("/bin/sh");
        let python = program.contains("python");
        process::run(
            ctx,
            ProcessSpec {
                python,
                env: &spec.env,
                input_files: spec.input_files.as_ref(),
                output_files: &spec.output_files,
                before_commands: &spec.before_commands,
                interpreter: spec.interpreter.as_ref(),
                warning_on_std_err: spec.warning_on_std_err,
                main: Main::Script {
                    source: &spec.script,
                    program,
                    extension: if python { ".py" } else { ".sh" },
                },
            },
        )
        .await
    }
}
