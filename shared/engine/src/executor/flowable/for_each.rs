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
    for item in &items {
        if item.is_null() {
            return Err("Found null values, each task can't run on null values".into());
        }
        let t = value_text(item);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Resolves the values once.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let s = spec(task).ok_or("not a loop task")?;
    let values = resolve_values(cx, id, s.values)?;
    cx.rec.internal.loops.insert(id.to_owned(), values);
    Ok(())
}

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = spec(task) else {
        return Decision::Done(State::Failed);
    };
    let values = cx.rec.internal.loops.get(id).cloned().unwrap_or_default();
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
    let mut creates = Vec::new();
    let (mut active, mut failed, mut all_done) = (0usize, false, true);
    let mut states = Vec::new();
    let mut not_started = Vec::new();
    for v in &values {
        let started = !runs_of(cx, Some(id), s.tasks, Some(v)).is_empty();
        if !started {
            not_started.push(v);
            all_done = false;
            continue;
        }
        match branch::sequential(cx, Some(id), group, Some(v)) {
            Decision::Create(c) => {
                active += 1;
                all_done = false;
                creates.extend(c);
            }
            Decision::Wait => {
                active += 1;
                all_done = false;
            }
            Decision::Done(st) => {
                failed |= st.is_failed();
                states.push(st);
            }
        }
    }
    if !failed {
        let room = if limit == 0 {
            usize::MAX
        } else {
            limit.saturating_sub(active)
        };
        for v in not_started.into_iter().take(room) {
            if let Some(first) = s.tasks.iter().find(|t| !t.common.disabled) {
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
