//! `log.Log` inline: renders each message and logs it at `level`.

use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_flow::tasks::log::Log;
use serde_json::Map;

use super::Outcome;
use crate::executor::Cx;
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Log>().ok_or("not a Log task")?;
    let level = spec.level.unwrap_or(LogLevel::Info);
    let min = task.common.log_level.or(task.common.min_log_level);
    let mut lines = Vec::new();
    for m in spec.message.items() {
        lines.push(cx.render(id, m)?);
    }
    if min.is_none_or(|min| level >= min) {
        for l in lines {
            cx.log(Some(id), level, l);
        }
    }
    Ok((State::Success, Map::new()))
}
