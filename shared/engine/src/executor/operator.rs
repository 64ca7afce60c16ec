//! Operator actions decided by the executor: restart (same execution, new attempts of the
//! failed task runs) and forcing a task run's state.

use std::collections::BTreeSet;

use kite_flow::TaskKind;
use kite_flow::plugin::LogLevel;

use super::Cx;
use crate::model::State;

/// Restarts a FAILED/KILLED (or PAUSED) execution: failed task runs and their ancestors go
/// RESTARTED (runnable ones get a new attempt), runs of error branches are removed, the
/// execution goes RESTARTED then RUNNING, `metadata.attemptNumber` grows.
pub fn restart(cx: &mut Cx<'_>) {
    let state = cx.rec.execution.current();
    if !matches!(
        state,
        State::Failed | State::Killed | State::Paused | State::Warning
    ) {
        cx.log(
            None,
            LogLevel::Warn,
            format!("restart ignored: the execution is {state}"),
        );
        return;
    }
    let now = cx.now;
    let error_tasks: BTreeSet<String> = error_branch_tasks(cx);
    // Drop runs of error branches (they run again if the restart fails again).
    let removed: BTreeSet<String> = cx
        .rec
        .execution
        .task_run_list
        .iter()
        .filter(|r| error_tasks.contains(&r.task_id))
        .map(|r| r.id.clone())
        .collect();
    let removed = with_descendants(cx, removed);
    cx.rec
        .execution
        .task_run_list
        .retain(|r| !removed.contains(&r.id));
    let failed: Vec<String> = cx
        .rec
        .execution
        .task_run_list
        .iter()
        .filter(|r| matches!(r.current(), State::Failed | State::Killed | State::Paused))
        .map(|r| r.id.clone())
        .collect();
    let mut to_restart: BTreeSet<String> = BTreeSet::new();
    for id in &failed {
        let mut cur = Some(id.clone());
        while let Some(c) = cur {
            to_restart.insert(c.clone());
            cur = cx.run(&c).and_then(|r| r.parent_task_run_id.clone());
        }
    }
    // A WorkingDirectory unit runs again as a whole (a new attempt, in a fresh directory):
    // its children's runs go, the unit creates them again.
    let units: BTreeSet<String> = to_restart
        .iter()
        .filter(|id| {
            cx.run(id)
                .and_then(|r| cx.task(&r.task_id))
                .is_some_and(super::flowable::working_directory::is)
                && !super::flowable::working_directory::is_legacy(cx, id)
        })
        .cloned()
        .collect();
    if !units.is_empty() {
        let children: BTreeSet<String> = cx
            .rec
            .execution
            .task_run_list
            .iter()
            .filter(|r| {
                r.parent_task_run_id
                    .as_ref()
                    .is_some_and(|p| units.contains(p))
            })
            .map(|r| r.id.clone())
            .collect();
        let gone = with_descendants(cx, children);
        to_restart.retain(|id| !gone.contains(id));
        cx.rec
            .execution
            .task_run_list
            .retain(|r| !gone.contains(&r.id));
    }
    for id in &to_restart {
        let kind = cx.run(id).and_then(|r| cx.task(&r.task_id)).map(|t| t.kind);
        if let Some(r) = cx.rec.execution.task_run_mut(id) {
            r.state.set(State::Restarted, now);
            if kind == Some(TaskKind::Flowable) && !units.contains(id) {
                r.state.set(State::Running, now);
            }
        }
    }
    cx.rec.internal.listeners_pending = None;
    cx.rec.execution.metadata.attempt_number += 1;
    cx.rec.execution.state.set(State::Restarted, now);
    cx.log(
        None,
        LogLevel::Info,
        format!("Execution restarted ({} task runs)", to_restart.len()),
    );
}

/// Forces `task_run_id` into `state` (an operator's decision); its ancestors run again.
pub fn change_state(cx: &mut Cx<'_>, task_run_id: &str, state: State) {
    if !state.is_terminated() {
        return;
    }
    let now = cx.now;
    let Some(run) = cx.run(task_run_id) else {
        return;
    };
    let mut ancestors = Vec::new();
    let mut cur = run.parent_task_run_id.clone();
    while let Some(c) = cur {
        cur = cx.run(&c).and_then(|r| r.parent_task_run_id.clone());
        ancestors.push(c);
    }
    if let Some(r) = cx.rec.execution.task_run_mut(task_run_id) {
        r.set_state(state, now);
    }
    for a in ancestors {
        if let Some(r) = cx.rec.execution.task_run_mut(&a)
            && r.current().is_terminated()
        {
            r.state.set(State::Running, now);
        }
    }
    if cx.rec.execution.current().is_terminated() || cx.rec.execution.current() == State::Paused {
        cx.rec.execution.state.set(State::Restarted, now);
    }
    cx.log(
        None,
        LogLevel::Info,
        format!("Task run {task_run_id} set to {state} by an operator"),
    );
}

fn error_branch_tasks(cx: &Cx<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut collect = |tasks: &[kite_flow::Task]| {
        for t in tasks {
            out.insert(t.id.clone());
        }
    };
    collect(&cx.flow.errors);
    for t in cx.flow.all_tasks() {
        for b in t.branches() {
            if b.name == "errors" {
                collect(b.tasks);
            }
        }
    }
    out
}

fn with_descendants(cx: &Cx<'_>, mut set: BTreeSet<String>) -> BTreeSet<String> {
    loop {
        let more: Vec<String> = cx
            .rec
            .execution
            .task_run_list
            .iter()
            .filter(|r| !set.contains(&r.id))
            .filter(|r| {
                r.parent_task_run_id
                    .as_ref()
                    .is_some_and(|p| set.contains(p))
            })
            .map(|r| r.id.clone())
            .collect();
        if more.is_empty() {
            return set;
        }
        set.extend(more);
    }
}
