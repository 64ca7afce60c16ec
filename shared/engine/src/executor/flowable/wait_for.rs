//! `WaitFor` (`LoopUntil`): run the children, then stop when `condition` is truthy, else
//! wait `interval` and run them again; `maxIterations`/`maxDuration` end the loop
//! (FAILED with `failOnMaxReached`).

use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_flow::property::Dyn;
use kite_flow::tasks::wait_for::WaitFor;
use serde_json::{Map, Value};

use crate::executor::branch::{Decision, NewRun, live};
use crate::executor::{Action, Cx, TimerKind};
use crate::model::{State, TaskRun};

fn waiting_key(id: &str) -> String {
    format!("{id}:waiting")
}

fn iteration(cx: &Cx<'_>, id: &str) -> u32 {
    cx.run(id).and_then(|r| r.iteration).unwrap_or(0)
}

/// Starts the loop: no iteration yet.
pub fn start(cx: &mut Cx<'_>, _task: &Task, id: &str) -> Result<(), String> {
    let mut out = Map::new();
    out.insert("iterationCount".into(), Value::from(0));
    cx.set_outputs(id, out);
    Ok(())
}

/// Next children, or the loop's end.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(spec) = task.spec::<WaitFor>() else {
        return Decision::Done(State::Failed);
    };
    if cx.rec.internal.branches.contains_key(&waiting_key(id)) {
        return Decision::Wait;
    }
    let it = iteration(cx, id);
    let runs: Vec<&TaskRun> = cx
        .rec
        .execution
        .children(Some(id))
        .filter(|r| r.iteration.unwrap_or(0) == it && spec.tasks.iter().any(|t| t.id == r.task_id))
        .collect();
    if runs.iter().any(|r| live(r)) {
        return Decision::Wait;
    }
    if runs.iter().any(|r| r.current().is_failed()) {
        if let Some(d) = crate::executor::branch::tail(cx, id, &spec.errors, &[], true) {
            return d;
        }
        return Decision::Done(State::Failed);
    }
    if let Some(t) = spec
        .tasks
        .iter()
        .filter(|t| !t.common.disabled)
        .find(|t| !runs.iter().any(|r| r.task_id == t.id))
    {
        return Decision::Create(vec![NewRun {
            task: t,
            value: None,
            iteration: Some(it),
        }]);
    }
    // The iteration ended: the caller (`check`) evaluates the condition.
    Decision::Wait
}

/// Called by the executor after `next` waited on a finished iteration: evaluate the
/// condition and end, or arm the timer of the next iteration.
pub fn check(cx: &mut Cx<'_>, task: &Task, id: &str) -> Option<State> {
    let spec = task.spec::<WaitFor>()?;
    if cx.rec.internal.branches.contains_key(&waiting_key(id)) {
        return None;
    }
    let it = iteration(cx, id);
    let runs: Vec<&TaskRun> = cx
        .rec
        .execution
        .children(Some(id))
        .filter(|r| r.iteration.unwrap_or(0) == it && spec.tasks.iter().any(|t| t.id == r.task_id))
        .collect();
    let enabled = spec.tasks.iter().filter(|t| !t.common.disabled).count();
    if runs.len() < enabled
        || runs.iter().any(|r| live(r))
        || runs.iter().any(|r| r.current().is_failed())
    {
        return None;
    }
    let mut out = Map::new();
    out.insert("iterationCount".into(), Value::from(it + 1));
    cx.set_outputs(id, out);
    let done = match cx.render(id, &spec.condition) {
        Ok(v) => kite_expr::is_truthy(&v),
        Err(e) => {
            cx.log(Some(id), LogLevel::Error, format!("condition: {e}"));
            return Some(State::Failed);
        }
    };
    if done {
        return Some(State::Success);
    }
    let render_u32 = |cx: &Cx<'_>, d: &Option<Dyn<u32>>, default: u32| match d {
        None => default,
        Some(Dyn::Value(v)) => *v,
        Some(Dyn::Expr(e)) => cx
            .render(id, e)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(default),
    };
    let render_dur = |cx: &Cx<'_>, d: &Option<Dyn<kite_flow::IsoDuration>>, default: i64| match d {
        None => kite_flow::IsoDuration::from_secs(default),
        Some(Dyn::Value(v)) => *v,
        Some(Dyn::Expr(e)) => cx
            .render(id, e)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(kite_flow::IsoDuration::from_secs(default)),
    };
    let max_it = render_u32(cx, &spec.check_frequency.max_iterations, 100);
    let max_dur = render_dur(cx, &spec.check_frequency.max_duration, 3600);
    let interval = render_dur(cx, &spec.check_frequency.interval, 1);
    let started = cx
        .run(id)
        .and_then(|r| r.state.start_date)
        .unwrap_or(cx.now);
    let elapsed = cx.now - started;
    if it + 1 >= max_it || elapsed >= max_dur.to_chrono() {
        cx.log(
            Some(id),
            LogLevel::Warn,
            "WaitFor reached its maximum iterations or duration",
        );
        return Some(if spec.fail_on_max_reached {
            State::Failed
        } else {
            State::Success
        });
    }
    cx.rec.internal.branches.insert(waiting_key(id), "1".into());
    let at = cx.now + interval.to_chrono();
    cx.actions.push(Action::Timer {
        at,
        timer: TimerKind::WaitFor {
            task_run_id: id.to_owned(),
        },
    });
    None
}

/// The interval passed: next iteration.
pub fn on_timer(cx: &mut Cx<'_>, id: &str) {
    if cx.rec.internal.branches.remove(&waiting_key(id)).is_none() {
        return;
    }
    if let Some(r) = cx.rec.execution.task_run_mut(id) {
        r.iteration = Some(r.iteration.unwrap_or(0) + 1);
    }
}
