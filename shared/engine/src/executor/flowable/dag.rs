//! `Dag`: a child starts when every task it depends on ended (in success); at most
//! `concurrent` at once (0 = no limit).

use kite_flow::Task;
use kite_flow::property::Dyn;
use kite_flow::tasks::dag::Dag;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, NewRun, live, worst};
use crate::model::State;

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(dag) = task.spec::<Dag>() else {
        return Decision::Done(State::Failed);
    };
    let children: Vec<&'f Task> = task
        .branches()
        .first()
        .map(|b| b.tasks.iter().collect())
        .unwrap_or_default();
    let nodes: Vec<&'f Task> = children
        .into_iter()
        .filter_map(|t| cx.task(&t.id))
        .collect();
    let started: Vec<&crate::model::TaskRun> = cx.rec.execution.children(Some(id)).collect();
    let failed = started.iter().any(|r| r.current().is_failed());
    let limit = match &dag.concurrent {
        None => 0,
        Some(Dyn::Value(n)) => *n as usize,
        Some(Dyn::Expr(e)) => cx
            .render(id, e)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
    };
    if !failed {
        let running = started.iter().filter(|r| live(r)).count();
        let room = if limit == 0 {
            usize::MAX
        } else {
            limit.saturating_sub(running)
        };
        let done = |tid: &str| {
            started.iter().any(|r| {
                r.task_id == tid
                    && matches!(
                        r.current(),
                        State::Success | State::Warning | State::Skipped
                    )
            })
        };
        let ready: Vec<NewRun<'f>> = dag
            .tasks
            .iter()
            .zip(nodes.iter())
            .filter(|(n, _)| !n.task.common.disabled)
            .filter(|(n, _)| !started.iter().any(|r| r.task_id == n.task.id))
            .filter(|(n, _)| n.depends_on.iter().all(|d| done(d)))
            .map(|(_, t)| NewRun::new(t, None))
            .take(room)
            .collect();
        if !ready.is_empty() {
            return Decision::Create(ready);
        }
    }
    if started.iter().any(|r| live(r)) {
        return Decision::Wait;
    }
    if let Some(d) = branch::tail(cx, id, &dag.errors, &dag.finally, failed) {
        return d;
    }
    let main: Vec<&crate::model::TaskRun> = started
        .into_iter()
        .filter(|r| dag.tasks.iter().any(|n| n.task.id == r.task_id))
        .collect();
    if failed {
        Decision::Done(State::Failed)
    } else {
        Decision::Done(worst(main))
    }
}
