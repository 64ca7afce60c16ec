//! The trigger-condition evaluator through its public API: every condition type on the
//! trigger kind it is written for (Schedule, Webhook, Flow), both answers, dates around a
//! daylight-saving change, stateful conditions, and the errors' messages.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kite_engine::conditions::{
    ConditionContext, ConditionError, UpstreamExecution, evaluate, evaluate_all, is_stateful,
};
use kite_engine::executor::Expressions;
use kite_engine::model::{Attempt, Execution, Label, State, StateHistory, TaskRun};
use kite_flow::Flow;
use kite_flow::plugin::Condition;
use serde_json::{Map, Value, json};

fn parse(source: &str) -> Flow {
    let parsed = kite_flow::parse_flow(source);
    match parsed.flow {
        Some(f) => f,
        None => panic!("invalid test flow:\n{source}\n{:#?}", parsed.diagnostics),
    }
}

/// A flow `reports/nightly` with one trigger: `trigger` (YAML at the trigger's indentation,
/// without the dash) whose `conditions` are `conditions` (YAML list items, unindented).
fn flow(trigger: &str, conditions: &str) -> Flow {
    let mut source = String::from(
        "id: nightly\nnamespace: reports\nvariables:\n  cutoff: 10\ntasks:\n  - id: hello\n    \
         type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n",
    );
    for (i, line) in trigger.trim().lines().enumerate() {
        source.push_str(if i == 0 { "  - " } else { "    " });
        source.push_str(line);
        source.push('\n');
    }
    source.push_str("    conditions:\n");
    for line in conditions.trim().lines() {
        source.push_str("      ");
        source.push_str(line);
        source.push('\n');
    }
    parse(&source)
}

const SCHEDULE: &str = "id: every_15m\ntype: io.kestra.plugin.core.trigger.Schedule\ncron: \"*/15 * * * *\"\ntimezone: Europe/Paris";
const WEBHOOK: &str = "id: hook\ntype: io.kestra.plugin.core.trigger.Webhook\nkey: s3cr3t";
const FLOW_TRIGGER: &str = "id: after_orders\ntype: io.kestra.plugin.core.trigger.Flow";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 10, 27, 12, 0, 0).unwrap()
}

fn runtime() -> Expressions {
    Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[])
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

fn conditions_of(flow: &Flow) -> &[Condition] {
    &flow.triggers[0].common.conditions
}

/// `evaluate_all` over the flow's trigger conditions.
fn all(
    flow: &Flow,
    trigger: Value,
    upstream: Option<&UpstreamExecution>,
) -> Result<bool, ConditionError> {
    let rt = runtime();
    let trigger = obj(trigger);
    let ctx = ConditionContext {
        rt: &rt,
        now: now(),
        flow,
        trigger: &trigger,
        execution: upstream,
    };
    evaluate_all(conditions_of(flow), &ctx)
}

/// A schedule's variables for a firing at `date`.
fn fired_at(date: &str) -> Value {
    json!({"date": date, "next": date, "previous": date})
}

