//! `Subflow`: creates a child execution and, with `wait` (default), ends with it.

use kite_flow::Task;
use kite_flow::property::Dyn;
use kite_flow::tasks::subflow::Subflow;
use serde_json::{Map, Value};

use crate::executor::{Action, Cx, SubflowRequest};
use crate::model::{Label, State, ids};

/// Asks for the child execution (ids derived from the attempt, so a replay asks once).
pub fn start_child(cx: &mut Cx<'_>, task: &Task, id: &str) {
    let Some(spec) = task.spec::<Subflow>() else {
        return;
    };
    let attempt = cx
        .run(id)
        .map(|r| r.attempts.len())
        .unwrap_or(0)
        .to_string();
    let child_id = ids::derived_id(&[&cx.rec.execution.id, id, &attempt, "subflow"]);
    let inputs_json = Value::Object(
        spec.inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let inputs = match cx.render_value(id, &inputs_json) {
        Ok(Value::Object(m)) => m,
        Ok(_) => Map::new(),
        Err(e) => {
            cx.log(
                Some(id),
                kite_flow::plugin::LogLevel::Error,
                format!("inputs: {e}"),
            );
            cx.finish_attempt(task, id, State::Failed, Map::new());
            return;
        }
    };
    let mut labels: Vec<Label> = Vec::new();
    if spec.inherit_labels {
        labels.extend(
            cx.rec
                .execution
                .labels
                .iter()
                .filter(|l| !l.key.starts_with("system."))
                .cloned(),
        );
    }
    for l in spec.labels.iter() {
        let value = cx.render(id, &l.value).unwrap_or_else(|_| l.value.clone());
        labels.retain(|x| x.key != l.key);
        labels.push(Label {
            key: l.key.clone(),
            value,
        });
    }
    let correlation = cx
        .rec
        .execution
        .labels
        .iter()
        .find(|l| l.key == "system.correlationId")
        .map(|l| l.value.clone())
        .unwrap_or_else(|| cx.rec.execution.id.clone());
    labels.push(Label {
        key: "system.correlationId".into(),
        value: correlation,
    });
    let revision = match &spec.revision {
        Some(Dyn::Value(r)) => Some(*r),
        Some(Dyn::Expr(e)) => cx.render(id, e).ok().and_then(|s| s.trim().parse().ok()),
        None => None,
    };
    let wait = spec.wait.unwrap_or(true);
    let trigger = parent_trigger(cx, id);
    let e = &cx.rec.execution;
    let outputs = (!spec.outputs.is_empty()).then(|| {
        spec.outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    let req = SubflowRequest {
        execution_id: child_id.clone(),
        parent_execution_id: e.id.clone(),
        parent_task_run_id: id.to_owned(),
        namespace: spec.namespace.clone(),
        flow_id: spec.flow_id.clone(),
        revision,
        inputs,
        labels,
        wait,
        trigger,
        outputs,
    };
    cx.actions.push(Action::StartSubflow(req));
    let mut out = Map::new();
    out.insert("executionId".into(), Value::String(child_id));
    if wait {
        cx.set_outputs(id, out);
    } else {
        cx.finish_attempt(task, id, State::Success, out);
    }
}

/// What the child reported.
#[derive(Debug)]
pub struct Ended<'a> {
    /// The child execution.
    pub child: &'a str,
    /// Its final state.
    pub state: State,
    /// Its outputs.
    pub outputs: Map<String, Value>,
    /// Why this task must fail anyway.
    pub error: Option<String>,
}

/// Trigger variables of a child execution started by run `task_run_id` of this execution.
pub fn parent_trigger(cx: &Cx<'_>, task_run_id: &str) -> Map<String, Value> {
    let e = &cx.rec.execution;
    let mut trigger = Map::new();
    trigger.insert("executionId".into(), Value::String(e.id.clone()));
    trigger.insert("namespace".into(), Value::String(e.namespace.clone()));
    trigger.insert("flowId".into(), Value::String(e.flow_id.clone()));
    trigger.insert("flowRevision".into(), Value::from(e.flow_revision));
    trigger.insert("parentExecutionId".into(), Value::String(e.id.clone()));
    trigger.insert(
        "parentTaskRunId".into(),
        Value::String(task_run_id.to_owned()),
    );
    trigger
}

/// The child ended: end this run accordingly (retry may apply).
pub fn on_child_ended(cx: &mut Cx<'_>, task: &Task, id: &str, ended: Ended<'_>) {
    let Some(spec) = task.spec::<Subflow>() else {
        return;
    };
    if cx
        .run(id)
        .and_then(|r| r.outputs.get("executionId"))
        .and_then(Value::as_str)
        != Some(ended.child)
    {
        return; // a stale child (previous attempt)
    }
    let mut out = Map::new();
    out.insert("executionId".into(), Value::String(ended.child.to_owned()));
    out.insert("state".into(), Value::String(ended.state.name().into()));
    out.insert("outputs".into(), Value::Object(ended.outputs));
    if let Some(e) = ended.error {
        cx.log(Some(id), kite_flow::plugin::LogLevel::Error, e);
        cx.finish_attempt(task, id, State::Failed, out);
        return;
    }
    let transmit = spec.transmit_failed.unwrap_or(true);
    let mine = match ended.state {
        State::Failed | State::Killed | State::Warning if transmit => ended.state,
        State::Cancelled if transmit => State::Failed,
        _ => State::Success,
    };
    cx.finish_attempt(task, id, mine, out);
}
