//! `execution.Resume` inline: resumes a paused execution (`executionId`, default: this
//! one's parent chain is not searched; the current execution) with `onResume` inputs.

use kite_flow::Task;
use kite_flow::tasks::resume::Resume;
use serde_json::{Map, Value};

use super::Outcome;
use crate::executor::{Action, Cx};
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Resume>().ok_or("not a Resume task")?;
    let execution_id = match &spec.execution_id {
        Some(e) => cx.render(id, e)?,
        None => cx.rec.execution.id.clone(),
    };
    let inputs = match &spec.inputs {
        Some(m) => match cx.render_value(
            id,
            &Value::Object(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        )? {
            Value::Object(o) => o,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    cx.actions.push(Action::ResumeExecution {
        execution_id,
        inputs,
    });
    Ok((State::Success, Map::new()))
}
