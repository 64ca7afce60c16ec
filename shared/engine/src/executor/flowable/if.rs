//! `If`: renders `condition` once at start (output `evaluationResult`), then runs `then`
//! or `else` in sequence.

use kite_flow::Task;
use kite_flow::tasks::r#if::If;
use serde_json::{Map, Value};

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Evaluates the condition.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let Some(spec) = task.spec::<If>() else {
        return Err("not an If task".into());
    };
    let rendered = cx
        .render(id, &spec.condition)
        .map_err(|e| format!("condition: {e}"))?;
    let result = kite_expr::is_truthy(&rendered);
    let mut out = Map::new();
    out.insert("evaluationResult".into(), Value::Bool(result));
    cx.set_outputs(id, out);
    cx.rec
        .internal
        .branches
        .insert(id.to_owned(), if result { "then" } else { "else" }.into());
    Ok(())
}

/// Next children of the chosen branch.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(spec) = task.spec::<If>() else {
        return Decision::Done(State::Failed);
    };
    let tasks = match cx.rec.internal.branches.get(id).map(String::as_str) {
        Some("then") => &spec.then[..],
        _ => &spec.otherwise[..],
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