/// Each condition of a schedule at `date`, one by one.
fn each_at(flow: &Flow, date: &str) -> Vec<bool> {
    let rt = runtime();
    let trigger = obj(fired_at(date));
    let ctx = ConditionContext {
        rt: &rt,
        now: now(),
        flow,
        trigger: &trigger,
        execution: None,
    };
    conditions_of(flow)
        .iter()
        .map(|c| evaluate(c, &ctx).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// An upstream `sales/orders` execution that ended `state`, with a retried task run.
fn upstream_execution(state: State) -> UpstreamExecution {
    let orders = parse(
        "id: orders\nnamespace: sales\ntasks:\n  - id: load\n    type: io.kestra.plugin.core.log.Log\n    message: hi",
    );
    let t = now();
    let mut exec = Execution::new(
        "exec-orders-1".into(),
        &orders,
        Map::new(),
        vec![
            Label {
                key: "env".into(),
                value: "prod".into(),
            },
            Label {
                key: "team".into(),
                value: "sales".into(),
            },
        ],
        t,
    );
    exec.state = StateHistory::new(state, t);
    exec.outputs = obj(json!({"rows": 42, "status": "complete"}));
    let attempt = |s: State| Attempt {
        state: StateHistory::new(s, t),
    };
    exec.task_run_list.push(TaskRun {
        id: "tr-1".into(),
        execution_id: exec.id.clone(),
        namespace: "sales".into(),
        flow_id: "orders".into(),
        task_id: "load".into(),
        parent_task_run_id: None,
        value: None,
        attempts: vec![attempt(State::Failed), attempt(State::Success)],
        outputs: Map::new(),
        state: StateHistory::new(State::Success, t),
        iteration: None,
    });
    UpstreamExecution::from_execution(&exec)
}

fn flow_trigger_vars(up: &UpstreamExecution) -> Value {
    json!({
        "executionId": up.id,
        "namespace": up.namespace,
        "flowId": up.flow_id,
        "flowRevision": up.flow_revision,
        "state": up.state,
    })
}

// ---- Schedule: date conditions, around the autumn daylight-saving change in Paris ----

#[test]
fn date_conditions_on_the_autumn_dst_change() {
    // 2024-10-27 is the last Sunday of October: at 03:00 CEST Paris goes back to 02:00 CET,
    // so 02:30 happens twice, first at +02:00, then at +01:00.
    let f = flow(
        SCHEDULE,
        "- type: io.kestra.plugin.core.condition.DayWeek\n  dayOfWeek: SUNDAY\n\
         - type: io.kestra.plugin.core.condition.DayWeekInMonth\n  dayOfWeek: SUNDAY\n  dayInMonth: LAST\n\
         - type: io.kestra.plugin.core.condition.Weekend\n\
         - type: io.kestra.plugin.core.condition.TimeBetween\n  after: \"02:00:00+01:00\"\n\
         - type: io.kestra.plugin.core.condition.DateTimeBetween\n  after: \"2024-10-27T01:00:00Z\"",
    );
    // First 02:30 (00:30 UTC): before 02:00 CET and before 01:00 UTC.
    assert_eq!(
        each_at(&f, "2024-10-27T02:30:00+02:00"),
        [true, true, true, false, false]
    );
    // Second 02:30 (01:30 UTC): after both.
    assert_eq!(
        each_at(&f, "2024-10-27T02:30:00+01:00"),
        [true, true, true, true, true]
    );
    // The same instant written with its zone, as Java prints a ZonedDateTime.
    assert_eq!(
        each_at(&f, "2024-10-27T01:30Z[Europe/Paris]"),
        [true, true, true, true, true]
    );
    assert!(all(&f, fired_at("2024-10-27T02:30:00+01:00"), None).unwrap());
    assert!(!all(&f, fired_at("2024-10-27T02:30:00+02:00"), None).unwrap());
}

#[test]
fn the_local_day_is_the_one_the_offset_shows() {
    // Saturday 23:30 UTC is Sunday 00:30 in Paris (winter time).
    let f = flow(
        SCHEDULE,
        "- type: io.kestra.plugin.core.condition.DayWeek\n  dayOfWeek: SUNDAY\n\
         - type: io.kestra.plugin.core.condition.DayWeekInMonth\n  dayOfWeek: SUNDAY\n  dayInMonth: FIRST",
    );
    assert_eq!(each_at(&f, "2024-12-01T00:30:00+01:00"), [true, true]);
    assert_eq!(each_at(&f, "2024-11-30T23:30:00Z"), [false, false]);
}

#[test]
fn weekdays_and_time_windows_on_an_ordinary_day() {
    let f = flow(
        SCHEDULE,
        "- type: io.kestra.plugin.core.condition.Not\n  conditions:\n    - type: io.kestra.plugin.core.condition.Weekend\n\
         - type: io.kestra.plugin.core.condition.TimeBetween\n  after: \"09:00:00\"\n  before: \"17:30:00\"",
    );
    // Wednesday 2024-06-05.
    assert!(all(&f, fired_at("2024-06-05T10:00:00+02:00"), None).unwrap());
    assert!(!all(&f, fired_at("2024-06-05T18:00:00+02:00"), None).unwrap());
    // Saturday.
    assert!(!all(&f, fired_at("2024-06-08T10:00:00+02:00"), None).unwrap());
}

#[test]
fn an_explicit_date_property_is_rendered() {
    let f = flow(
        SCHEDULE,
        "- type: io.kestra.plugin.core.condition.DayWeek\n  date: \"{{ trigger.previous }}\"\n  dayOfWeek: FRIDAY",
    );
    let trigger = json!({"date": "2024-06-08T10:00:00Z", "previous": "2024-06-07T10:00:00Z"});
    assert!(all(&f, trigger, None).unwrap());
    let trigger = json!({"date": "2024-06-07T10:00:00Z", "previous": "2024-06-06T10:00:00Z"});
    assert!(!all(&f, trigger, None).unwrap());
}

// ---- Webhook: expressions ----

#[test]
fn webhook_expression_over_body_headers_and_flow_variables() {
    let f = flow(
        WEBHOOK,
        "- type: io.kestra.plugin.core.condition.Expression\n  expression: \"{{ trigger.body.amount > vars.cutoff and trigger.headers['x-source'][0] == 'shop' }}\"\n\
         - type: io.kestra.plugin.core.condition.Expression\n  expression: \"{{ flow.namespace == 'reports' }}\"",
    );
    let hook = |amount: i64| {
        json!({
            "body": {"amount": amount},
            "headers": {"x-source": ["shop"]},
            "parameters": {},
        })
    };
    assert!(all(&f, hook(12), None).unwrap());
    assert!(!all(&f, hook(3), None).unwrap());
}

#[test]
fn or_over_webhook_parameters() {
    let f = flow(
        WEBHOOK,
        "- type: io.kestra.plugin.core.condition.Or\n  conditions:\n    - type: io.kestra.plugin.core.condition.Expression\n      expression: \"{{ trigger.parameters.mode == 'full' }}\"\n    - type: io.kestra.plugin.core.condition.Expression\n      expression: \"{{ trigger.parameters.force ?? false }}\"",
    );
    assert!(all(&f, json!({"parameters": {"mode": "full"}}), None).unwrap());
    assert!(
        all(
            &f,
            json!({"parameters": {"mode": "delta", "force": true}}),
            None
        )
        .unwrap()
    );
    assert!(!all(&f, json!({"parameters": {"mode": "delta"}}), None).unwrap());
}

// ---- Flow trigger: the upstream execution ----

#[test]
fn execution_conditions_on_an_upstream_execution() {
    let f = flow(
        FLOW_TRIGGER,
        "- type: io.kestra.plugin.core.condition.ExecutionFlow\n  namespace: sales\n  flowId: orders\n\
         - type: io.kestra.plugin.core.condition.ExecutionNamespace\n  namespace: sal\n  comparison: PREFIX\n\
         - type: io.kestra.plugin.core.condition.ExecutionStatus\n  in: [SUCCESS, WARNING]\n\
         - type: io.kestra.plugin.core.condition.ExecutionLabels\n  labels:\n    env: prod\n\
         - type: io.kestra.plugin.core.condition.ExecutionOutputs\n  expression: \"{{ trigger.outputs.rows > 40 and trigger.flowId == 'orders' }}\"\n\
         - type: io.kestra.plugin.core.condition.HasRetryAttempt\n  in: [FAILED]\n\
         - type: io.kestra.plugin.core.condition.Expression\n  expression: \"{{ execution.id == 'exec-orders-1' and execution.state == 'SUCCESS' }}\"\n\
         - type: io.kestra.plugin.core.condition.FlowCondition\n  namespace: reports\n  flowId: nightly\n\
         - type: io.kestra.core.models.conditions.types.FlowNamespaceCondition\n  namespace: rep\n  prefix: true",
    );
    let up = upstream_execution(State::Success);
    assert_eq!(up.attempt_states, vec![vec![State::Failed, State::Success]]);
    let rt = runtime();
    let trigger = obj(flow_trigger_vars(&up));
    let ctx = ConditionContext {
        rt: &rt,
        now: now(),
        flow: &f,
        trigger: &trigger,
        execution: Some(&up),
    };
    for c in conditions_of(&f) {
        assert!(evaluate(c, &ctx).unwrap(), "{} should hold", c.path);
    }
    assert!(evaluate_all(conditions_of(&f), &ctx).unwrap());

    // The same conditions on a failed execution of another flow, labelled differently.
    let mut other = upstream_execution(State::Failed);
    other.flow_id = "invoices".into();
    other.namespace = "finance".into();
    other.labels = vec![Label {
        key: "env".into(),
        value: "dev".into(),
    }];
    other.outputs = obj(json!({"rows": 3}));
    other.attempt_states = vec![vec![State::Success]];
    let trigger = obj(flow_trigger_vars(&other));
    let ctx = ConditionContext {
        rt: &rt,
        now: now(),
        flow: &f,
        trigger: &trigger,
        execution: Some(&other),
    };
    let answers: Vec<bool> = conditions_of(&f)
        .iter()
        .map(|c| evaluate(c, &ctx).unwrap())
        .collect();
    // FlowCondition and FlowNamespace look at the flow owning the trigger: still true.
    assert_eq!(
        answers,
        [false, false, false, false, false, false, false, true, true]
    );
    assert!(!evaluate_all(conditions_of(&f), &ctx).unwrap());
}

#[test]
fn execution_status_not_in_and_suffix() {
    let f = flow(
        FLOW_TRIGGER,
        "- type: io.kestra.plugin.core.condition.ExecutionStatus\n  notIn: [FAILED, KILLED]\n\
         - type: io.kestra.plugin.core.condition.ExecutionNamespace\n  namespace: les\n  comparison: SUFFIX",
    );
    let ok = upstream_execution(State::Warning);
    assert!(all(&f, flow_trigger_vars(&ok), Some(&ok)).unwrap());
    let failed = upstream_execution(State::Failed);
    assert!(!all(&f, flow_trigger_vars(&failed), Some(&failed)).unwrap());
}

// ---- Stateful conditions ----

#[test]
fn multiple_condition_is_left_to_the_preconditions_store() {
    let f = flow(
        FLOW_TRIGGER,
        "- type: io.kestra.plugin.core.condition.MultipleCondition\n  id: both_done\n  conditions:\n    orders:\n      type: io.kestra.plugin.core.condition.ExecutionFlow\n      namespace: sales\n      flowId: orders\n\
         - type: io.kestra.plugin.core.condition.ExecutionStatus\n  in: [SUCCESS]",
    );
    let cs = conditions_of(&f);
    assert!(is_stateful(&cs[0]));
    assert!(!is_stateful(&cs[1]));
    let up = upstream_execution(State::Success);
    // evaluate_all skips it and decides the rest.
    assert!(all(&f, flow_trigger_vars(&up), Some(&up)).unwrap());
    let failed = upstream_execution(State::Failed);
    assert!(!all(&f, flow_trigger_vars(&failed), Some(&failed)).unwrap());
    // evaluate refuses it.
    let rt = runtime();
    let trigger = obj(flow_trigger_vars(&up));
    let ctx = ConditionContext {
        rt: &rt,
        now: now(),
        flow: &f,
        trigger: &trigger,
        execution: Some(&up),
    };
    let err = evaluate(&cs[0], &ctx).unwrap_err();
    assert!(matches!(err, ConditionError::Stateful { .. }));
    assert_eq!(
        err.to_string(),
        "condition `triggers[0].conditions[0]` (MultipleCondition) is stateful: the Flow \
         trigger's preconditions store evaluates it, not the condition evaluator"
    );
}

// ---- Errors ----

#[test]
fn a_date_condition_without_a_date_names_the_path_and_the_expression() {
    // A webhook has no `trigger.date`.
    let f = flow(
        WEBHOOK,
        "- type: io.kestra.plugin.core.condition.Expression\n  expression: \"true\"\n\
         - type: io.kestra.plugin.core.condition.Weekend",
    );
    let err = all(&f, json!({"body": {}}), None).unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.path(), "triggers[0].conditions[1]");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "condition `triggers[0].conditions[1]` (Weekend): `date` did not render \
             (`{{ trigger.date }}`): "
        ),
        "{msg}"
    );
}

