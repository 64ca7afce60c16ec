//! `ForEachItem`: a sequence of three hidden steps — `<id>_split` (worker: cut the items
//! file into batches), `<id>_items` (here: one subflow execution per batch, counted in
//! `iterations`), `<id>_merge` (worker: the children's outputs in one file).

use kite_flow::Task;
use kite_flow::property::Dyn;
use kite_flow::tasks::for_each_item::{ForEachItem, ForEachItemItems};
use serde_json::{Map, Value};

use crate::executor::branch::{self, Decision, Lists};
use crate::executor::{Action, Cx, SubflowRequest};
use crate::model::{Label, State, ids};

/// The steps in sequence, then `errors`.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(spec) = task.spec::<ForEachItem>() else {
        return Decision::Done(State::Failed);
    };
    branch::sequential(
        cx,
        Some(id),
        Lists {
            tasks: &spec.steps,
            errors: &spec.errors,
            finally: &[],
        },
        None,
    )
}

fn iterations(children: &[(String, Option<State>)], wait: bool) -> Value {
    let mut m = Map::new();
    if !wait {
        m.insert("RUNNING".into(), Value::from(0));
        m.insert("SUCCESS".into(), Value::from(children.len()));
        return Value::Object(m);
    }
    let running = children.iter().filter(|(_, s)| s.is_none()).count();
    m.insert("CREATED".into(), Value::from(0));
    m.insert("RUNNING".into(), Value::from(running));
    for (_, s) in children {
        if let Some(s) = s {
            let e = m.entry(s.name().to_owned()).or_insert(Value::from(0));
            *e = Value::from(e.as_u64().unwrap_or(0) + 1);
        }
    }
    Value::Object(m)
}

/// Starts the `_items` step: its attempt, then one child per batch.
pub fn start_items_attempt(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    cx.push_attempt(id);
    start_items(cx, task, id)
}

/// A child of the `_items` step ended.
pub fn on_items_child_ended(
    cx: &mut Cx<'_>,
    task: &Task,
    id: &str,
    ended: crate::executor::flowable::subflow::Ended<'_>,
) {
    on_child_ended(cx, task, id, ended.child, ended.state);
}

