//! `WorkingDirectory`: runnable children in sequence, sharing one directory on the worker
//! (the worker keys the directory by this run's id).

use kite_flow::Task;
use kite_flow::tasks::working_directory::WorkingDirectory;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = task.spec::<WorkingDirectory>() else { return Decision::Done(State::Failed) };
    branch::sequential(cx, Some(id), Lists { tasks: &s.tasks, errors: &s.errors, finally: &s.finally }, None)
}
