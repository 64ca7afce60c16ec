//! `Subflow`: creates a child execution and, with `wait` (default), ends with it.
//!
//! The child's `namespace` and `flowId` are rendered first (`flowId: "{{ flow.id }}"`
//! names the flow it renders to). Every child carries its depth and the executions that
//! started it in its trigger variables (`trigger.depth`, `trigger.ancestors`), so the
//! depth limit ([`crate::executor::Expressions::max_subflow_depth`]) holds across processes and
//! Lambdas, and file access ([`crate::access`]) follows the chain.

use kite_flow::Task;
use kite_flow::property::Dyn;
use kite_flow::tasks::subflow::Subflow;
use serde_json::{Map, Value};

use crate::access::ExecutionRef;
use crate::executor::context::{DEFAULT_MAX_SUBFLOW_DEPTH, MAX_SUBFLOW_DEPTH_ENV};
use crate::executor::{Action, Cx, SubflowRequest};
use crate::model::{Execution, Label, State, ids};

/// Starts a run: its first attempt asks for the child execution.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    cx.push_attempt(id);
    start_child(cx, task, id);
    Ok(())
}

/// Starts a restarted run (its attempt already pushed): asks for a new child.
pub fn restart(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    start_child(cx, task, id);
    Ok(())
}

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
    let target = render_target(cx, id, &spec.namespace, &spec.flow_id)
        .and_then(|(ns, flow)| check_depth(cx, &ns, &flow).map(|()| (ns, flow)));
    let (namespace, flow_id) = match target {
        Ok(t) => t,
        Err(e) => {
            cx.log(Some(id), kite_flow::plugin::LogLevel::Error, e);
            cx.finish_attempt(task, id, State::Failed, Map::new());
            return;
        }
    };
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
        namespace,
        flow_id,
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

/// Renders the `namespace` and `flowId` of a child (they may be expressions).
pub fn render_target(
    cx: &Cx<'_>,
    id: &str,
    namespace: &str,
    flow_id: &str,
) -> Result<(String, String), String> {
    let ns = cx
        .render(id, namespace)
        .map_err(|e| format!("namespace: {e}"))?;
    let flow = cx.render(id, flow_id).map_err(|e| format!("flowId: {e}"))?;
    Ok((ns.trim().to_owned(), flow.trim().to_owned()))
}

/// How deep in a chain of subflows or Flow triggers `e` runs: 0 for an execution not
/// started by a Subflow, a ForEachItem or a Flow trigger, 1 for its children (and the
/// executions its changes triggered), and so on.
pub fn depth(e: &Execution) -> u64 {
    use kite_flow::plugin::PluginType as _;
    match &e.trigger {
        Some(t)
            if t.kind == SUBFLOW_TRIGGER
                || t.kind == kite_flow::triggers::flow::FlowTrigger::TYPE =>
        {
            t.variables
                .get("depth")
                .and_then(Value::as_u64)
                .unwrap_or(1)
        }
        _ => 0,
    }
}

/// The trigger type (and id) of executions started by Subflow and ForEachItem.
pub const SUBFLOW_TRIGGER: &str = "subflow";

/// Refuses a child that would run deeper than the limit.
pub fn check_depth(cx: &Cx<'_>, namespace: &str, flow_id: &str) -> Result<(), String> {
    let child = depth(&cx.rec.execution) + 1;
    let limit = u64::from(cx.rt.max_subflow_depth);
    if child <= limit {
        return Ok(());
    }
    let e = &cx.rec.execution;
    Err(format!(
        "Subflow depth limit reached: {}.{} (execution {}, depth {}) cannot start \
         {namespace}.{flow_id}: at most {limit} nested subflows run below a root execution. \
         A flow that calls itself, directly or through others, needs a stop condition; if \
         the nesting is intended, raise the limit with the environment variable \
         {MAX_SUBFLOW_DEPTH_ENV} of the executor (default {DEFAULT_MAX_SUBFLOW_DEPTH}).",
        e.namespace,
        e.flow_id,
        e.id,
        child - 1,
    ))
}

/// Trigger variables of a child execution started by run `task_run_id` of this execution.
pub fn parent_trigger(cx: &Cx<'_>, task_run_id: &str) -> Map<String, Value> {
    let e = &cx.rec.execution;
    // The executions that started this one, root first: the child may read their files.
    let mut ancestors: Vec<Value> = e
        .trigger
        .as_ref()
        .and_then(|t| t.variables.get("ancestors"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(t) = &e.trigger {
        let s = |k: &str| t.variables.get(k).and_then(Value::as_str);
        if let (Some(namespace), Some(flow_id), Some(execution_id)) =
            (s("namespace"), s("flowId"), s("executionId"))
        {
            let starter = ExecutionRef {
                namespace: namespace.to_owned(),
                flow_id: flow_id.to_owned(),
                execution_id: execution_id.to_owned(),
            }
            .to_json();
            if !ancestors.contains(&starter) {
                ancestors.push(starter);
            }
        }
    }
    let mut trigger = Map::new();
    trigger.insert("depth".into(), Value::from(depth(e) + 1));
    trigger.insert("ancestors".into(), Value::Array(ancestors));
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
