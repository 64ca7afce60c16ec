//! One test per validation rule, on the project's own flows.

mod common;

use common::{assert_error, assert_valid, log};

const HEAD: &str = "id: orders\nnamespace: company.sales\n";

#[test]
fn flow_id_and_namespace_patterns() {
    let d = assert_error(
        "id: 'bad id!'\nnamespace: a\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n",
        &["`id`", "pattern"],
    );
    assert_eq!((d.loc.line, d.loc.col), (1, 1));
    assert_error(
        "id: ok\nnamespace: Company\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n",
        &["namespace", "lower-case"],
    );
    assert_error(
        "id: ''\nnamespace: a\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n",
        &["must not be empty"],
    );
}

#[test]
fn tasks_must_not_be_empty() {
    assert_error(
        &format!("{HEAD}tasks: []\n"),
        &["`tasks` must not be empty"],
    );
    assert_error(HEAD, &["`tasks` must not be empty"]);
}

#[test]
fn task_ids_are_unique_across_branches_and_reported_together() {
    let src = format!(
        "{HEAD}tasks:\n{}{}  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: {}\n        type: io.kestra.plugin.core.log.Log\n        message: nested\nerrors:\n{}finally:\n{}triggers:\n  - id: tr\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n  - id: tr\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k2\n",
        log("a"),
        log("b"),
        "a",
        log("b"),
        log("c"),
    );
    let d = assert_error(
        &src,
        &[
            "Duplicate task id with name [a, b]",
            "Duplicate trigger id with name [tr]",
        ],
    );
    assert!(d.loc.line > 0);
}

#[test]
fn task_id_pattern() {
    assert_error(
        &format!("{HEAD}tasks:\n{}", log("has.dot")),
        &["has.dot", "pattern"],
    );
}

#[test]
fn missing_task_id_and_type() {
    assert_error(
        &format!("{HEAD}tasks:\n  - type: io.kestra.plugin.core.log.Log\n    message: x\n"),
        &["missing required property `id`"],
    );
    let d = assert_error(
        &format!("{HEAD}tasks:\n  - id: t\n    message: x\n"),
        &["missing required property `type`"],
    );
    assert_eq!(d.loc.line, 4);
}

#[test]
fn unknown_type_suggests_the_closest() {
    let d = assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Logg\n    message: x\n"
        ),
        &[
            "Invalid type: io.kestra.plugin.core.log.Logg",
            "Did you mean `io.kestra.plugin.core.log.Log`?",
        ],
    );
    assert_eq!((d.loc.line, d.loc.col), (5, 11));
}

#[test]
fn unknown_property_suggests_the_closest() {
    let d = assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    mesage: x\n"
        ),
        &["Unrecognized field \"mesage\"", "Did you mean `message`?"],
    );
    assert_eq!((d.loc.line, d.loc.col), (6, 5));
    // Common properties are suggested too.
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    allowFailur: true\n"
        ),
        &["Did you mean `allowFailure`?"],
    );
    assert_error(
        &format!("{HEAD}tasks:\n{}unknownTop: 1\n", log("t")),
        &["Unrecognized field \"unknownTop\""],
    );
}

#[test]
fn every_bad_task_is_reported_not_only_the_first() {
    let src = format!(
        "{HEAD}tasks:\n  - id: a\n    type: io.kestra.plugin.core.nope.One\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    bad: 1\n    message: x\n"
    );
    let errs = common::errors(&src);
    assert!(errs.iter().any(|d| d.message.contains("nope.One")));
    assert!(errs.iter().any(|d| d.message.contains("\"bad\"")));
}

#[test]
fn wrong_value_types_have_locations() {
    let d = assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: many\n    tasks:\n{}",
            log("x")
                .replace("  - ", "      - ")
                .replace("\n    ", "\n        ")
        ),
        &["tasks[0].concurrent"],
    );
    assert_eq!(d.loc.line, 6);
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: 5 minutes\n"
        ),
        &["not an ISO-8601 duration"],
    );
}

#[test]
fn dag_cycles_and_unknown_dependencies() {
    let dag = |deps: &str| {
        format!(
            "{HEAD}tasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: io.kestra.plugin.core.log.Log\n          message: a\n        dependsOn: [{deps}]\n      - task:\n          id: b\n          type: io.kestra.plugin.core.log.Log\n          message: b\n        dependsOn: [a]\n"
        )
    };
    assert_valid(&dag(""));
    assert_error(&dag("b"), &["Cyclic dependency detected: a, b"]);
    assert_error(&dag("zz"), &["Not existing task id in dependency: zz"]);
}

#[test]
fn switch_needs_cases_or_defaults() {
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: sw\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n"
        ),
        &["sw: No task defined, neither cases or default have any tasks"],
    );
    assert_valid(&format!(
        "{HEAD}tasks:\n  - id: sw\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n    cases:\n      A:\n        - id: a\n          type: io.kestra.plugin.core.log.Log\n          message: a\n"
    ));
}