/// Starts one child per batch written by the `_split` sibling.
pub fn start_items(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let spec = task
        .spec::<ForEachItemItems>()
        .ok_or("not a ForEachItem step")?;
    let parent = cx
        .run(id)
        .and_then(|r| r.parent_task_run_id.clone())
        .ok_or("ForEachItem step without parent")?;
    let split_id = format!("{}_split", task.id.trim_end_matches("_items"));
    let uris: Vec<String> = cx
        .rec
        .execution
        .children(Some(&parent))
        .find(|r| r.task_id == split_id)
        .and_then(|r| r.outputs.get("uris"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if uris.is_empty() {
        cx.finish_attempt(task, id, State::Success, Map::new());
        return Ok(());
    }
    let limits = cx.rt.limits;
    if uris.len() > limits.max_loop_values {
        return Err(crate::executor::limits::Ceiling::LoopValues.exceeded(
            &limits,
            format!("ForEachItem `{}` has {} batches", task.id, uris.len()),
        ));
    }
    let (namespace, flow_id) =
        super::subflow::render_target(cx, id, &spec.namespace, &spec.flow_id)?;
    super::subflow::check_depth(cx, &namespace, &flow_id)?;
    let revision = match &spec.revision {
        Some(Dyn::Value(r)) => Some(*r),
        Some(Dyn::Expr(e)) => cx.render(id, e).ok().and_then(|s| s.trim().parse().ok()),
        None => None,
    };
    let base_vars = cx.vars(id);
    let inputs_json = Value::Object(
        spec.inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
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
        labels.push(Label {
            key: l.key.clone(),
            value: cx.render(id, &l.value).unwrap_or_else(|_| l.value.clone()),
        });
    }
    labels.push(Label {
        key: "system.correlationId".into(),
        value: cx.rec.execution.id.clone(),
    });
    let mut children = Vec::with_capacity(uris.len());
    for (i, uri) in uris.iter().enumerate() {
        let mut vars = base_vars.clone();
        if let Some(Value::Object(tr)) = vars.get_mut("taskrun") {
            tr.insert("items".into(), Value::String(uri.clone()));
            tr.insert("iteration".into(), Value::from(i + 1));
        }
        let ctx = crate::executor::context::render_context(
            cx.rt,
            vars,
            &cx.rec.internal.error_logs,
            cx.now,
        );
        let inputs = match cx.rt.engine.render_value(&inputs_json, &ctx) {
            Ok(Value::Object(m)) => m,
            Ok(_) => Map::new(),
            Err(e) => return Err(format!("inputs: {e}")),
        };
        let child = ids::derived_id(&[&cx.rec.execution.id, id, &i.to_string(), "item"]);
        let e = &cx.rec.execution;
        let trigger = super::subflow::parent_trigger(cx, id);
        cx.actions.push(Action::StartSubflow(SubflowRequest {
            execution_id: child.clone(),
            parent_execution_id: e.id.clone(),
            parent_task_run_id: id.to_owned(),
            namespace: namespace.clone(),
            flow_id: flow_id.clone(),
            revision,
            inputs,
            labels: labels.clone(),
            wait: spec.wait,
            trigger,
            outputs: None,
        }));
        children.push((
            child,
            if spec.wait {
                None
            } else {
                Some(State::Success)
            },
        ));
    }
    let mut out = Map::new();
    out.insert("numberOfBatches".into(), Value::from(children.len()));
    out.insert("iterations".into(), iterations(&children, spec.wait));
    cx.rec
        .internal
        .item_children
        .insert(id.to_owned(), children);
    if spec.wait {
        cx.set_outputs(id, out);
    } else {
        cx.finish_attempt(task, id, State::Success, out);
    }
    Ok(())
}

/// A child ended: count it; end the step when all did.
pub fn on_child_ended(cx: &mut Cx<'_>, task: &Task, id: &str, child: &str, state: State) {
    let Some(spec) = task.spec::<ForEachItemItems>() else {
        return;
    };
    let Some(children) = cx.rec.internal.item_children.get_mut(id) else {
        return;
    };
    let Some(slot) = children.iter_mut().find(|(c, _)| c == child) else {
        return;
    };
    if slot.1.is_some() {
        return;
    }
    slot.1 = Some(state);
    let children = children.clone();
    let mut out = Map::new();
    out.insert("iterations".into(), iterations(&children, true));
    cx.set_outputs(id, out);
    if children.iter().all(|(_, s)| s.is_some()) {
        let failed = children
            .iter()
            .any(|(_, s)| matches!(s, Some(State::Failed | State::Killed)));
        let st = if failed && spec.transmit_failed {
            State::Failed
        } else {
            State::Success
        };
        cx.finish_attempt(task, id, st, Map::new());
    }
}

/// Data the `_merge` worker job needs: the child execution ids.
pub fn job_extra(cx: &Cx<'_>, task: &Task, id: &str) -> Map<String, Value> {
    let mut m = Map::new();
    if task.type_name != <kite_flow::tasks::for_each_item::ForEachItemMerge as kite_flow::plugin::PluginType>::TYPE {
        return m;
    }
    let Some(parent) = cx.run(id).and_then(|r| r.parent_task_run_id.clone()) else {
        return m;
    };
    let items_id = format!("{}_items", task.id.trim_end_matches("_merge"));
    let children: Vec<Value> = cx
        .rec
        .execution
        .children(Some(&parent))
        .filter(|r| r.task_id == items_id)
        .filter_map(|r| cx.rec.internal.item_children.get(&r.id))
        .flat_map(|c| c.iter().map(|(id, _)| Value::String(id.clone())))
        .collect();
    m.insert("children".into(), Value::Array(children));
    m
}
