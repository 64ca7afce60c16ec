//! The parser: model values, aliases, deprecations, plugin defaults, multi-documents.

mod common;

use common::{assert_valid, errors, flow};
use kite_flow::model::concurrency::ConcurrencyBehavior;
use kite_flow::model::input::InputType;
use kite_flow::plugin::LogLevel;
use kite_flow::property::Dyn;
use kite_flow::tasks::{for_each::ForEach, r#if::If, log::Log, switch::Switch};
use kite_flow::{IsoDuration, Severity, TaskKind, parse_flows};

#[test]
fn reads_a_full_flow() {
    let parsed = assert_valid(
        r#"id: orders_daily
namespace: company.sales
description: Loads **orders**
labels: {team: sales, tier: 1}
inputs:
  - id: day
    type: DATE
    required: false
  - id: mode
    type: SELECT
    values: [FULL, DELTA]
    defaults: DELTA
variables:
  bucket: "s3://orders/{{ inputs.day }}"
concurrency: {limit: 2, behavior: CANCEL}
retry: {type: constant, interval: PT1M, maxAttempt: 3}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["eu", "us"]
    concurrencyLimit: 0
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
        level: DEBUG
        timeout: PT30S
  - id: gate
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.mode == 'FULL' }}"
    then:
      - id: approve
        type: io.kestra.plugin.core.flow.Pause
        delay: PT1H
    else:
      - id: skip
        type: io.kestra.plugin.core.log.Log
        message: skipped
        allowFailure: true
        runIf: "{{ true }}"
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: failed
finally:
  - id: bye
    type: io.kestra.plugin.core.debug.Return
    format: done
outputs:
  - id: count
    type: INT
    value: "{{ 1 }}"
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
    timezone: Europe/Paris
sla:
  - id: max2h
    type: MAX_DURATION
    duration: PT2H
    behavior: FAIL
"#,
    );
    let f = parsed.flow.unwrap();
    assert_eq!(f.uid(), "company.sales.orders_daily");
    assert_eq!(f.labels.0[1].value, "1");
    assert_eq!(f.inputs[0].kind, InputType::Date);
    assert!(!f.inputs[0].required);
    let c = f.concurrency.as_ref().unwrap();
    assert_eq!((c.limit, c.behavior), (2, ConcurrencyBehavior::Cancel));
    let each = f.tasks[0].spec::<ForEach>().unwrap();
    assert_eq!(each.concurrency_limit, Some(Dyn::Value(0)));
    assert_eq!(f.tasks[0].kind, TaskKind::Flowable);
    let log = each.tasks[0].spec::<Log>().unwrap();
    assert_eq!(log.level, Some(LogLevel::Debug));
    assert_eq!(
        each.tasks[0].common.timeout,
        Some(Dyn::Value(IsoDuration::from_secs(30)))
    );
    let gate = f.tasks[1].spec::<If>().unwrap();
    assert_eq!(gate.otherwise[0].id, "skip");
    assert!(gate.otherwise[0].common.allow_failure);
    assert_eq!(f.all_tasks().len(), 7);
    assert_eq!(f.errors[0].path, "errors[0]");
    assert_eq!(gate.then[0].path, "tasks[1].then[0]");
    assert_eq!(
        f.triggers[0].type_name,
        "io.kestra.plugin.core.trigger.Schedule"
    );
}

#[test]
fn legacy_aliases_are_accepted_with_an_info() {
    let parsed =
        flow("tasks:\n  - id: a\n    type: io.kestra.core.tasks.log.Log\n    message: x\n");
    let f = parsed.flow.as_ref().expect("valid");
    assert_eq!(f.tasks[0].type_name, "io.kestra.plugin.core.log.Log");
    assert_eq!(f.tasks[0].written_type, "io.kestra.core.tasks.log.Log");
    let info = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Info)
        .unwrap();
    assert_eq!(
        info.message,
        "io.kestra.core.tasks.log.Log is replaced by io.kestra.plugin.core.log.Log"
    );
    assert_eq!(info.loc.line, 5);
}

#[test]
fn deprecated_types_are_accepted_with_a_warning() {
    let parsed =
        flow("tasks:\n  - id: e\n    type: io.kestra.plugin.core.debug.Echo\n    format: hi\n");
    assert!(parsed.is_valid());
    let w = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .unwrap();
    assert!(
        w.message.starts_with("tasks[0] is deprecated"),
        "{}",
        w.message
    );
}

