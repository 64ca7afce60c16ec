//! `io.kestra.plugin.core.trigger.Flow`: executions started by other executions changing
//! state. It lives where executions change state: the executor's decision emits an
//! [`Action::ExecutionStateChanged`](crate::executor::Action) for every state an execution
//! enters, and the executor service hands it to [`on_state_changed`] after the record is
//! stored. The same code runs in both homes (the local pollers and the executor Lambda).
//!
//! # What one state change does
//! 1. The Flow triggers listening are found with one `trigger_listen` index query (never by
//!    reading every flow), answered from memory for [`LISTENERS_MAX_AGE`]: a trigger deployed,
//!    changed, disabled or deleted in this process is seen at once, one changed by another
//!    process (another Lambda) within that delay.
//! 2. For each, its flow is loaded (the revision its state was synchronised with, parsed
//!    once per process) and the trigger checked, in order: `states` (default: the terminal
//!    states); its own flow's executions (see below); the chain depth; `conditions` (the
//!    condition evaluator, with the upstream execution); its window (`preconditions` or a
//!    `MultipleCondition`, see [`super::preconditions`] and [`super::windows`]).
//! 3. It fires with the variables `trigger.executionId`, `namespace`, `flowId`,
//!    `flowRevision`, `state`, `outputs` (the upstream flow outputs, once it ended) and
//!    `depth`. Its `inputs` render in the upstream execution's context (`outputs` are its
//!    task outputs, as in Kestra's `{{ outputs.task.value }}`, `execution`, `inputs`,
//!    `labels`, `flow`: the upstream's) plus `trigger`.
//!
//! # Exactly once
//! The action is at-least-once (the outbox sends it again with a redelivered event; two
//! executors may both carry it out). Each firing is an [`Occurrence`] whose key names it:
//! the upstream execution id and the position of the change in its state history, or for
//! a window, the window and the set of changes that completed it. The execution id derives
//! from that key and is created with a conditional write, so each exists once.
//!
//! # Loops
//! Kestra never lets a flow's executions trigger that same flow (`FlowService.removeUnwanted`);
//! Kite does the same unless the trigger names upstream flows by id (an `ExecutionFlow`
//! condition, or a `preconditions.flows` entry with a `flowId`) and its conditions hold for
//! the flow itself: an explicit self-reference. Any chain of Flow triggers (self-referencing
//! or A → B → A) is bounded like subflows: an execution started by a Flow trigger runs one
//! level deeper than its upstream (`trigger.depth`), and a change of an execution already at
//! [`Expressions::max_subflow_depth`](crate::executor::Expressions) starts nothing: a WARN line in the
//! upstream execution's logs says so.

use std::time::Duration;

use kite_flow::Flow;
use kite_flow::conditions::execution_flow::ExecutionFlow;
use kite_flow::conditions::multiple::MultipleCondition;
use kite_flow::plugin::{Condition, LogLevel, PluginType as _, Trigger};
use kite_flow::triggers::flow::FlowTrigger;
use serde_json::{Map, Value};

use super::TriggerError;
use super::fire::{FireOutcome, Occurrence, fire_with};
use super::preconditions::{Window, bucket};
use super::registry::FLOW_LISTENERS;
use super::windows::{self, WindowRef};
use crate::conditions::{ConditionContext, UpstreamExecution};
use crate::executor::flowable::subflow;
use crate::executor::{Record, StateChange, context};
use crate::model::{Execution, LogEntry, State};
use crate::repo::triggers::StoredTrigger;
use crate::services::{Platform, ServiceError};

/// How long a process answers the listener query from memory.
pub const LISTENERS_MAX_AGE: Duration = Duration::from_secs(2);

/// What one state change did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaction {
    /// Executions created.
    pub created: usize,
    /// Executions found already there (a redelivery, another executor).
    pub existed: usize,
    /// Firings refused (inputs, depth, a disabled flow).
    pub refused: usize,
}

impl std::ops::AddAssign for Reaction {
    fn add_assign(&mut self, o: Self) {
        self.created += o.created;
        self.existed += o.existed;
        self.refused += o.refused;
    }
}

/// Reacts to `change` of the execution of `rec` (whose flow is `flow`): see the module
/// docs. A store or queue failure is returned (the change is carried out again); a
/// trigger that cannot be evaluated is logged and skipped.
pub async fn on_state_changed(
    platform: &Platform,
    flow: &Flow,
    rec: &Record,
    change: &StateChange,
) -> Result<Reaction, TriggerError> {
    let e = &rec.execution;
    let max_age = chrono::Duration::from_std(LISTENERS_MAX_AGE).unwrap_or_default();
    let listeners = platform
        .repos
        .triggers
        .listening_cached(FLOW_LISTENERS, platform.clock.now(), max_age)
        .await?;
    if listeners.is_empty() {
        return Ok(Reaction::default());
    }
    let upstream = UpstreamExecution {
        id: e.id.clone(),
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        flow_revision: e.flow_revision,
        state: change.state,
        labels: change.labels.clone(),
        outputs: change.outputs.clone(),
        attempt_states: e
            .task_run_list
            .iter()
            .map(|run| run.attempts.iter().map(|a| a.state.current).collect())
            .collect(),
    };
    let ch = Upstream {
        flow,
        execution: e,
        change,
        view: &upstream,
    };
    let mut out = Reaction::default();
    let mut notes = Vec::new();
    for stored in listeners.iter() {
        match react(platform, &ch, stored, &mut notes).await {
            Ok(r) => out += r,
            Err(err) if err.is_transient() => return Err(err),
            Err(err) => {
                tracing::warn!(execution = %e.id, "flow trigger skipped: {err}");
                notes.push(note(&ch, format!("{err}")));
            }
        }
    }
    if !notes.is_empty() {
        platform.repos.logs.append(&notes).await?;
    }
    if out != Reaction::default() {
        tracing::debug!(execution = %e.id, state = %change.state, ?out, "flow triggers");
    }
    Ok(out)
}

