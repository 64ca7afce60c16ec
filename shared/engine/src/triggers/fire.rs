//! An [`Occurrence`] becomes one execution.
//!
//! The execution id is derived from the flow, the trigger and the occurrence's key, and
//! the execution is created with `Expect::Absent`: a second scheduler, a redelivered event
//! or a retried tick finds it there and only starts it again if it is still CREATED.

use chrono::{DateTime, Utc};
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use serde_json::{Map, Value};

use super::TriggerError;
use crate::model::{Execution, ExecutionTrigger, Label, ids};
use crate::services::{CreateOptions, Platform, ServiceError};

/// One thing that happened and starts one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// What identifies it among this trigger's occurrences (a fire time, an object key
    /// and ETag, a message id...): the execution id is derived from it.
    pub key: String,
    /// The `trigger.*` variables.
    pub variables: Map<String, Value>,
    /// Input expressions, rendered with `trigger.*` then resolved like API inputs.
    pub inputs: Map<String, Value>,
    /// Labels added to the flow's (the trigger's, a backfill's).
    pub labels: Vec<Label>,
    /// Start at this date (fire times created ahead of the tick).
    pub schedule_date: Option<DateTime<Utc>>,
    /// Data the trigger needs to acknowledge it (receipt handle, object key...).
    pub ack: Option<Value>,
}

impl Occurrence {
    /// An occurrence with `key` and `variables`.
    pub fn new(key: impl Into<String>, variables: Map<String, Value>) -> Self {
        Self {
            key: key.into(),
            variables,
            inputs: Map::new(),
            labels: Vec::new(),
            schedule_date: None,
            ack: None,
        }
    }
}

/// What [`fire`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum FireOutcome {
    /// The execution was created.
    Created(Box<Execution>),
    /// It existed already (an earlier delivery created it).
    Existed(String),
    /// It could not be created (invalid inputs, a disabled flow): the reason.
    Refused(String),
}

impl FireOutcome {
    /// The execution id, when there is one.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            FireOutcome::Created(e) => Some(&e.id),
            FireOutcome::Existed(id) => Some(id),
            FireOutcome::Refused(_) => None,
        }
    }
}

/// The id of the execution of `occurrence_key` of a trigger.
pub fn execution_id(flow: &Flow, trigger_id: &str, occurrence_key: &str) -> String {
    ids::derived_id(&[
        "trigger",
        &flow.namespace,
        &flow.id,
        trigger_id,
        occurrence_key,
    ])
}

/// Renders `occurrence.inputs` with the trigger variables and creates the execution.
pub async fn fire(
    platform: &Platform,
    flow: &Flow,
    trigger: &Trigger,
    occurrence: &Occurrence,
) -> Result<FireOutcome, TriggerError> {
    let id = execution_id(flow, &trigger.id, &occurrence.key);
    let inputs = match render_inputs(platform, flow, &occurrence.variables, &occurrence.inputs) {
        Ok(i) => i,
        Err(message) => {
            tracing::warn!(
                namespace = %flow.namespace, flow = %flow.id, trigger = %trigger.id,
                "trigger inputs do not render: {message}"
            );
            return Ok(FireOutcome::Refused(message));
        }
    };
    let mut labels: Vec<Label> = trigger
        .common
        .labels
        .0
        .iter()
        .map(|l| Label {
            key: l.key.clone(),
            value: l.value.clone(),
        })
        .collect();
    for l in &occurrence.labels {
        labels.retain(|x| x.key != l.key);
        labels.push(l.clone());
    }
    let opts = CreateOptions {
        labels,
        trigger: Some(ExecutionTrigger {
            id: trigger.id.clone(),
            kind: trigger.type_name.to_owned(),
            variables: occurrence.variables.clone(),
        }),
        id: Some(id.clone()),
        subflow_outputs: None,
        schedule_date: occurrence.schedule_date,
    };
    // The conditional create is the claim: an execution already there (another scheduler,
    // a redelivered event) is only started again if it is still CREATED.
    match platform.create_execution_once(flow, inputs, opts).await {
        Ok((exec, true)) => Ok(FireOutcome::Created(Box::new(exec))),
        Ok((_, false)) => Ok(FireOutcome::Existed(id)),
        Err(ServiceError::Inputs(errs)) => {
            let reason = errs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            tracing::warn!(
                namespace = %flow.namespace, flow = %flow.id, trigger = %trigger.id,
                "trigger did not start an execution: {reason}"
            );
            Ok(FireOutcome::Refused(reason))
        }
        Err(ServiceError::Other(m)) => Ok(FireOutcome::Refused(m)),
        Err(e) => Err(e.into()),
    }
}

/// Renders input expressions with `trigger.*` and `flow.*`.
pub fn render_inputs(
    platform: &Platform,
    flow: &Flow,
    trigger_vars: &Map<String, Value>,
    inputs: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    if inputs.is_empty() {
        return Ok(Map::new());
    }
    let ctx = render_context(platform, flow, trigger_vars);
    let mut out = Map::new();
    for (k, v) in inputs {
        let rendered = platform
            .rt
            .engine
            .render_value(v, &ctx)
            .map_err(|e| format!("input `{k}`: {e}"))?;
        out.insert(k.clone(), rendered);
    }
    Ok(out)
}

/// The expression context of a trigger: `trigger`, `flow`, `namespace`-scoped functions.
pub fn render_context(
    platform: &Platform,
    flow: &Flow,
    trigger_vars: &Map<String, Value>,
) -> kite_expr::Context {
    let mut vars = Map::new();
    vars.insert(
        "flow".into(),
        serde_json::json!({
            "id": flow.id,
            "namespace": flow.namespace,
            "revision": flow.revision,
        }),
    );
    vars.insert("trigger".into(), Value::Object(trigger_vars.clone()));
    crate::executor::context::render_context(&platform.rt, vars, &[], platform.clock.now())
}
