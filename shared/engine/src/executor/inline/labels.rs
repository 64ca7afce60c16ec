//! `execution.Labels` inline: adds or overwrites labels of the running execution.

use kite_flow::Task;
use kite_flow::tasks::labels::Labels;
use serde_json::{Map, Value};

use super::Outcome;
use crate::executor::Cx;
use crate::model::{Label, State};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs the task.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Outcome {
    let spec = task.spec::<Labels>().ok_or("not a Labels task")?;
    let rendered = match &spec.labels {
        Value::String(s) => {
            let r = cx.render_typed(id, s)?;
            match r {
                Value::String(t) => serde_json::from_str(&t)
                    .map_err(|_| format!("labels must be a map, got `{t}`"))?,
                other => other,
            }
        }
        other => cx.render_value(id, other)?,
    };
    let pairs: Vec<(String, String)> = match rendered {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| (text(&i["key"]), text(&i["value"])))
            .collect(),
        other => {
            return Err(format!(
                "labels must be a map or a list of key/value, got {other}"
            ));
        }
    };
    for (k, v) in pairs {
        if k.starts_with("system.") {
            return Err(format!(
                "System labels can only be set by Kestra itself, offending label: {k}={v}"
            ));
        }
        let labels = &mut cx.rec.execution.labels;
        match labels.iter_mut().find(|l| l.key == k) {
            Some(l) => l.value = v,
            None => labels.push(Label { key: k, value: v }),
        }
    }
    Ok((State::Success, Map::new()))
}