#[test]
fn plugin_defaults_fill_and_force_properties() {
    let parsed = flow(
        "pluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values: {level: WARN, message: default}\n  - type: io.kestra.plugin.core.log.Log\n    forced: true\n    values: {timeout: PT5S}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    level: ERROR\n    timeout: PT1M\n  - id: b\n    type: io.kestra.core.tasks.log.Log\n",
    );
    let f = parsed.flow.expect("valid");
    let a = f.tasks[0].spec::<Log>().unwrap();
    assert_eq!(
        a.level,
        Some(LogLevel::Error),
        "written values win over defaults"
    );
    assert_eq!(
        f.tasks[0].common.timeout,
        Some(Dyn::Value(IsoDuration::from_secs(5))),
        "forced wins"
    );
    let b = f.tasks[1].spec::<Log>().unwrap();
    assert_eq!(b.level, Some(LogLevel::Warn), "aliases match defaults too");
    assert_eq!(b.message.items(), vec!["default"]);
}

#[test]
fn labels_as_a_list_and_null_lists() {
    let f = flow("labels:\n  - key: a\n    value: b\ninputs: ~\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: '{{ 1 }}'\n    cases:\n      1:\n        - id: one\n          type: io.kestra.plugin.core.log.Log\n          message: one\n    defaults: ~\n")
        .flow
        .expect("valid");
    assert_eq!(f.labels.0[0].key, "a");
    let sw = f.tasks[0].spec::<Switch>().unwrap();
    assert!(
        sw.cases.contains_key("1"),
        "numeric case keys become strings"
    );
}

#[test]
fn expressions_are_accepted_in_typed_properties() {
    let f = flow("tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: \"{{ inputs.n }}\"\n    tasks:\n      - id: s\n        type: io.kestra.plugin.core.flow.Sleep\n        duration: \"{{ inputs.d }}\"\n")
        .flow
        .expect("valid");
    let p = f.tasks[0]
        .spec::<kite_flow::tasks::parallel::Parallel>()
        .unwrap();
    assert_eq!(p.concurrent, Some(Dyn::Expr("{{ inputs.n }}".into())));
}

#[test]
fn yaml_1_1_booleans_stay_strings() {
    let f = flow("variables:\n  answer: yes\n  country: NO\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: on\n")
        .flow
        .expect("valid");
    assert_eq!(f.variables["answer"], "yes");
    assert_eq!(f.variables["country"], "NO");
}

#[test]
fn several_documents_are_parsed_separately() {
    let all = parse_flows(
        "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n---\nid: b\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Nope\n",
    );
    assert_eq!(all.len(), 2);
    assert!(all[0].is_valid());
    let e = all[1].errors().next().unwrap();
    assert_eq!(e.loc.line, 12);
}

#[test]
fn structural_errors_are_clear() {
    let e = errors("- just\n- a list\n");
    assert!(e[0].message.contains("a flow must be a map"));
    let e = errors("");
    assert!(e[0].message.contains("empty"));
    let e = errors("id: a\nnamespace: n\ntasks: {id: t}\n");
    assert!(
        e[0].message.contains("`tasks` must be a list"),
        "{}",
        e[0].message
    );
    let e = errors("id: a\nnamespace: n\ntasks:\n  - just-a-string\n");
    assert!(e[0].message.contains("must be a task"), "{}", e[0].message);
    let e = errors(
        "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n",
    );
    assert!(e[0].message.contains("not a task"), "{}", e[0].message);
}

#[test]
fn every_core_type_round_trips_to_json() {
    let f = flow("tasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: '{{ 1 }}'\n    retry: {type: constant, interval: PT1S, maxAttempt: 2}\n")
        .flow
        .expect("valid");
    let json = f.tasks[0].to_json();
    assert_eq!(json["id"], "r");
    assert_eq!(json["type"], "io.kestra.plugin.core.debug.Return");
    assert_eq!(json["format"], "{{ 1 }}");
    assert_eq!(json["retry"]["interval"], "PT1S");
    let whole = serde_json::to_value(&f).unwrap();
    assert_eq!(whole["tasks"][0]["id"], "r");
}
