//! Sequential, Parallel, If, Switch, ForEach, Dag, labels and outputs, end to end.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_with_worker_tasks_and_concurrency_limit_succeeds() {
    let src = flow_yaml(
        "parallel-kv",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
      - id: k1
        type: io.kestra.plugin.core.kv.Set
        key: k1
        value: one
      - id: k2
        type: io.kestra.plugin.core.kv.Set
        key: k2
        value: two
      - id: k3
        type: io.kestra.plugin.core.kv.Set
        key: k3
        value: three
  - id: read
    type: io.kestra.plugin.core.kv.Get
    key: k3
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["par", "k1", "k2", "k3", "read"]);
    assert_eq!(e.out("read", "value"), json!("three"));
    // With `concurrent: 2`, k3 starts only after one of k1/k2 ended.
    let k3_start = e.one("k3").state.start_date.expect("start");
    let first_end = ["k1", "k2"]
        .iter()
        .map(|t| e.one(t).state.end_date.expect("end"))
        .min()
        .expect("ends");
    assert!(
        k3_start >= first_end,
        "k3 created at {k3_start} before k1/k2 ended ({first_end})"
    );
}

// ---------------------------------------------------------------------------------------
// If, Switch
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_runs_then_or_else_by_truthiness() {
    let src = flow_yaml(
        "if",
        r#"
inputs:
  - id: param
    type: STRING
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.param }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.debug.Return
        format: "yes"
    else:
      - id: when_false
        type: io.kestra.plugin.core.debug.Return
        format: "no"
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;
    for (param, branch, result) in [
        ("true", "when_true", true),
        ("anything", "when_true", true),
        ("false", "when_false", false),
        ("0", "when_false", false),
    ] {
        let e = kite.execute(&flow, json!({"param": param})).await;
        assert_state(&e, State::Success);
        assert_eq!(e.task_ids(), ["check", branch], "param {param}");
        assert_eq!(
            e.out("check", "evaluationResult"),
            json!(result),
            "param {param}"
        );
        assert_eq!(
            e.one(branch).parent_task_run_id.as_deref(),
            Some(e.one("check").id.as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switch_runs_the_matching_case_or_defaults() {
    let src = flow_yaml(
        "switch",
        r#"
inputs:
  - id: choice
    type: STRING
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.choice }}"
    cases:
      FIRST:
        - id: t1
          type: io.kestra.plugin.core.debug.Return
          format: first
      SECOND:
        - id: t2
          type: io.kestra.plugin.core.debug.Return
          format: second
        - id: t2_sub
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.t2.value }} again"
    defaults:
      - id: fallback
        type: io.kestra.plugin.core.debug.Return
        format: "default for {{ inputs.choice }}"
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;

    let e = kite.execute(&flow, json!({"choice": "FIRST"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["pick", "t1"]);
    assert_eq!(e.out("pick", "value"), json!("FIRST"));
    assert_eq!(e.out("pick", "defaults"), json!(false));

    let e = kite.execute(&flow, json!({"choice": "SECOND"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["pick", "t2", "t2_sub"]);
    assert_eq!(e.out("t2_sub", "value"), json!("second again"));

    let e = kite.execute(&flow, json!({"choice": "other"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["pick", "fallback"]);
    assert_eq!(e.out("pick", "value"), json!("other"));
    assert_eq!(e.out("pick", "defaults"), json!(true));
    assert_eq!(e.out("fallback", "value"), json!("default for other"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switch_without_match_nor_defaults_fails() {
    let src = flow_yaml(
        "switch-impossible",
        r#"
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "nothing matches"
    cases:
      A:
        - id: a
          type: io.kestra.plugin.core.debug.Return
          format: a
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["pick"]);
    assert_eq!(e.state_of("pick"), State::Failed);
}

// ---------------------------------------------------------------------------------------
// ForEach
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_over_a_list_keys_outputs_by_value() {
    let src = flow_yaml(
        "foreach-list",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "value {{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.r['b'].value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["each", "r", "r", "r", "after"]);
    let each = e.one("each").id.clone();
    let values: Vec<Option<&str>> = e.runs_of("r").iter().map(|r| r.value.as_deref()).collect();
    assert_eq!(values, [Some("a"), Some("b"), Some("c")]);
    for r in e.runs_of("r") {
        assert_eq!(r.parent_task_run_id.as_deref(), Some(each.as_str()));
        assert_eq!(
            r.outputs["value"],
            json!(format!("value {}", r.value.as_deref().unwrap_or_default()))
        );
    }
    assert_eq!(e.out("after", "value"), json!("value b"));
    assert_eq!(e.state_of("each"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_over_a_json_string_serialises_non_string_values() {
    let src = flow_yaml(
        "foreach-json",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '[{"k": "x"}, {"k": "y"}, 3]'
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    let values: Vec<Option<&str>> = e.runs_of("r").iter().map(|r| r.value.as_deref()).collect();
    assert_eq!(
        values,
        [Some(r#"{"k":"x"}"#), Some(r#"{"k":"y"}"#), Some("3")]
    );
    let outs: Vec<&Value> = e.runs_of("r").iter().map(|r| &r.outputs["value"]).collect();
    assert_eq!(
        outs,
        [&json!(r#"{"k":"x"}"#), &json!(r#"{"k":"y"}"#), &json!("3")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_map_items_are_readable_with_from_json() {
    let src = flow_yaml(
        "foreach-maps",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values:
      - name: alice
      - name: bob
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "hello {{ fromJson(taskrun.value).name }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    let outs: Vec<&Value> = e.runs_of("r").iter().map(|r| &r.outputs["value"]).collect();
    assert_eq!(outs, [&json!("hello alice"), &json!("hello bob")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_concurrency_limit_orders_value_groups() {
    let body = |limit: u32| {
        flow_yaml(
            &format!("foreach-limit-{limit}"),
            &format!(
                r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: {limit}
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "r{{{{ taskrun.value }}}}"
      - id: s
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ outputs.r[taskrun.value].value }}}}s"
"#
            ),
        )
    };
    let kite = Kite::start().await;
    let order = |e: &Execution| -> Vec<(String, String)> {
        e.task_run_list
            .iter()
            .filter(|r| r.task_id != "each")
            .map(|r| (r.task_id.clone(), r.value.clone().unwrap_or_default()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };

    let e = kite.run(&body(1), json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        order(&e),
        pairs(&[("r", "a"), ("s", "a"), ("r", "b"), ("s", "b")])
    );

    let e = kite.run(&body(0), json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        order(&e),
        pairs(&[("r", "a"), ("r", "b"), ("s", "a"), ("s", "b")])
    );
    let s_outs: Vec<&Value> = e.runs_of("s").iter().map(|r| &r.outputs["value"]).collect();
    assert_eq!(s_outs, [&json!("ras"), &json!("rbs")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nested_foreach_addresses_outputs_by_both_values() {
    let src = flow_yaml(
        "foreach-nested",
        r#"
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: [1, 2]
        tasks:
          - id: r
            type: io.kestra.plugin.core.debug.Return
            format: "{{ parents[0].taskrun.value }}-{{ taskrun.value }}"
          - id: again
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.r[parents[0].taskrun.value][taskrun.value].value }}!"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.r['b']['1'].value }}|{{ outputs.again['a']['2'].value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    // outer + 2 inner + 4 r + 4 again + after
    assert_eq!(e.task_run_list.len(), 12, "{:?}", e.task_ids());
    let outer = e.one("outer").id.clone();
    let inners = e.runs_of("inner");
    assert_eq!(inners.len(), 2);
    for (inner, v) in inners.iter().zip(["a", "b"]) {
        assert_eq!(inner.value.as_deref(), Some(v));
        assert_eq!(inner.parent_task_run_id.as_deref(), Some(outer.as_str()));
    }
    let mut rs: Vec<(String, String, String)> = e
        .runs_of("r")
        .iter()
        .map(|r| {
            let parent = e.run_by_id(r.parent_task_run_id.as_deref().expect("parent"));
            (
                parent.value.clone().unwrap_or_default(),
                r.value.clone().unwrap_or_default(),
                r.outputs["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rs.sort();
    assert_eq!(
        rs,
        [
            ("a".into(), "1".into(), "a-1".into()),
            ("a".into(), "2".into(), "a-2".into()),
            ("b".into(), "1".into(), "b-1".into()),
            ("b".into(), "2".into(), "b-2".into()),
        ]
    );
    let mut agains: Vec<&str> = e
        .runs_of("again")
        .iter()
        .filter_map(|r| r.outputs["value"].as_str())
        .collect();
    agains.sort_unstable();
    assert_eq!(agains, ["a-1!", "a-2!", "b-1!", "b-2!"]);
    assert_eq!(e.out("after", "value"), json!("b-1|a-2!"));
}

// ---------------------------------------------------------------------------------------
// Dag
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dag_follows_depends_on() {
    let src = flow_yaml(
        "dag",
        r#"
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: d
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.b.value }}+{{ outputs.c.value }}"
        dependsOn: [b, c]
      - task:
          id: b
          type: io.kestra.plugin.core.debug.Return
          format: "b({{ outputs.a.value }})"
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.debug.Return
          format: "c({{ outputs.a.value }})"
        dependsOn: [a]
      - task:
          id: a
          type: io.kestra.plugin.core.debug.Return
          format: a
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["dag", "a", "b", "c", "d"]);
    let dag = e.one("dag").id.clone();
    for t in ["a", "b", "c", "d"] {
        assert_eq!(
            e.one(t).parent_task_run_id.as_deref(),
            Some(dag.as_str()),
            "{t}"
        );
    }
    assert_eq!(e.out("d", "value"), json!("b(a)+c(a)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dag_failure_stops_dependents() {
    let src = flow_yaml(
        "dag-fail",
        r#"
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: a
          type: io.kestra.plugin.core.execution.Fail
        dependsOn: []
      - task:
          id: b
          type: io.kestra.plugin.core.debug.Return
          format: b
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.debug.Return
          format: c
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["dag", "a", "c"]);
    assert_eq!(e.state_of("a"), State::Failed);
    assert_eq!(e.state_of("c"), State::Success);
    assert_eq!(e.state_of("dag"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disabled_tasks_get_no_task_run() {
    let src = flow_yaml(
        "disabled",
        r#"
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: a
  - id: off
    type: io.kestra.plugin.core.execution.Fail
    disabled: true
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: off_child
        type: io.kestra.plugin.core.execution.Fail
        disabled: true
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: c
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["a", "seq", "c"]);
    assert_eq!(e.state_of("seq"), State::Success);
}

// ---------------------------------------------------------------------------------------
// errors, finally
// ---------------------------------------------------------------------------------------

/// Reference §4.7, step by step: the final execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worked_lifecycle_of_the_reference() {
    let src = flow_yaml(
        "lifecycle",
        r#"
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: a
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: b
      - id: c
        type: io.kestra.plugin.core.execution.Fail
  - id: d
    type: io.kestra.plugin.core.log.Log
    message: d
errors:
  - id: e
    type: io.kestra.plugin.core.log.Log
    message: e
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["a", "p", "b", "c", "e"]);
    let p = e.one("p").id.clone();
    assert_eq!(e.one("b").parent_task_run_id.as_deref(), Some(p.as_str()));
    assert_eq!(e.one("c").parent_task_run_id.as_deref(), Some(p.as_str()));
    assert_eq!(e.one("e").parent_task_run_id, None);
    assert_eq!(e.state_of("a"), State::Success);
    assert_eq!(e.state_of("b"), State::Success);
    assert_eq!(e.state_of("c"), State::Failed);
    assert_eq!(e.state_of("p"), State::Failed);
    assert_eq!(e.state_of("e"), State::Success);
    assert_eq!(
        history(&e.state),
        [State::Created, State::Running, State::Failed]
    );
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter().any(|x| x.message.contains("Flow completed"))
        })
        .await;
    assert!(
        logs.iter()
            .any(|l| l.message.contains("Flow completed with state FAILED")),
        "{logs:#?}"
    );

    // Variation: allowFailure on c.
    let src = src.replace(
        "type: io.kestra.plugin.core.execution.Fail",
        "type: io.kestra.plugin.core.execution.Fail\n        allowFailure: true",
    );
    let src = src.replace("id: lifecycle", "id: lifecycle-allow");
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["a", "p", "b", "c", "d"]);
    assert_eq!(e.state_of("c"), State::Warning);
    assert_eq!(e.state_of("p"), State::Warning);
    assert_eq!(e.state_of("d"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labels_task_updates_execution_labels() {
    let src = flow_yaml(
        "labels",
        r#"
labels:
  team: data
  keep: me
inputs:
  - id: env
    type: STRING
    defaults: prod
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.team }}"
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      team: platform
      env: "{{ inputs.env }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.team }}/{{ labels.env }}/{{ labels.keep }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["before", "set", "after"]);
    assert_eq!(e.out("before", "value"), json!("data"));
    assert_eq!(e.out("after", "value"), json!("platform/prod/me"));
    assert_eq!(e.label("team"), Some("platform"));
    assert_eq!(e.label("env"), Some("prod"));
    assert_eq!(e.label("keep"), Some("me"));
    assert_eq!(e.label("system.correlationId"), Some(e.id.as_str()));
    assert_eq!(e.labels.iter().filter(|l| l.key == "team").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labels_task_rejects_system_labels() {
    let src = flow_yaml(
        "labels-system",
        r#"
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      system.readOnly: "true"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("set"), State::Failed);
    assert_eq!(e.label("system.readOnly"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn output_values_are_rendered_recursively() {
    let src = flow_yaml(
        "output-values",
        r#"
tasks:
  - id: ov
    type: io.kestra.plugin.core.output.OutputValues
    values:
      sum: "{{ 1 + 1 }}"
      nested:
        flow: "{{ flow.id }}"
      list:
        - "{{ 'x' | upper }}"
        - plain
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.ov.values.nested.flow }} {{ outputs.ov.values.list[0] }} {{ outputs.ov.values.sum }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        e.out("ov", "values"),
        json!({"sum": "2", "nested": {"flow": "output-values"}, "list": ["X", "plain"]})
    );
    assert_eq!(e.out("read", "value"), json!("output-values X 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_with_allowed_failures_ends_warning() {
    let src = flow_yaml(
        "foreach-warning",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: tolerated
        type: io.kestra.plugin.core.execution.Fail
        allowFailure: true
      - id: next
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(
        e.task_ids(),
        ["each", "tolerated", "next", "tolerated", "next", "after"]
    );
    assert_eq!(e.state_of("each"), State::Warning);
    assert!(
        e.runs_of("tolerated")
            .iter()
            .all(|r| r.state.current == State::Warning)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_values_from_a_json_input_expression() {
    let src = flow_yaml(
        "foreach-input",
        r#"
inputs:
  - id: items
    type: JSON
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.items }}"
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
    );
    let e = run(&src, json!({"items": r#"["x", "y"]"#})).await;
    assert_state(&e, State::Success);
    let values: Vec<Option<&str>> = e.runs_of("r").iter().map(|r| r.value.as_deref()).collect();
    assert_eq!(values, [Some("x"), Some("y")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flowables_inside_foreach_see_the_iteration_value() {
    let src = flow_yaml(
        "foreach-flowables",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: inner
            type: io.kestra.plugin.core.debug.Return
            format: "in {{ taskrun.value }}"
      - id: cond
        type: io.kestra.plugin.core.flow.If
        condition: "{{ taskrun.value == 'b' }}"
        then:
          - id: only_b
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.inner[taskrun.value].value }}!"
      - id: pick
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ taskrun.value }}"
        cases:
          a:
            - id: case_a
              type: io.kestra.plugin.core.debug.Return
              format: "case {{ taskrun.value }}"
        defaults:
          - id: case_other
            type: io.kestra.plugin.core.debug.Return
            format: "other {{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.inner['a'].value }}|{{ outputs.only_b['b'].value }}|{{ outputs.case_a['a'].value }}|{{ outputs.case_other['b'].value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    let inner: Vec<&Value> = e
        .runs_of("inner")
        .iter()
        .map(|r| &r.outputs["value"])
        .collect();
    assert_eq!(inner, [&json!("in a"), &json!("in b")]);
    assert_eq!(e.out("only_b", "value"), json!("in b!"));
    assert_eq!(e.out("case_a", "value"), json!("case a"));
    assert_eq!(e.out("case_other", "value"), json!("other b"));
    let conds: Vec<&Value> = e
        .runs_of("cond")
        .iter()
        .map(|r| &r.outputs["evaluationResult"])
        .collect();
    assert_eq!(conds, [&json!(false), &json!(true)]);
    assert_eq!(e.out("after", "value"), json!("in a|in b!|case a|other b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labels_task_accepts_the_list_form() {
    let e = run(
        &flow_yaml(
            "labels-list",
            r#"
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: stage
        value: "{{ 'b' ~ 'eta' }}"
      - key: number
        value: 7
"#,
        ),
        json!({}),
    )
    .await;
    assert_state(&e, State::Success);
    assert_eq!(e.label("stage"), Some("beta"));
    assert_eq!(e.label("number"), Some("7"));
}
