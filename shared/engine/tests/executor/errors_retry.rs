//! `errors`, `finally`, retries, `allowFailure`, `runIf` and failing on purpose, end to end.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_allow_failure_and_allow_warning() {
    let src = flow_yaml(
        "task-allow",
        r#"
tasks:
  - id: tolerated
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["tolerated", "after"]);
    assert_eq!(e.state_of("tolerated"), State::Warning);
    assert_eq!(e.one("tolerated").attempts.len(), 1);
    assert_eq!(e.state_of("after"), State::Success);

    // FAILED -> WARNING (allowFailure) -> SUCCESS (allowWarning), on a runnable and a
    // flowable whose child ended in WARNING.
    let src = flow_yaml(
        "task-allow-warning",
        r#"
tasks:
  - id: runnable
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    allowWarning: true
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    allowWarning: true
    tasks:
      - id: inner
        type: io.kestra.plugin.core.execution.Fail
        allowFailure: true
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["runnable", "seq", "inner"]);
    assert_eq!(e.state_of("runnable"), State::Success);
    assert_eq!(e.state_of("inner"), State::Warning);
    assert_eq!(e.state_of("seq"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_if_false_skips_and_run_if_error_fails() {
    let src = flow_yaml(
        "run-if",
        r#"
tasks:
  - id: executed
    type: io.kestra.plugin.core.debug.Return
    format: ran
    runIf: "{{ 1 == 1 }}"
  - id: skipped
    type: io.kestra.plugin.core.debug.Return
    format: never
    runIf: "{{ outputs.executed.value == 'other' }}"
  - id: after_skip
    type: io.kestra.plugin.core.debug.Return
    format: "{{ tasks.skipped.state }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["executed", "skipped", "after_skip"]);
    assert_eq!(e.state_of("skipped"), State::Skipped);
    assert!(e.one("skipped").outputs.is_empty());
    assert_eq!(e.out("after_skip", "value"), json!("SKIPPED"));

    let src = flow_yaml(
        "run-if-error",
        r#"
tasks:
  - id: broken
    type: io.kestra.plugin.core.debug.Return
    format: never
    runIf: "{{ inputs.undefined_input }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["broken"]);
    assert_eq!(e.state_of("broken"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flowable_errors_and_finally_run_before_the_flow_errors() {
    let src = flow_yaml(
        "flowable-errors",
        r#"
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: not_reached
        type: io.kestra.plugin.core.debug.Return
        format: no
    errors:
      - id: local_error
        type: io.kestra.plugin.core.debug.Return
        format: "handled {{ tasks.boom.state }}"
    finally:
      - id: local_finally
        type: io.kestra.plugin.core.debug.Return
        format: cleanup
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
errors:
  - id: global_error
    type: io.kestra.plugin.core.debug.Return
    format: global
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(
        e.task_ids(),
        [
            "seq",
            "boom",
            "local_error",
            "local_finally",
            "global_error"
        ]
    );
    let seq = e.one("seq").id.clone();
    assert_eq!(
        e.one("local_error").parent_task_run_id.as_deref(),
        Some(seq.as_str())
    );
    assert_eq!(
        e.one("local_finally").parent_task_run_id.as_deref(),
        Some(seq.as_str())
    );
    assert_eq!(e.one("global_error").parent_task_run_id, None);
    assert_eq!(e.state_of("seq"), State::Failed);
    assert_eq!(e.out("local_error", "value"), json!("handled FAILED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_finally_always_runs_last() {
    let kite = Kite::start().await;
    let ok = flow_yaml(
        "finally-ok",
        r#"
tasks:
  - id: work
    type: io.kestra.plugin.core.debug.Return
    format: ok
finally:
  - id: cleanup
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ outputs.work.value }}"
"#,
    );
    let e = kite.run(&ok, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["work", "cleanup"]);
    assert_eq!(e.out("cleanup", "value"), json!("after ok"));

    let failing = flow_yaml(
        "finally-failed",
        r#"
tasks:
  - id: work
    type: io.kestra.plugin.core.execution.Fail
  - id: skipped
    type: io.kestra.plugin.core.debug.Return
    format: never
errors:
  - id: on_error
    type: io.kestra.plugin.core.debug.Return
    format: error
finally:
  - id: cleanup
    type: io.kestra.plugin.core.debug.Return
    format: cleanup
"#,
    );
    let e = kite.run(&failing, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["work", "on_error", "cleanup"]);
    assert_eq!(e.state_of("cleanup"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_logs_are_available_in_the_errors_branch() {
    let src = flow_yaml(
        "error-logs",
        r#"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke: {{ flow.id }}"
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{% for l in errorLogs() %}[{{ l.taskId }}: {{ l.message }}]{% endfor %}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["boom", "report"]);
    assert_eq!(
        e.out("report", "value"),
        json!("[boom: it broke: error-logs]")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_logs_include_worker_task_errors() {
    let src = flow_yaml(
        "error-logs-worker",
        r#"
tasks:
  - id: missing
    type: io.kestra.plugin.core.kv.Get
    key: no-such-key
    errorOnMissing: true
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs() | length }} {{ errorLogs()[0].taskId }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["missing", "report"]);
    assert_eq!(e.state_of("missing"), State::Failed);
    let v = e.out("report", "value");
    let v = v.as_str().unwrap_or_default();
    assert!(
        v.ends_with(" missing") && !v.starts_with("0 "),
        "errorLogs(): {v}"
    );
}

// ---------------------------------------------------------------------------------------
// Retry
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_constant_makes_max_attempt_attempts_then_fails() {
    let src = flow_yaml(
        "retry-constant",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 3
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["flaky"]);
    let r = e.one("flaky");
    assert_eq!(r.state.current, State::Failed);
    assert_eq!(r.attempts.len(), 3);
    assert!(r.attempts.iter().all(|a| a.state.current == State::Failed));
    assert_eq!(r.state.count(State::Retrying), 2, "{:?}", history(&r.state));
    // Each retry waits the interval after the previous attempt ended.
    for pair in r.attempts.windows(2) {
        let prev_end = pair[0].state.end_date.expect("end");
        let next_start = pair[1].state.start_date.expect("start");
        assert!(
            next_start - prev_end >= chrono::Duration::milliseconds(50),
            "retry came too early: {prev_end} -> {next_start}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_success_with_warning_on_retry_ends_warning() {
    let src = flow_yaml(
        "retry-warning",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 5
      warningOnRetry: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ tasks.flaky.state }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["flaky", "after"]);
    let r = e.one("flaky");
    assert_eq!(r.state.current, State::Warning);
    let attempts: Vec<State> = r.attempts.iter().map(|a| a.state.current).collect();
    assert_eq!(attempts, [State::Failed, State::Failed, State::Success]);
    assert_eq!(e.out("after", "value"), json!("after WARNING"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_exhausted_with_allow_failure_ends_warning() {
    let src = flow_yaml(
        "retry-allow-failure",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["flaky", "after"]);
    assert_eq!(e.one("flaky").attempts.len(), 2);
    assert_eq!(e.state_of("flaky"), State::Warning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_level_retry_applies_to_tasks_without_their_own() {
    let src = flow_yaml(
        "retry-flow",
        r#"
retry:
  type: constant
  interval: PT0.05S
  maxAttempt: 3
tasks:
  - id: inherits
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 1 }}"
  - id: own
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["inherits", "own"]);
    assert_eq!(e.one("inherits").attempts.len(), 2);
    assert_eq!(e.state_of("inherits"), State::Success);
    assert_eq!(
        e.one("own").attempts.len(),
        2,
        "the task's own retry wins over the flow's"
    );
}

// ---------------------------------------------------------------------------------------
// Fail, Labels, OutputValues, flow outputs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_with_condition() {
    let src = flow_yaml(
        "fail-condition",
        r#"
inputs:
  - id: fail
    type: BOOLEAN
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: before
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
    errorMessage: "refused because fail={{ inputs.fail }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;
    let e = kite.execute(&flow, json!({"fail": false})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["before", "check", "after"]);

    let e = kite.execute(&flow, json!({"fail": true})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["before", "check"]);
    assert_eq!(e.state_of("check"), State::Failed);
    let check = e.one("check").id.clone();
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter()
                .any(|x| x.task_run_id.as_deref() == Some(check.as_str()))
        })
        .await;
    assert!(
        logs.iter().any(|l| l.level == LogLevel::Error
            && l.task_id.as_deref() == Some("check")
            && l.message == "refused because fail=true"),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_outputs_are_typed_and_a_failing_one_fails_the_execution() {
    let src = flow_yaml(
        "flow-outputs",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: hello
outputs:
  - id: text
    type: STRING
    value: "{{ outputs.r.value }} world"
  - id: number
    type: INT
    value: "{{ 40 + 2 }}"
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(
        Value::Object(e.outputs.clone()),
        json!({"text": "hello world", "number": 42})
    );

    let src = flow_yaml(
        "flow-outputs-failed",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: hello
outputs:
  - id: broken
    type: STRING
    value: "{{ outputs.missing_task.value }}"
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("r"), State::Success);
    assert!(e.outputs.is_empty(), "{:?}", e.outputs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_failure_stops_later_values_and_runs_the_loop_errors() {
    let src = flow_yaml(
        "foreach-fail",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: check
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.value == 'b' }}"
    errors:
      - id: loop_error
        type: io.kestra.plugin.core.debug.Return
        format: "loop failed"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    let runs: Vec<(&str, Option<&str>, State)> = e
        .task_run_list
        .iter()
        .map(|r| (r.task_id.as_str(), r.value.as_deref(), r.state.current))
        .collect();
    assert_eq!(
        runs,
        [
            ("each", None, State::Failed),
            ("check", Some("a"), State::Success),
            ("check", Some("b"), State::Failed),
            ("loop_error", None, State::Success),
        ]
    );
    assert_eq!(
        e.one("loop_error").parent_task_run_id.as_deref(),
        Some(e.one("each").id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flowable_allow_failure_and_run_if() {
    let src = flow_yaml(
        "flowable-props",
        r#"
tasks:
  - id: tolerant
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
  - id: skipped_seq
    type: io.kestra.plugin.core.flow.Sequential
    runIf: "false"
    tasks:
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: never
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["tolerant", "boom", "skipped_seq", "after"]);
    assert_eq!(e.state_of("boom"), State::Failed);
    assert_eq!(e.state_of("tolerant"), State::Warning);
    assert_eq!(e.state_of("skipped_seq"), State::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_finally_task_fails_a_successful_execution() {
    let src = flow_yaml(
        "finally-fails",
        r#"
tasks:
  - id: work
    type: io.kestra.plugin.core.debug.Return
    format: ok
finally:
  - id: cleanup
    type: io.kestra.plugin.core.execution.Fail
  - id: cleanup2
    type: io.kestra.plugin.core.debug.Return
    format: still runs
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["work", "cleanup", "cleanup2"]);
    assert_eq!(e.state_of("work"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_task_that_succeeds_does_not_trigger_errors() {
    let src = flow_yaml(
        "retry-no-errors",
        r#"
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount == 0 }}"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ taskrun.attemptsCount }}"
errors:
  - id: on_error
    type: io.kestra.plugin.core.debug.Return
    format: should not run
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["flaky", "after"]);
    assert_eq!(e.one("flaky").attempts.len(), 2);
    assert_eq!(e.state_of("flaky"), State::Success);
    assert_eq!(e.out("after", "value"), json!("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_condition_render_error_fails_the_if() {
    let e = run(
        &flow_yaml(
            "if-error",
            r#"
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ outputs.nothing.value }}"
    then:
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: never
"#,
        ),
        json!({}),
    )
    .await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["check"]);
    assert_eq!(e.state_of("check"), State::Failed);
}
