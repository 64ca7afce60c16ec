//! `execution.Exit` inline: ends the execution now, in `state` (SUCCESS, WARNING, KILLED,
//! FAILED, CANCELED); running task runs are killed, nothing else starts.

use kite_flow::Task;
use kite_flow::plugin::LogLevel;
use kite_flow::tasks::exit::Exit;
use serde_json::Map;

use super::Outcome;
use crate::executor::Cx;
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Exit>().ok_or("not an Exit task")?;
    let name = cx.render(id, &spec.state)?;
    let state = State::parse(&name)
        .filter(|s| {
            matches!(
                s,
                State::Success | State::Warning | State::Killed | State::Failed | State::Cancelled
            )
        })
        .ok_or_else(|| {
            format!("state must be SUCCESS, WARNING, KILLED, FAILED or CANCELED, not `{name}`")
        })?;
    cx.log(
        Some(id),
        LogLevel::Info,
        format!("Exit: the execution ends {state}"),
    );
    cx.rec.internal.exit = Some(state);
    Ok((State::Success, Map::new()))
}