/// The upstream side of one change.
struct Upstream<'a> {
    flow: &'a Flow,
    execution: &'a Execution,
    change: &'a StateChange,
    view: &'a UpstreamExecution,
}

/// A WARN line in the upstream execution's logs (dated by the change: stored once however
/// often the change is carried out).
fn note(up: &Upstream<'_>, message: String) -> LogEntry {
    let e = up.execution;
    LogEntry {
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        task_id: None,
        execution_id: e.id.clone(),
        task_run_id: None,
        attempt_number: None,
        timestamp: up.change.date,
        level: LogLevel::Warn,
        thread: "executor".into(),
        message,
    }
}

async fn react(
    platform: &Platform,
    up: &Upstream<'_>,
    stored: &StoredTrigger,
    notes: &mut Vec<LogEntry>,
) -> Result<Reaction, TriggerError> {
    let st = &stored.state;
    let revision = (st.flow_revision > 0).then_some(st.flow_revision);
    let listener = match platform
        .load_flow(&st.namespace, &st.flow_id, revision)
        .await
    {
        Ok(f) => f,
        Err(ServiceError::FlowNotFound { .. }) => return Ok(Reaction::default()),
        Err(e) => return Err(e.into()),
    };
    let Some(trigger) = listener.triggers.iter().find(|t| t.id == st.trigger_id) else {
        return Ok(Reaction::default());
    };
    let Some(spec) = trigger.spec::<FlowTrigger>() else {
        return Ok(Reaction::default());
    };
    let definition = |message: String| TriggerError::Definition {
        namespace: listener.namespace.clone(),
        flow_id: listener.id.clone(),
        trigger_id: trigger.id.clone(),
        message,
    };
    let view = up.view;
    if !listens_to(spec, view.state) {
        return Ok(Reaction::default());
    }
    let own = view.namespace == listener.namespace && view.flow_id == listener.id;
    if own && !names_flows(trigger, spec) {
        return Ok(Reaction::default());
    }
    let depth = subflow::depth(up.execution) + 1;
    let vars = trigger_vars(view, depth);
    let cx = ConditionContext {
        rt: &platform.rt,
        now: up.change.date,
        flow: &listener,
        trigger: &vars,
        execution: Some(view),
    };
    if !crate::conditions::evaluate_all(&trigger.common.conditions, &cx)
        .map_err(|e| definition(e.to_string()))?
    {
        return Ok(Reaction::default());
    }
    let window = Window::of(trigger).map_err(definition)?;
    let render_ctx = || upstream_context(platform, up, &vars);
    let mut met = Vec::new();
    if let Some(w) = &window {
        let ctx = std::cell::OnceCell::new();
        let render = |template: &str| -> Result<Option<String>, String> {
            let ctx = ctx.get_or_init(render_ctx);
            let text = platform
                .rt
                .engine
                .render(template, ctx)
                .map_err(|e| format!("`{template}`: {e}"))?;
            Ok(Some(text).filter(|t| !t.trim().is_empty()))
        };
        let problems;
        (met, problems) = w.met(view, &cx, &render);
        for p in problems {
            let message = format!(
                "Flow trigger {}.{}.{}: {p}",
                listener.namespace, listener.id, trigger.id
            );
            tracing::warn!(execution = %view.id, "{message}");
            notes.push(note(up, message));
        }
        if met.is_empty() {
            return Ok(Reaction::default());
        }
    }
    let limit = u64::from(platform.rt.max_subflow_depth);
    if depth > limit {
        let message = format!(
            "Flow trigger {}.{}.{} not fired: execution {} already runs at depth {} of a chain \
             of Flow triggers and subflows, the limit is {limit}. A flow triggering itself, \
             directly or through others, needs a stop condition; if the chain is intended, \
             raise {} (default {}).",
            listener.namespace,
            listener.id,
            trigger.id,
            view.id,
            depth - 1,
            context::MAX_SUBFLOW_DEPTH_ENV,
            context::DEFAULT_MAX_SUBFLOW_DEPTH,
        );
        tracing::warn!(execution = %view.id, "{message}");
        notes.push(note(up, message));
        return Ok(Reaction {
            refused: 1,
            ..Reaction::default()
        });
    }
    let change_key = format!("{}/{}", view.id, up.change.history_index);
    let keys = match &window {
        None => vec![change_key],
        Some(w) => {
            let Some(b) = bucket(w.kind, up.change.date) else {
                return Ok(Reaction::default());
            };
            let at = WindowRef {
                namespace: &listener.namespace,
                flow_id: &listener.id,
                trigger_id: &trigger.id,
                window_id: &w.id,
            };
            let change = windows::Change {
                key: &change_key,
                execution_id: &view.id,
                date: up.change.date,
                met: &met,
            };
            windows::record(platform, &at, &b, &change, &w.names(), w.reset_on_success).await?
        }
    };
    let mut out = Reaction::default();
    let inputs: Map<String, Value> = spec
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let target = leave_unset(&listener, &inputs);
    for key in keys {
        let mut occurrence = Occurrence::new(key, vars.clone());
        occurrence.inputs = inputs.clone();
        let outcome = fire_with(platform, &target, trigger, &occurrence, |o| {
            render_inputs(platform, &render_ctx(), &o.inputs)
        })
        .await?;
        match outcome {
            FireOutcome::Created(e) => {
                out.created += 1;
                // The trigger's state shows its last firing (the triggers API).
                let (id, date) = (e.id.clone(), platform.clock.now());
                super::sync::update_state(
                    platform,
                    &listener.namespace,
                    &listener.id,
                    &trigger.id,
                    move |s| {
                        s.state.date = Some(date);
                        s.state.execution_id = Some(id.clone());
                    },
                )
                .await?;
            }
            FireOutcome::Existed(_) => out.existed += 1,
            FireOutcome::Refused(reason) => {
                out.refused += 1;
                notes.push(note(
                    up,
                    format!(
                        "Flow trigger {}.{}.{} did not start an execution: {reason}",
                        listener.namespace, listener.id, trigger.id
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The listener as its executions are created: inputs the trigger does not give are left
/// unset even when required and without a default (Kestra creates such executions; inputs
/// it gives are validated as usual, and one that does not validate starts nothing).
fn leave_unset<'f>(listener: &'f Flow, given: &Map<String, Value>) -> std::borrow::Cow<'f, Flow> {
    let unset = |i: &kite_flow::model::input::Input| {
        i.required && i.defaults.is_none() && !given.contains_key(i.key())
    };
    if !listener.inputs.iter().any(unset) {
        return std::borrow::Cow::Borrowed(listener);
    }
    let mut flow = listener.clone();
    for input in flow.inputs.iter_mut() {
        if unset(input) {
            input.required = false;
        }
    }
    std::borrow::Cow::Owned(flow)
}

/// Whether the trigger's `states` (default: terminal states) include `state`.
fn listens_to(spec: &FlowTrigger, state: State) -> bool {
    if spec.states.is_empty() {
        state.is_terminated()
    } else {
        spec.states.iter().any(|s| State::parse(s) == Some(state))
    }
}

/// Whether the trigger names upstream flows by id (so may name its own flow).
fn names_flows(trigger: &Trigger, spec: &FlowTrigger) -> bool {
    let names = |c: &Condition| c.type_name == ExecutionFlow::TYPE;
    trigger.common.conditions.iter().any(|c| {
        names(c)
            || c.spec::<MultipleCondition>()
                .is_some_and(|m| m.conditions.values().any(names))
    }) || spec
        .preconditions
        .as_ref()
        .is_some_and(|p| p.flows.iter().any(|f| f.flow_id.is_some()))
}

/// The `trigger.*` variables of an execution started by `upstream`'s change.
fn trigger_vars(upstream: &UpstreamExecution, depth: u64) -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert("executionId".into(), Value::String(upstream.id.clone()));
    vars.insert(
        "namespace".into(),
        Value::String(upstream.namespace.clone()),
    );
    vars.insert("flowId".into(), Value::String(upstream.flow_id.clone()));
    vars.insert("flowRevision".into(), Value::from(upstream.flow_revision));
    vars.insert("state".into(), Value::String(upstream.state.name().into()));
    if !upstream.outputs.is_empty() {
        vars.insert("outputs".into(), Value::Object(upstream.outputs.clone()));
    }
    vars.insert("depth".into(), Value::from(depth));
    vars
}

/// The upstream execution's expression context, with `trigger` = `vars`.
fn upstream_context(
    platform: &Platform,
    up: &Upstream<'_>,
    vars: &Map<String, Value>,
) -> kite_expr::Context {
    let mut all = context::execution_vars(&platform.rt, up.flow, up.execution);
    all.insert("trigger".into(), Value::Object(vars.clone()));
    context::render_context(&platform.rt, all, &[], up.change.date)
}

fn render_inputs(
    platform: &Platform,
    ctx: &kite_expr::Context,
    inputs: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (k, v) in inputs {
        let rendered = platform
            .rt
            .engine
            .render_value(v, ctx)
            .map_err(|e| format!("input `{k}`: {e}"))?;
        out.insert(k.clone(), rendered);
    }
    Ok(out)
}
