//! `output.OutputValues` inline: renders `values` (recursively) into the output `values`.

use kite_flow::Task;
use kite_flow::tasks::output_values::OutputValues;
use serde_json::{Map, Value};

use super::Outcome;
use crate::executor::Cx;
use crate::model::State;

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task
        .spec::<OutputValues>()
        .ok_or("not an OutputValues task")?;
    let raw = Value::Object(
        spec.values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let rendered = cx.render_value(id, &raw)?;
    let mut out = Map::new();
    out.insert("values".into(), rendered);
    Ok((State::Success, out))
}
