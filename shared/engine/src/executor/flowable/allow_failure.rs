//! `AllowFailure`: a sequence whose failure is only a warning.

use kite_flow::Task;
use kite_flow::tasks::allow_failure::AllowFailure;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Next children; FAILED becomes WARNING.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = task.spec::<AllowFailure>() else {
        return Decision::Done(State::Failed);
    };
    match branch::sequential(
        cx,
        Some(id),
        Lists {
            tasks: &s.tasks,
            errors: &s.errors,
            finally: &[],
        },
        None,
    ) {
        Decision::Done(State::Failed) => Decision::Done(State::Warning),
        other => other,
    }
}
