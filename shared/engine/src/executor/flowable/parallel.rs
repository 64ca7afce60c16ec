//! `Parallel`: every child at once, at most `concurrent` running (0 = no limit).

use kite_flow::Task;
use kite_flow::property::Dyn;
use kite_flow::tasks::parallel::Parallel;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(p) = task.spec::<Parallel>() else {
        return Decision::Done(State::Failed);
    };
    let limit = match &p.concurrent {
        None => 0,
        Some(Dyn::Value(n)) => *n as usize,
        Some(Dyn::Expr(e)) => cx
            .render(id, e)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
    };
    branch::parallel(
        cx,
        Some(id),
        Lists {
            tasks: &p.tasks,
            errors: &p.errors,
            finally: &p.finally,
        },
        limit,
    )
}
