//! Trigger conditions: a pure evaluator for the `conditions` of Schedule, Webhook and Flow
//! triggers (Kestra's `io.kestra.plugin.core.condition.*`).
//!
//! [`evaluate`] decides one condition, [`evaluate_all`] the AND of a trigger's list. Each
//! condition type has its own file here, implementing `Evaluate` for the parsed struct of
//! `kite_flow::conditions`; a registry built once maps the canonical type name (the parser
//! already resolved legacy aliases) to it. Nothing here does I/O beyond what the expression runtime's
//! host offers to expressions (`secret()`, `kv()`), and the time is [`ConditionContext::now`].
//!
//! # What an expression sees
//! Properties render with `flow` (the flow owning the trigger: `id`, `namespace`, `revision`),
//! `vars` (its variables), `trigger` (the trigger's variables), `execution` (a Flow trigger's
//! upstream execution: `id`, `namespace`, `flowId`, `flowRevision`, `state`, `originalId`),
//! `envs` and `globals`; `now()` is [`ConditionContext::now`].
//!
//! # Dates
//! Date-based conditions render `date` (default `{{ trigger.date }}`) and read an ISO-8601
//! date-time with an offset (`2024-03-31T03:00:00+02:00`, `Z`, fractions, minutes-only
//! times as Java prints them, an optional `[Europe/Paris]` suffix); those that only need a
//! day also take a plain date (`2024-03-31`). The day and the time of day are the ones the
//! offset shows (the zone's local ones), as in Kestra. A value that does not read is a
//! [`ConditionError::BadDate`] naming the condition, the property and the value.
//!
//! # Stateful conditions
//! `MultipleCondition` remembers which of its conditions were met within a window: the
//! Flow-trigger preconditions store handles it. [`is_stateful`] tells it apart,
//! [`evaluate`] refuses it ([`ConditionError::Stateful`]) and [`evaluate_all`] skips it.
//!
//! # Flow or execution
//! `ExecutionFlow`, `ExecutionNamespace`, `ExecutionStatus`, `ExecutionLabels`,
//! `ExecutionOutputs` and `HasRetryAttempt` look at the upstream execution (an error
//! without one); the deprecated `FlowCondition` and `FlowNamespace` look, as in Kestra, at
//! the flow owning the trigger.
//!
//! # Differences from Kestra
//! - `PublicHoliday` is an error ([`ConditionError::Unsupported`]): no maintained, small
//!   pure-Rust holiday calendar exists; an `Expression` over a list of dates replaces it.
//! - `TimeBetween` bounds may omit the offset: they are then the date's local time of day.
//! - A property that does not read (an unknown state or day name) is an error naming it.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use kite_flow::conditions as spec;
use kite_flow::plugin::{Condition, PluginType};
use serde_json::{Map, Value, json};

use crate::model::{Execution, Label, State};

pub mod date_time_between;
pub mod dates;
pub mod day_week;
pub mod day_week_in_month;
pub mod execution_flow;
pub mod execution_labels;
pub mod execution_namespace;
pub mod execution_outputs;
pub mod execution_status;
pub mod expression;
pub mod flow_condition;
pub mod flow_namespace;
pub mod has_retry_attempt;
pub mod multiple;
pub mod not;
pub mod or;
pub mod public_holiday;
pub mod time_between;
pub mod weekend;

/// What a condition sees.
#[derive(Debug, Clone, Copy)]
pub struct ConditionContext<'a> {
    /// Renders expressions (engine, host, `envs`, `globals`).
    pub rt: &'a crate::executor::Expressions,
    /// The decision time (`now()` in expressions).
    pub now: chrono::DateTime<chrono::Utc>,
    /// The flow that owns the trigger (`flow.*`).
    pub flow: &'a kite_flow::Flow,
    /// The `trigger.*` variables (schedule: `date`/`next`/`previous`; webhook:
    /// `body`/`headers`/`parameters`; flow trigger: `executionId`/`namespace`/`flowId`/
    /// `flowRevision`/`state`/`outputs`).
    pub trigger: &'a Map<String, Value>,
    /// Flow triggers: the upstream execution.
    pub execution: Option<&'a UpstreamExecution>,
}

