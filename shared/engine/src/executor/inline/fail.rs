//! `execution.Fail` inline: fails (with `errorMessage`, default `Task failure`), or, with a
//! `condition`, fails only when it renders truthy.

use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_flow::tasks::fail::Fail;
use serde_json::Map;

use super::Outcome;
use crate::executor::Cx;
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Fail>().ok_or("not a Fail task")?;
    if let Some(c) = &spec.condition
        && !kite_expr::is_truthy(&cx.render(id, c)?)
    {
        return Ok((State::Success, Map::new()));
    }
    let message = match &spec.error_message {
        Some(m) => cx.render(id, m)?,
        None => "Task failure".to_owned(),
    };
    cx.log(Some(id), LogLevel::Error, message);
    Ok((State::Failed, Map::new()))
}