#[test]
fn an_unreadable_date_names_the_path_and_the_value() {
    let f = flow(
        SCHEDULE,
        "- type: io.kestra.plugin.core.condition.Or\n  conditions:\n    - type: io.kestra.plugin.core.condition.DateTimeBetween\n      before: \"2030-01-01T00:00:00Z\"",
    );
    let err = all(&f, fired_at("2024-06-05 at noon"), None).unwrap_err();
    assert!(matches!(err, ConditionError::BadDate { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "condition `triggers[0].conditions[0].conditions[0]` (DateTimeBetween): `date` is \
         `2024-06-05 at noon`, which is not an ISO-8601 date-time with an offset (e.g. \
         `2024-03-31T10:00:00+02:00`)"
    );
}

#[test]
fn execution_conditions_need_an_upstream_execution() {
    let f = flow(
        SCHEDULE,
        "- type: io.kestra.plugin.core.condition.ExecutionStatus\n  in: [SUCCESS]",
    );
    let err = all(&f, fired_at("2024-06-05T10:00:00Z"), None).unwrap_err();
    assert!(matches!(err, ConditionError::NoExecution { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("`triggers[0].conditions[0]` (ExecutionStatus)")
    );
}

#[test]
fn public_holiday_is_refused_at_validation_and_says_what_to_use() {
    let source = "id: nightly\nnamespace: reports\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: every_15m\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"*/15 * * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.Not\n        conditions:\n          - type: io.kestra.plugin.core.condition.PublicHoliday\n            country: FR\n";
    let parsed = kite_flow::parse_flow(source);
    assert!(parsed.flow.is_none());
    let errors: Vec<_> = parsed.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].loc, kite_flow::Location::new(14, 13));
    assert!(
        errors[0].message.starts_with(
            "triggers[0].conditions[0].conditions[0]: io.kestra.plugin.core.condition.PublicHoliday is not supported"
        ),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("Expression"),
        "{}",
        errors[0].message
    );
}

#[test]
fn evaluate_all_stops_at_the_first_false_condition() {
    // The second condition would fail to render; the first one is false, so it is not reached.
    let f = flow(
        WEBHOOK,
        "- type: io.kestra.plugin.core.condition.Expression\n  expression: \"{{ trigger.body.go }}\"\n\
         - type: io.kestra.plugin.core.condition.Expression\n  expression: \"{{ trigger.body.missing.field }}\"",
    );
    assert!(!all(&f, json!({"body": {"go": false}}), None).unwrap());
    let err = all(&f, json!({"body": {"go": true}}), None).unwrap_err();
    assert_eq!(err.path(), "triggers[0].conditions[1]");
    assert!(
        err.to_string()
            .contains("`expression` did not render (`{{ trigger.body.missing.field }}`)"),
        "{err}"
    );
}

#[test]
fn an_empty_list_holds() {
    let f = parse(
        "id: nightly\nnamespace: reports\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k",
    );
    assert!(conditions_of(&f).is_empty());
    assert!(all(&f, json!({}), None).unwrap());
}