/// The upstream execution a Flow trigger reacts to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamExecution {
    /// Id.
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
    /// Flow revision.
    pub flow_revision: u32,
    /// Current state.
    pub state: State,
    /// Labels.
    pub labels: Vec<Label>,
    /// Flow outputs.
    pub outputs: Map<String, Value>,
    /// The states of the attempts of each task run, in task-run order (`HasRetryAttempt`
    /// looks at the task runs with more than one attempt).
    pub attempt_states: Vec<Vec<State>>,
}

impl UpstreamExecution {
    /// The view of `execution` conditions need.
    pub fn from_execution(execution: &Execution) -> Self {
        Self {
            id: execution.id.clone(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            flow_revision: execution.flow_revision,
            state: execution.state.current,
            labels: execution.labels.clone(),
            outputs: execution.outputs.clone(),
            attempt_states: execution
                .task_run_list
                .iter()
                .map(|run| run.attempts.iter().map(|a| a.state.current).collect())
                .collect(),
        }
    }

    /// The `execution` variables expressions see.
    fn vars(&self) -> Value {
        json!({
            "id": self.id,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "flowRevision": self.flow_revision,
            "state": self.state,
            "originalId": self.id,
        })
    }
}

/// Why a condition could not be decided. Evaluation is pure: retrying gives the same answer.
#[derive(Debug, thiserror::Error)]
pub enum ConditionError {
    /// A property did not render.
    #[error(
        "condition `{path}` ({condition}): `{property}` did not render (`{expression}`): {source}"
    )]
    Render {
        /// The condition's property path (`triggers[0].conditions[1]`).
        path: String,
        /// The condition's type (short name).
        condition: &'static str,
        /// The property.
        property: &'static str,
        /// The template as written.
        expression: String,
        /// The expression error.
        source: Box<kite_expr::ExprError>,
    },
    /// A date or time property rendered to something that does not read.
    #[error("condition `{path}` ({condition}): `{property}` is `{value}`, which is not {expected}")]
    BadDate {
        /// The condition's property path.
        path: String,
        /// The condition's type (short name).
        condition: &'static str,
        /// The property.
        property: &'static str,
        /// The rendered value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A property has a value the condition does not know (a state, a day name...).
    #[error("condition `{path}` ({condition}): {message}")]
    Invalid {
        /// The condition's property path.
        path: String,
        /// The condition's type (short name).
        condition: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An execution condition outside a Flow trigger.
    #[error(
        "condition `{path}` ({condition}) needs an upstream execution: it only applies to Flow \
         triggers"
    )]
    NoExecution {
        /// The condition's property path.
        path: String,
        /// The condition's type (short name).
        condition: &'static str,
    },
    /// Kite cannot decide this condition.
    #[error("condition `{path}` ({condition}) is not supported: {reason}")]
    Unsupported {
        /// The condition's property path.
        path: String,
        /// The condition's type (short name).
        condition: &'static str,
        /// Why, and what to use instead.
        reason: String,
    },
    /// A stateful condition (`MultipleCondition`): the Flow-trigger preconditions store
    /// decides it.
    #[error(
        "condition `{path}` ({condition}) is stateful: the Flow trigger's preconditions store \
         evaluates it, not the condition evaluator"
    )]
    Stateful {
        /// The condition's property path.
        path: String,
        /// The condition's type (short name).
        condition: &'static str,
    },
}

impl ConditionError {
    /// Whether trying again could help: never, evaluation is pure.
    pub fn is_transient(&self) -> bool {
        false
    }

    /// The property path of the condition at fault.
    pub fn path(&self) -> &str {
        match self {
            Self::Render { path, .. }
            | Self::BadDate { path, .. }
            | Self::Invalid { path, .. }
            | Self::NoExecution { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Stateful { path, .. } => path,
        }
    }

    pub(crate) fn invalid(c: &Condition, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: c.path.clone(),
            condition: short_name(c),
            message: message.into(),
        }
    }
}

