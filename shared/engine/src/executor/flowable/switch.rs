//! `Switch`: renders `value` once at start (outputs `value`, `defaults`), then runs the
//! matching case, or `defaults`; no match and no defaults fails.

use kite_flow::Task;
use kite_flow::tasks::switch::Switch;
use serde_json::{Map, Value};

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Evaluates the value.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let Some(spec) = task.spec::<Switch>() else {
        return Err("not a Switch task".into());
    };
    let value = cx
        .render(id, &spec.value)
        .map_err(|e| format!("value: {e}"))?;
    let matched = spec.cases.contains_key(&value);
    let mut out = Map::new();
    out.insert("value".into(), Value::String(value.clone()));
    out.insert("defaults".into(), Value::Bool(!matched));
    cx.set_outputs(id, out);
    if !matched && spec.defaults.is_empty() {
        return Err(format!(
            "Switch: no case matches `{value}` and there are no `defaults`"
        ));
    }
    let chosen = if matched {
        format!("cases.{value}")
    } else {
        "defaults".into()
    };
    cx.rec.internal.branches.insert(id.to_owned(), chosen);
    Ok(())
}

/// Next children of the chosen case.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(spec) = task.spec::<Switch>() else {
        return Decision::Done(State::Failed);
    };
    let tasks = match cx
        .rec
        .internal
        .branches
        .get(id)
        .and_then(|b| b.strip_prefix("cases."))
    {
        Some(case) => spec.cases.get(case).map(Vec::as_slice).unwrap_or(&[]),
        None => &spec.defaults[..],
    };
    branch::sequential(
        cx,
        Some(id),
        Lists {
            tasks,
            errors: &spec.errors,
            finally: &spec.finally,
        },
        None,
    )
}
