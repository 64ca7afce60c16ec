//! `ForEach` (and the deprecated `EachSequential`/`EachParallel`): the same tasks once per
//! distinct value, each value's tasks in sequence, `concurrencyLimit` values at a time.

use kite_flow::Task;
use kite_flow::property::Dyn;
use kite_flow::tasks::{
    each_parallel::EachParallel, each_sequential::EachSequential, for_each::ForEach,
};
use serde_json::Value;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists, NewRun, runs_of, worst};
use crate::model::State;

struct Spec<'f> {
    values: &'f Value,
    tasks: &'f [Task],
    errors: &'f [Task],
    finally: &'f [Task],
    limit: Option<&'f Dyn<u32>>,
    default_limit: usize,
}

fn spec(task: &Task) -> Option<Spec<'_>> {
    if let Some(f) = task.spec::<ForEach>() {
        return Some(Spec {
            values: &f.values,
            tasks: &f.tasks,
            errors: &f.errors,
            finally: &f.finally,
            limit: f.concurrency_limit.as_ref(),
            default_limit: 1,
        });
    }
    if let Some(f) = task.spec::<EachSequential>() {
        return Some(Spec {
            values: &f.value,
            tasks: &f.tasks,
            errors: &f.errors,
            finally: &[],
            limit: None,
            default_limit: 1,
        });
    }
    if let Some(f) = task.spec::<EachParallel>() {
        return Some(Spec {
            values: &f.value,
            tasks: &f.tasks,
            errors: &f.errors,
            finally: &[],
            limit: f.concurrent.as_ref(),
            default_limit: 0,
        });
    }
    None
}

/// The loop value of an item: strings as they are, anything else as JSON text.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Resolves the values (rendered; a string must be a JSON list); nulls are an error.
pub fn resolve_values(cx: &Cx<'_>, id: &str, values: &Value) -> Result<Vec<String>, String> {
    let items = match values {
        Value::String(s) => {
            let rendered = cx.render(id, s).map_err(|e| format!("values: {e}"))?;
            match serde_json::from_str::<Value>(&rendered) {
                Ok(Value::Array(a)) => a,
                _ => {
                    return Err(format!(
                        "values must be a list or a JSON array, got `{rendered}`"
                    ));
                }
            }
        }
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for item in a {
                out.push(match item {
                    Value::String(s) => {
                        Value::String(cx.render(id, s).map_err(|e| format!("values: {e}"))?)
                    }
                    other => other.clone(),
                });
            }
            out
        }
        other => return Err(format!("values must be a list, got {other}")),
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in &items {
        if item.is_null() {
            return Err("Found null values, each task can't run on null values".into());
        }
        let t = value_text(item);
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Resolves the values once.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let s = spec(task).ok_or("not a loop task")?;
    let values = resolve_values(cx, id, s.values)?;
    let limits = cx.rt.limits;
    if values.len() > limits.max_loop_values {
        return Err(crate::executor::limits::Ceiling::LoopValues.exceeded(
            &limits,
            format!("`{}` has {} values", task.id, values.len()),
        ));
    }
    cx.rec.internal.loops.insert(id.to_owned(), values);
    Ok(())
}

/// What a decision learned about a loop's values: the first `done` values' groups ended
/// (they stay ended for the rest of the decision), `failed` if one of them failed, and the
/// worst of their states. With it a round looks only at the values still running and the
/// ones it starts, so a loop of N values decides in work linear in N, whatever its
/// concurrency.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    done: usize,
    failed: bool,
    worst: Option<State>,
}

impl Progress {
    fn ended(&mut self, st: State) {
        self.done += 1;
        self.failed |= st.is_failed();
        self.worst = Some(match self.worst {
            Some(w) if w.severity() >= st.severity() => w,
            _ => st,
        });
    }
}

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = spec(task) else {
        return Decision::Done(State::Failed);
    };
    let empty = Vec::new();
    let values = cx.rec.internal.loops.get(id).unwrap_or(&empty);
    let limit = match s.limit {
        None => s.default_limit,
        Some(Dyn::Value(n)) => *n as usize,
        Some(Dyn::Expr(e)) => cx
            .render(id, e)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(s.default_limit),
    };
    let group = Lists {
        tasks: s.tasks,
        errors: &[],
        finally: &[],
    };
    let mut progress = cx.loop_progress(id);
    let mut creates = Vec::new();
    let (mut active, mut failed, mut all_done) = (0usize, progress.failed, true);
    let mut states: Vec<State> = progress.worst.into_iter().collect();
    // Values start in order: past the first one not started, none is.
    let mut first_not_started = values.len();
    let mut prefix = true;
    for (k, v) in values.iter().enumerate().skip(progress.done) {
        let started = !runs_of(cx, Some(id), s.tasks, Some(v)).is_empty();
        if !started {
            first_not_started = k;
            all_done = false;
            break;
        }
        match branch::sequential(cx, Some(id), group, Some(v)) {
            Decision::Create(c) => {
                prefix = false;
                active += 1;
                all_done = false;
                creates.extend(c);
            }
            Decision::Wait => {
                prefix = false;
                active += 1;
                all_done = false;
            }
            Decision::Done(st) => {
                failed |= st.is_failed();
                states.push(st);
                if prefix {
                    progress.ended(st);
                }
            }
        }
    }
    cx.set_loop_progress(id, progress);
    if !failed {
        let room = if limit == 0 {
            usize::MAX
        } else {
            limit.saturating_sub(active)
        };
        if let Some(first) = s.tasks.iter().find(|t| !t.common.disabled) {
            for v in values[first_not_started..].iter().take(room) {
                creates.push(NewRun::new(first, Some(v.clone())));
            }
        }
    }
    if !creates.is_empty() {
        return Decision::Create(creates);
    }
    if !all_done && (active > 0 || !failed) {
        return Decision::Wait;
    }
    // Every value group ended (or a failure stopped the loop): errors, then finally.
    if let Some(d) = branch::tail(cx, id, s.errors, s.finally, failed) {
        return d;
    }
    if failed {
        return Decision::Done(State::Failed);
    }
    let all: Vec<&crate::model::TaskRun> = runs_of(cx, Some(id), s.tasks, None);
    let mut st = worst(all);
    for x in states {
        if x.severity() > st.severity() {
            st = x;
        }
    }
    Decision::Done(st)
}