/// The condition's type without its package (`DayWeek`).
pub(crate) fn short_name(c: &Condition) -> &'static str {
    c.type_name.rsplit('.').next().unwrap_or(c.type_name)
}

/// Decides one condition.
pub fn evaluate(c: &Condition, ctx: &ConditionContext<'_>) -> Result<bool, ConditionError> {
    Scope::new(ctx).evaluate(c)
}

/// The AND of `cs`, stopping at the first false one. Stateful conditions
/// (`MultipleCondition`, see [`is_stateful`]) are skipped: the Flow-trigger preconditions
/// store decides them.
pub fn evaluate_all(cs: &[Condition], ctx: &ConditionContext<'_>) -> Result<bool, ConditionError> {
    let scope = Scope::new(ctx);
    for c in cs.iter().filter(|c| !is_stateful(c)) {
        if !scope.evaluate(c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// As [`evaluate_all`], with the expression context given instead of built from `ctx`
/// (a flow listener's conditions see the execution's own variables: `outputs`, `inputs`...).
pub fn evaluate_all_in(
    cs: &[Condition],
    ctx: &ConditionContext<'_>,
    expr: kite_expr::Context,
) -> Result<bool, ConditionError> {
    let scope = Scope {
        cx: ctx,
        expr: OnceCell::from(expr),
    };
    for c in cs.iter().filter(|c| !is_stateful(c)) {
        if !scope.evaluate(c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether Kite has an evaluator for condition type `type_name` (the guard test walks the
/// flow registry with it).
pub fn has_evaluator(type_name: &str) -> bool {
    registry().contains_key(type_name)
}

/// Whether `c` keeps state across executions (`MultipleCondition`), so is not decided here.
pub fn is_stateful(c: &Condition) -> bool {
    registry().get(c.type_name).is_some_and(|e| e.stateful)
}

/// Implemented by each condition type's parsed struct (one file per type).
pub(crate) trait Evaluate: PluginType {
    /// Whether the condition holds; `c` is the parsed condition (for its path).
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError>;

    /// Whether the condition keeps state across executions.
    const STATEFUL: bool = false;
}

type Evaluator = fn(&Condition, &Scope<'_>) -> Result<bool, ConditionError>;

struct Entry {
    evaluate: Evaluator,
    stateful: bool,
}

fn dispatch<T: Evaluate>(c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
    match c.spec::<T>() {
        Some(spec) => spec.evaluate(c, scope),
        None => Err(ConditionError::Unsupported {
            path: c.path.clone(),
            condition: short_name(c),
            reason: format!("its properties are not those of {}", T::TYPE),
        }),
    }
}

fn add<T: Evaluate>(m: &mut HashMap<&'static str, Entry>) {
    m.insert(
        T::TYPE,
        Entry {
            evaluate: dispatch::<T>,
            stateful: T::STATEFUL,
        },
    );
}

fn registry() -> &'static HashMap<&'static str, Entry> {
    static REGISTRY: OnceLock<HashMap<&'static str, Entry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut m = HashMap::new();
        add::<spec::execution_flow::ExecutionFlow>(&mut m);
        add::<spec::execution_namespace::ExecutionNamespace>(&mut m);
        add::<spec::execution_status::ExecutionStatus>(&mut m);
        add::<spec::execution_labels::ExecutionLabels>(&mut m);
        add::<spec::execution_outputs::ExecutionOutputs>(&mut m);
        add::<spec::has_retry_attempt::HasRetryAttempt>(&mut m);
        add::<spec::expression::Expression>(&mut m);
        add::<spec::not::Not>(&mut m);
        add::<spec::or::Or>(&mut m);
        add::<spec::day_week::DayWeek>(&mut m);
        add::<spec::day_week_in_month::DayWeekInMonth>(&mut m);
        add::<spec::weekend::Weekend>(&mut m);
        add::<spec::time_between::TimeBetween>(&mut m);
        add::<spec::date_time_between::DateTimeBetween>(&mut m);
        add::<spec::public_holiday::PublicHoliday>(&mut m);
        add::<spec::multiple::MultipleCondition>(&mut m);
        add::<spec::flow_condition::FlowCondition>(&mut m);
        add::<spec::flow_namespace::FlowNamespace>(&mut m);
        m
    })
}

/// One evaluation: the context plus the expression context, built on first use and shared
/// by every condition of the list (nested ones included).
pub(crate) struct Scope<'a> {
    cx: &'a ConditionContext<'a>,
    expr: OnceCell<kite_expr::Context>,
}

impl<'a> Scope<'a> {
    fn new(cx: &'a ConditionContext<'a>) -> Self {
        Self {
            cx,
            expr: OnceCell::new(),
        }
    }

    /// Decides `c` through the registry.
    pub(crate) fn evaluate(&self, c: &Condition) -> Result<bool, ConditionError> {
        match registry().get(c.type_name) {
            Some(entry) => (entry.evaluate)(c, self),
            None => Err(ConditionError::Unsupported {
                path: c.path.clone(),
                condition: short_name(c),
                reason: format!("Kite has no evaluator for `{}`", c.type_name),
            }),
        }
    }

    /// The context given to [`evaluate`].
    pub(crate) fn cx(&self) -> &ConditionContext<'a> {
        self.cx
    }

    /// The expression context (see the module docs for its variables).
    pub(crate) fn expr_context(&self) -> &kite_expr::Context {
        self.expr.get_or_init(|| {
            let cx = self.cx;
            let mut vars = Map::new();
            vars.insert("flow".into(), crate::executor::context::flow_vars(cx.flow));
            vars.insert(
                "vars".into(),
                Value::Object(
                    cx.flow
                        .variables
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
            );
            vars.insert("trigger".into(), Value::Object(cx.trigger.clone()));
            if let Some(up) = cx.execution {
                vars.insert("execution".into(), up.vars());
            }
            vars.insert("envs".into(), Value::Object(cx.rt.envs.clone()));
            vars.insert("globals".into(), Value::Object(cx.rt.globals.clone()));
            crate::executor::context::render_context(cx.rt, vars, &[], cx.now)
        })
    }

    /// Renders `template`, the value of `c`'s `property`.
    pub(crate) fn render(
        &self,
        c: &Condition,
        property: &'static str,
        template: &str,
    ) -> Result<String, ConditionError> {
        if !template.contains('{') {
            return Ok(template.to_owned());
        }
        self.render_in(self.expr_context(), c, property, template)
    }

    /// Renders `template` in `ctx`.
    pub(crate) fn render_in(
        &self,
        ctx: &kite_expr::Context,
        c: &Condition,
        property: &'static str,
        template: &str,
    ) -> Result<String, ConditionError> {
        self.cx
            .rt
            .engine
            .render(template, ctx)
            .map_err(|source| ConditionError::Render {
                path: c.path.clone(),
                condition: short_name(c),
                property,
                expression: template.to_owned(),
                source: Box::new(source),
            })
    }

    /// The upstream execution, or the error saying `c` needs one.
    pub(crate) fn upstream(&self, c: &Condition) -> Result<&'a UpstreamExecution, ConditionError> {
        self.cx
            .execution
            .ok_or_else(|| ConditionError::NoExecution {
                path: c.path.clone(),
                condition: short_name(c),
            })
    }
}

/// Reads each of `names` (rendered) as a state of `c`'s `property`.
pub(crate) fn states(
    scope: &Scope<'_>,
    c: &Condition,
    property: &'static str,
    names: &[String],
) -> Result<Vec<State>, ConditionError> {
    names
        .iter()
        .map(|n| {
            let rendered = scope.render(c, property, n)?;
            State::parse(&rendered).ok_or_else(|| {
                ConditionError::invalid(
                    c,
                    format!("`{property}` lists `{rendered}`, which is not an execution state"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the unit tests of each condition type.

    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use kite_flow::plugin::Condition;
    use serde_json::{Map, Value};

    use super::{ConditionContext, ConditionError, UpstreamExecution};
    use crate::executor::Expressions;
    use crate::model::{Label, State};

    /// A flow whose Flow trigger has the one condition `yaml` (a YAML mapping).
    pub(crate) fn flow_with(yaml: &str) -> kite_flow::Flow {
        let indented: String = yaml
            .trim()
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("      - {l}\n")
                } else {
                    format!("        {l}\n")
                }
            })
            .collect();
        let source = format!(
            "id: downstream\nnamespace: company.team\ntasks:\n  - id: hello\n    type: \
             io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: on_upstream\n    \
             type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n{indented}"
        );
        let parsed = kite_flow::parse_flow(&source);
        match parsed.flow {
            Some(f) => f,
            None => panic!("invalid test flow:\n{source}\n{:#?}", parsed.diagnostics),
        }
    }

    /// The single condition of [`flow_with`]'s flow.
    pub(crate) fn condition(flow: &kite_flow::Flow) -> &Condition {
        &flow.triggers[0].common.conditions[0]
    }

    /// An upstream execution in `company.sales`/`orders`.
    pub(crate) fn upstream(state: State) -> UpstreamExecution {
        UpstreamExecution {
            id: "up1".into(),
            namespace: "company.sales".into(),
            flow_id: "orders".into(),
            flow_revision: 3,
            state,
            labels: vec![Label {
                key: "env".into(),
                value: "prod".into(),
            }],
            outputs: Map::new(),
            attempt_states: Vec::new(),
        }
    }

    /// Evaluates the condition `yaml` with `trigger` and `upstream`.
    pub(crate) fn eval(
        yaml: &str,
        trigger: Value,
        upstream: Option<&UpstreamExecution>,
    ) -> Result<bool, ConditionError> {
        let flow = flow_with(yaml);
        let rt = Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]);
        let trigger = match trigger {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let ctx = ConditionContext {
            rt: &rt,
            now: Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap(),
            flow: &flow,
            trigger: &trigger,
            execution: upstream,
        };
        super::evaluate(condition(&flow), &ctx)
    }

    /// Evaluates the date condition `yaml` with `trigger.date` = `date`.
    pub(crate) fn at(yaml: &str, date: &str) -> Result<bool, ConditionError> {
        eval(yaml, serde_json::json!({ "date": date }), None)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{condition, eval, flow_with, upstream};
    use super::*;
    use serde_json::json;

    #[test]
    fn every_core_condition_type_has_an_evaluator() {
        let types: Vec<_> = kite_flow::Registry::global()
            .types(kite_flow::plugin::Category::Condition)
            .map(|i| i.type_name)
            .collect();
        assert!(types.len() >= 18, "{types:?}");
        for t in types {
            assert!(registry().contains_key(t), "no evaluator for {t}");
        }
    }

    #[test]
    fn only_multiple_condition_is_stateful() {
        let multiple = flow_with(
            "type: io.kestra.plugin.core.condition.MultipleCondition\nid: both\nconditions:\n  a:\n    type: io.kestra.plugin.core.condition.ExecutionFlow\n    namespace: n\n    flowId: a",
        );
        assert!(is_stateful(condition(&multiple)));
        let plain = flow_with("type: io.kestra.plugin.core.condition.Weekend");
        assert!(!is_stateful(condition(&plain)));
    }

    #[test]
    fn errors_are_never_transient() {
        let err = eval(
            "type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: a\nflowId: b",
            json!({}),
            None,
        )
        .unwrap_err();
        assert!(!err.is_transient());
        assert_eq!(err.path(), "triggers[0].conditions[0]");
    }

    #[test]
    fn upstream_view_of_an_execution() {
        let up = upstream(State::Success);
        let v = up.vars();
        assert_eq!(v["flowId"], "orders");
        assert_eq!(v["state"], "SUCCESS");
    }
}