#[test]
fn working_directory_holds_only_runnable_tasks() {
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n      - id: p\n        type: io.kestra.plugin.core.flow.Pause\n"
        ),
        &["wd: Only runnable tasks are allowed"],
    );
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks: []\n"
        ),
        &["wd: The 'tasks' property cannot be empty"],
    );
}

#[test]
fn flowable_tasks_need_children() {
    for ty in ["Sequential", "Parallel", "ForEach"] {
        let extra = if ty == "ForEach" {
            "    values: [1]\n"
        } else {
            ""
        };
        assert_error(
            &format!("{HEAD}tasks:\n  - id: f\n    type: io.kestra.plugin.core.flow.{ty}\n{extra}"),
            &["f: `tasks` must not be empty"],
        );
    }
}

#[test]
fn subflow_cannot_call_its_own_flow() {
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: me\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.sales\n    flowId: orders\n"
        ),
        &["Recursive call to flow [company.sales.orders]"],
    );
}

#[test]
fn system_labels_are_reserved() {
    let d = assert_error(
        &format!(
            "{HEAD}labels:\n  system.owner: me\n  team: a\ntasks:\n{}",
            log("t")
        ),
        &["System labels", "system.owner=me"],
    );
    assert_eq!(d.loc.line, 3);
    assert_valid(&format!(
        "{HEAD}labels:\n  - key: system.readOnly\n    value: 'true'\ntasks:\n{}",
        log("t")
    ));
}

#[test]
fn inputs_are_unique_and_validated() {
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: a, type: STRING}}\n  - {{id: a, type: INT}}\ntasks:\n{}",
            log("t")
        ),
        &["Duplicate input with name [a]"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: f, type: FILE, defaults: x}}\ntasks:\n{}",
            log("t")
        ),
        &["no `defaults` can be set for inputs of type 'FILE'"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: l, type: ARRAY, itemType: ARRAY}}\ntasks:\n{}",
            log("t")
        ),
        &["`itemType` cannot be `ARRAY`"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: s, type: STRING, validator: '(unclosed'}}\ntasks:\n{}",
            log("t")
        ),
        &["invalid pattern"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: n, type: INT, validator: '^a$'}}\ntasks:\n{}",
            log("t")
        ),
        &["`validator` does not apply to inputs of type INT"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: n, type: NUMBER}}\ntasks:\n{}",
            log("t")
        ),
        &["`NUMBER` is not one of"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: a, type: STRING, dependsOn: {{inputs: [ghost]}}}}\ntasks:\n{}",
            log("t")
        ),
        &["depends on a non-existent input `ghost`"],
    );
    assert_error(
        &format!(
            "{HEAD}inputs:\n  - {{id: a, type: STRING, dependsOn: {{inputs: [b]}}}}\n  - {{id: b, type: STRING, dependsOn: {{inputs: [a]}}}}\ntasks:\n{}",
            log("t")
        ),
        &["Cycle dependency detected"],
    );
}

#[test]
fn retry_policies_are_checked() {
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    retry:\n      type: constant\n      maxAttempt: 3\n"
        ),
        &["needs `interval`"],
    );
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    retry:\n      type: constant\n      interval: PT1M\n      maxDuration: PT30S\n"
        ),
        &["'interval' must be less than 'maxDuration'"],
    );
    assert_valid(&format!(
        "{HEAD}retry:\n  type: exponential\n  interval: PT1S\n  maxInterval: PT1M\n  maxAttempt: 5\ntasks:\n{}",
        log("t")
    ));
}

#[test]
fn worker_groups_are_enterprise_only() {
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    workerGroup:\n      key: gpu\n"
        ),
        &["Worker Group is an Enterprise Edition functionality"],
    );
}

#[test]
fn schedule_cron_and_timezone() {
    let trig = |cron: &str, tz: &str| {
        format!(
            "{HEAD}tasks:\n{}triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: '{cron}'\n    timezone: {tz}\n",
            log("t")
        )
    };
    assert_valid(&trig("*/15 * * * *", "Europe/Paris"));
    assert_valid(&trig("@daily", "UTC"));
    assert_error(&trig("61 * * * *", "UTC"), &["invalid cron expression"]);
    assert_error(
        &trig("0 * * * *", "Mars/Olympus"),
        &["not a valid time-zone ID"],
    );
}

#[test]
fn webhook_rejects_multiple_condition() {
    assert_error(
        &format!(
            "{HEAD}tasks:\n{}triggers:\n  - id: w\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n    conditions:\n      - type: io.kestra.plugin.core.condition.MultipleCondition\n        id: m\n        conditions:\n          a:\n            type: io.kestra.plugin.core.condition.ExecutionStatus\n            in: [SUCCESS]\n",
            log("t")
        ),
        &["MultipleCondition are not supported"],
    );
}

#[test]
fn duplicate_yaml_keys_are_errors_with_both_positions() {
    let d = assert_error(
        &format!(
            "{HEAD}variables:\n  region: eu\n  region: us\ntasks:\n{}",
            log("t")
        ),
        &["Duplicate field 'variables.region'", "line 4"],
    );
    assert_eq!(d.loc.line, 5);
}
