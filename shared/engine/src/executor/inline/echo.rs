//! `debug.Echo` inline (deprecated): renders `format` and logs it.

use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_flow::tasks::echo::Echo;
use serde_json::Map;

use super::Outcome;
use crate::executor::Cx;
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Echo>().ok_or("not an Echo task")?;
    let line = cx.render(id, &spec.format)?;
    cx.log(Some(id), spec.level.unwrap_or(LogLevel::Info), line);
    Ok((State::Success, Map::new()))
}
