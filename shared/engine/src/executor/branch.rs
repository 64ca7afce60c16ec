//! Branch resolution shared by flowables and the top level (Kestra's `FlowableUtils`):
//! given the child runs created so far, what to create next, or the branch's final state.
//!
//! A branch is a main list (`tasks`), an `errors` list run when a main child failed, and a
//! `finally` list always run last. Disabled tasks are skipped as if absent.

use kite_flow::Task;

use super::Cx;
use crate::model::{State, TaskRun};

/// A run to create.
#[derive(Debug)]
pub struct NewRun<'f> {
    /// Its task.
    pub task: &'f Task,
    /// Its loop value.
    pub value: Option<String>,
    /// Its WaitFor iteration.
    pub iteration: Option<u32>,
}

impl<'f> NewRun<'f> {
    /// A run of `task` with `value`.
    pub fn new(task: &'f Task, value: Option<String>) -> Self {
        Self {
            task,
            value,
            iteration: None,
        }
    }
}

/// What a flowable decides.
#[derive(Debug)]
pub enum Decision<'f> {
    /// Create these runs.
    Create(Vec<NewRun<'f>>),
    /// Wait for running children.
    Wait,
    /// The branch ended in this state.
    Done(State),
}

/// The lists of a branch.
#[derive(Debug, Clone, Copy)]
pub struct Lists<'f> {
    /// Main tasks.
    pub tasks: &'f [Task],
    /// Run when a main task failed.
    pub errors: &'f [Task],
    /// Always run last.
    pub finally: &'f [Task],
}

/// The worst state of `runs` (SUCCESS when empty).
pub fn worst<'a>(runs: impl IntoIterator<Item = &'a TaskRun>) -> State {
    runs.into_iter()
        .map(TaskRun::current)
        .filter(|s| !matches!(s, State::Skipped))
        .max_by_key(|s| s.severity())
        .map(|s| match s {
            State::Paused | State::Running | State::Created | State::Retrying => State::Success,
            other => other,
        })
        .unwrap_or(State::Success)
}

fn enabled(tasks: &[Task]) -> impl Iterator<Item = &Task> {
    tasks.iter().filter(|t| !t.common.disabled)
}

/// Children of `parent` (with loop `value`, when given) that are runs of `tasks`.
pub fn runs_of<'a>(
    cx: &'a Cx<'_>,
    parent: Option<&'a str>,
    tasks: &'a [Task],
    value: Option<&'a str>,
) -> Vec<&'a TaskRun> {
    cx.rec
        .execution
        .children_with(parent, value)
        .filter(|r| tasks.iter().any(|t| t.id == r.task_id))
        .collect()
}

/// Whether a run needs waiting for.
pub fn live(r: &TaskRun) -> bool {
    !r.current().is_terminated()
}

/// Sequential resolution of `lists` under `parent` (children carrying `value`).
pub fn sequential<'f>(
    cx: &Cx<'f>,
    parent: Option<&str>,
    lists: Lists<'f>,
    value: Option<&str>,
) -> Decision<'f> {
    resolve(cx, parent, lists, value, Mode::Sequential)
}

/// Parallel resolution: every main task at once (at most `limit` running; 0 = no limit).
pub fn parallel<'f>(
    cx: &Cx<'f>,
    parent: Option<&str>,
    lists: Lists<'f>,
    limit: usize,
) -> Decision<'f> {
    resolve(cx, parent, lists, None, Mode::Parallel(limit))
}

#[derive(Clone, Copy)]
enum Mode {
    Sequential,
    Parallel(usize),
}

fn resolve<'f>(
    cx: &Cx<'f>,
    parent: Option<&str>,
    lists: Lists<'f>,
    value: Option<&str>,
    mode: Mode,
) -> Decision<'f> {
    let main = runs_of(cx, parent, lists.tasks, value);
    let errors = runs_of(cx, parent, lists.errors, value);
    let finally = runs_of(cx, parent, lists.finally, value);
    let v = || value.map(str::to_owned);
    let any_live = main.iter().chain(&errors).chain(&finally).any(|r| live(r));
    let failed = main.iter().any(|r| r.current().is_failed());

    if !failed && finally.is_empty() && errors.is_empty() {
        let started: Vec<&str> = main.iter().map(|r| r.task_id.as_str()).collect();
        let pending: Vec<&Task> = enabled(lists.tasks)
            .filter(|t| !started.contains(&t.id.as_str()))
            .collect();
        match mode {
            Mode::Sequential => {
                if any_live {
                    return Decision::Wait;
                }
                if let Some(t) = pending.first() {
                    return Decision::Create(vec![NewRun::new(t, v())]);
                }
            }
            Mode::Parallel(limit) => {
                let running = main.iter().filter(|r| live(r)).count();
                let room = if limit == 0 {
                    usize::MAX
                } else {
                    limit.saturating_sub(running)
                };
                if !pending.is_empty() && room > 0 {
                    return Decision::Create(
                        pending
                            .into_iter()
                            .take(room)
                            .map(|t| NewRun::new(t, v()))
                            .collect(),
                    );
                }
                if any_live {
                    return Decision::Wait;
                }
            }
        }
    }
    if any_live {
        return Decision::Wait;
    }
    if failed && finally.is_empty() {
        let started: Vec<&str> = errors.iter().map(|r| r.task_id.as_str()).collect();
        if let Some(t) = enabled(lists.errors).find(|t| !started.contains(&t.id.as_str())) {
            return Decision::Create(vec![NewRun::new(t, v())]);
        }
    }
    let started: Vec<&str> = finally.iter().map(|r| r.task_id.as_str()).collect();
    if let Some(t) = enabled(lists.finally).find(|t| !started.contains(&t.id.as_str())) {
        return Decision::Create(vec![NewRun::new(t, v())]);
    }
    let mut state = worst(main.iter().copied());
    if failed {
        state = if main.iter().any(|r| r.current() == State::Killed) {
            State::Killed
        } else {
            State::Failed
        };
    }
    let fin = worst(finally.iter().copied());
    if fin.severity() > state.severity() {
        state = fin;
    }
    Decision::Done(state)
}

/// The end of a flowable whose own children are done: its `errors` (only when `failed`),
/// then its `finally`, one task at a time. `None` once both ran (or have nothing to run).
pub fn tail<'f>(
    cx: &Cx<'f>,
    parent: &str,
    errors: &'f [Task],
    finally: &'f [Task],
    failed: bool,
) -> Option<Decision<'f>> {
    let lists: &[&'f [Task]] = if failed {
        &[errors, finally]
    } else {
        &[finally]
    };
    for &list in lists {
        let runs = runs_of(cx, Some(parent), list, None);
        if runs.iter().any(|r| live(r)) {
            return Some(Decision::Wait);
        }
        if let Some(t) = enabled(list).find(|t| !runs.iter().any(|r| r.task_id == t.id)) {
            return Some(Decision::Create(vec![NewRun::new(t, None)]));
        }
    }
    None
}
