//! Validation of Flow triggers: preconditions that can never be met, unknown filters,
//! windows that are not positive, several windows on one trigger, unknown states; each
//! reported at the trigger with the property path.

mod common;

use common::{assert_error, assert_valid, log};

fn with_trigger(trigger: &str) -> String {
    format!(
        "id: reports\nnamespace: company.finance\ntasks:\n{}triggers:\n  - id: after_sales\n    type: io.kestra.plugin.core.trigger.Flow\n{trigger}",
        log("hello")
    )
}

#[test]
fn a_valid_trigger_with_preconditions_passes() {
    assert_valid(&with_trigger(
        "    states: [SUCCESS, WARNING]\n    preconditions:\n      id: both\n      flows:\n        - namespace: company.sales\n          flowId: orders\n          states: [SUCCESS]\n      where:\n        - id: prod\n          operand: OR\n          filters:\n            - field: NAMESPACE\n              type: STARTS_WITH\n              value: company.\n            - field: EXPRESSION\n              type: IS_TRUE\n              value: \"{{ labels.env == 'prod' }}\"\n      timeWindow:\n        type: SLIDING_WINDOW\n        window: PT2H\n",
    ));
}

#[test]
fn preconditions_without_flows_or_where_never_fire() {
    let d = assert_error(
        &with_trigger("    preconditions:\n      id: nothing\n"),
        &["triggers[0].preconditions", "can never be met"],
    );
    assert_eq!(
        (d.loc.line, d.loc.col),
        (10, 5),
        "at `preconditions`: {d:?}"
    );
}

#[test]
fn unknown_filter_fields_and_types_are_named() {
    let src = with_trigger(
        "    preconditions:\n      where:\n        - id: w\n          filters:\n            - field: COLOR\n              type: EQUAL_TO\n              value: red\n            - field: FLOW_ID\n              type: LOOKS_LIKE\n              value: orders\n",
    );
    assert_error(
        &src,
        &[
            "triggers[0].preconditions.where[0].filters[0].field",
            "COLOR",
        ],
    );
    assert_error(
        &src,
        &[
            "triggers[0].preconditions.where[0].filters[1].type",
            "LOOKS_LIKE",
        ],
    );
}

#[test]
fn filters_need_what_they_compare() {
    assert_error(
        &with_trigger(
            "    preconditions:\n      where:\n        - id: w\n          filters:\n            - field: FLOW_ID\n              type: IN\n",
        ),
        &["filters[0].values", "needs `values`"],
    );
    assert_error(
        &with_trigger(
            "    preconditions:\n      where:\n        - id: w\n          filters:\n            - field: FLOW_ID\n              type: IS_TRUE\n",
        ),
        &["filters[0].type", "compares text"],
    );
    assert_error(
        &with_trigger("    preconditions:\n      where:\n        - id: w\n          filters: []\n"),
        &["where[0].filters", "at least one filter"],
    );
}

#[test]
fn windows_must_be_positive() {
    assert_error(
        &with_trigger(
            "    preconditions:\n      flows:\n        - namespace: company.sales\n      timeWindow:\n        window: PT0S\n",
        ),
        &["preconditions.timeWindow", "positive"],
    );
    assert_error(
        &with_trigger(
            "    preconditions:\n      flows:\n        - namespace: company.sales\n      timeWindow:\n        type: DAILY_TIME_WINDOW\n        startTime: \"18:00\"\n        endTime: \"08:00\"\n",
        ),
        &["preconditions.timeWindow", "must come after"],
    );
}

#[test]
fn a_multiple_condition_is_checked_too() {
    assert_error(
        &with_trigger(
            "    conditions:\n      - type: io.kestra.plugin.core.condition.MultipleCondition\n        id: pair\n        window: -PT1H\n        conditions:\n          a:\n            type: io.kestra.plugin.core.condition.ExecutionStatus\n            in: [SUCCESS]\n",
        ),
        &["triggers[0].conditions[0]", "positive"],
    );
    assert_error(
        &with_trigger(
            "    conditions:\n      - type: io.kestra.plugin.core.condition.MultipleCondition\n        id: pair\n        conditions:\n          a:\n            type: io.kestra.plugin.core.condition.ExecutionStatus\n            in: [SUCCESS]\n    preconditions:\n      flows:\n        - namespace: company.sales\n",
        ),
        &["triggers[0].conditions", "one window"],
    );
}

#[test]
fn states_are_execution_states() {
    assert_error(
        &with_trigger("    states: [SUCCESS, DONE]\n"),
        &["triggers[0].states", "`DONE` is not an execution state"],
    );
    assert_error(
        &with_trigger(
            "    preconditions:\n      flows:\n        - namespace: company.sales\n          states: [FINISHED]\n",
        ),
        &["preconditions.flows[0].states", "FINISHED"],
    );
}
