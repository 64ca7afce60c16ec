//! `Pause`: PAUSED until resumed, until `delay` passes (then resumed), or until `timeout`
//! passes (then FAILED). `onResume` inputs become its outputs.

use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_flow::property::Dyn;
use kite_flow::tasks::pause::Pause;
use serde_json::{Map, Value};

use crate::executor::branch::{self, Decision, Lists};
use crate::executor::{Action, Cx, TimerKind};
use crate::model::State;

fn duration(
    cx: &Cx<'_>,
    id: &str,
    d: &Dyn<kite_flow::IsoDuration>,
) -> Result<kite_flow::IsoDuration, String> {
    match d {
        Dyn::Value(v) => Ok(*v),
        Dyn::Expr(e) => cx
            .render(id, e)?
            .trim()
            .parse()
            .map_err(|e: kite_flow::duration::DurationError| e.to_string()),
    }
}

/// Pauses the run and arms its timers.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let spec = task.spec::<Pause>().ok_or("not a Pause task")?;
    let now = cx.now;
    if let Some(d) = &spec.delay {
        let d = duration(cx, id, d).map_err(|e| format!("delay: {e}"))?;
        cx.actions.push(Action::Timer {
            at: now + d.to_chrono(),
            timer: TimerKind::PauseDelay {
                task_run_id: id.to_owned(),
            },
        });
    } else if let Some(t) = &task.common.timeout {
        let t = duration(cx, id, t).map_err(|e| format!("timeout: {e}"))?;
        cx.actions.push(Action::Timer {
            at: now + t.to_chrono(),
            timer: TimerKind::PauseTimeout {
                task_run_id: id.to_owned(),
            },
        });
    }
    cx.set_run_state(id, State::Paused);
    Ok(())
}

/// The delay passed: resume.
pub fn on_delay(cx: &mut Cx<'_>, id: &str) {
    if cx.run(id).is_some_and(|r| r.current() == State::Paused) {
        cx.set_run_state(id, State::Running);
        cx.rec.internal.resumed.push(id.to_owned());
    }
}

/// The timeout passed: fail if still paused.
pub fn on_timeout(cx: &mut Cx<'_>, id: &str) {
    let Some(run) = cx.run(id) else { return };
    if run.current() != State::Paused {
        return;
    }
    let Some(task) = cx.task(&run.task_id) else {
        return;
    };
    cx.log(Some(id), LogLevel::Error, "Pause timed out");
    let state = cx.final_state(task, id, State::Failed);
    cx.set_run_state(id, state);
}

/// A manual resume, with `onResume` inputs.
pub fn resume(cx: &mut Cx<'_>, id: &str, inputs: Map<String, Value>) {
    let Some(run) = cx.run(id) else { return };
    let Some(task) = cx.task(&run.task_id) else {
        return;
    };
    if let Some(spec) = task.spec::<Pause>() {
        match kite_flow::inputs::resolve(&spec.on_resume, &inputs, &kite_flow::inputs::NoRenderer) {
            Ok(values) => {
                if !spec.on_resume.is_empty() {
                    let mut out = Map::new();
                    out.insert("onResume".into(), Value::Object(values));
                    cx.set_outputs(id, out);
                }
            }
            Err(errs) => {
                let msg = errs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                cx.log(
                    Some(id),
                    LogLevel::Error,
                    format!("invalid resume inputs: {msg}"),
                );
                return;
            }
        }
    }
    cx.set_run_state(id, State::Running);
    cx.rec.internal.resumed.push(id.to_owned());
}

/// After resuming: the deprecated `tasks`, then SUCCESS.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(spec) = task.spec::<Pause>() else {
        return Decision::Done(State::Failed);
    };
    if !cx.rec.internal.resumed.iter().any(|r| r == id) {
        return Decision::Wait;
    }
    if spec.tasks.is_empty() {
        return Decision::Done(State::Success);
    }
    branch::sequential(
        cx,
        Some(id),
        Lists {
            tasks: &spec.tasks,
            errors: &spec.errors,
            finally: &[],
        },
        None,
    )
}
