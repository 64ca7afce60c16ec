//! `Sequential`: children one after another, then `errors`/`finally`.

use kite_flow::Task;
use kite_flow::tasks::sequential::Sequential;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = task.spec::<Sequential>() else {
        return Decision::Done(State::Failed);
    };
    branch::sequential(
        cx,
        Some(id),
        Lists {
            tasks: &s.tasks,
            errors: &s.errors,
            finally: &s.finally,
        },
        None,
    )
}
