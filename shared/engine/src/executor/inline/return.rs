//! `debug.Return` inline: renders `format` into the output `value`.

use kite_flow::Task;
use kite_flow::tasks::r#return::Return;
use serde_json::{Map, Value};

use super::Outcome;
use crate::executor::Cx;
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Return>().ok_or("not a Return task")?;
    let mut out = Map::new();
    if let Some(f) = &spec.format {
        out.insert("value".into(), Value::String(cx.render(id, f)?));
    }
    Ok((State::Success, out))
}
