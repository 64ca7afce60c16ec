//! Subflows, kill, restart, replay, concurrency limits, Exit and Resume, end to end.

use super::*;

// ---------------------------------------------------------------------------------------
// Sequential, Parallel
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequential_runs_children_in_order_and_chains_outputs() {
    let src = flow_yaml(
        "sequential",
        r#"
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: second
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.first.value }}-two"
      - id: third
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.second.value }}-three"
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: "last saw {{ outputs.third.value }}"
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["first", "seq", "second", "third", "last"]);
    assert_eq!(
        history(&e.state),
        [State::Created, State::Running, State::Success]
    );
    let seq = e.one("seq");
    assert_eq!(e.one("first").parent_task_run_id, None);
    assert_eq!(seq.parent_task_run_id, None);
    assert_eq!(
        e.one("second").parent_task_run_id.as_deref(),
        Some(seq.id.as_str())
    );
    assert_eq!(
        e.one("third").parent_task_run_id.as_deref(),
        Some(seq.id.as_str())
    );
    assert_eq!(e.one("last").parent_task_run_id, None);
    assert_eq!(e.out("second", "value"), json!("one-two"));
    assert_eq!(e.out("third", "value"), json!("one-two-three"));
    for r in &e.task_run_list {
        assert_eq!(r.state.current, State::Success, "{}", r.task_id);
        assert_eq!(r.execution_id, e.id);
        assert_eq!(r.flow_id, "sequential");
        assert_eq!(r.namespace, NS);
        assert_eq!(r.id.len(), 22, "task run ids are 22-character base62 ids");
        assert_eq!(r.value, None);
    }
    for t in ["first", "second", "third", "last"] {
        let r = e.one(t);
        assert_eq!(r.attempts.len(), 1, "{t}");
        assert_eq!(r.attempts[0].state.current, State::Success);
        assert_eq!(
            history(&r.state),
            [State::Created, State::Running, State::Success],
            "{t}"
        );
    }
    let mut ids: Vec<&str> = e.task_run_list.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "task run ids are distinct");
    let last_id = e.one("last").id.clone();
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter()
                .any(|x| x.task_run_id.as_deref() == Some(last_id.as_str()))
        })
        .await;
    let line = logs
        .iter()
        .find(|l| l.task_id.as_deref() == Some("last"))
        .expect("a log line of `last`");
    assert_eq!(line.message, "last saw one-two-three");
    assert_eq!(line.level, LogLevel::Info);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_runs_every_child_under_the_parallel_run() {
    let src = flow_yaml(
        "parallel",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.debug.Return
        format: A
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: B
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: C
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.a.value }}{{ outputs.b.value }}{{ outputs.c.value }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["par", "a", "b", "c", "after"]);
    let par = e.one("par").id.clone();
    for t in ["a", "b", "c"] {
        assert_eq!(e.one(t).parent_task_run_id.as_deref(), Some(par.as_str()));
        assert_eq!(e.state_of(t), State::Success);
    }
    assert_eq!(e.state_of("par"), State::Success);
    assert_eq!(e.out("after", "value"), json!("ABC"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_with_a_null_value_fails_without_children() {
    let src = flow_yaml(
        "foreach-null",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["a", null]'
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
    );
    let kite = Kite::start().await;
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["each"]);
    assert_eq!(e.state_of("each"), State::Failed);
    let logs = kite
        .logs_until(&e.id, |l| l.iter().any(|x| x.level == LogLevel::Error))
        .await;
    assert!(
        logs.iter()
            .any(|l| l.level == LogLevel::Error && l.message.to_lowercase().contains("null")),
        "an ERROR log about null values: {logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_over_an_empty_list_succeeds_without_children() {
    let src = flow_yaml(
        "foreach-empty",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: []
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["each", "after"]);
    assert_eq!(e.state_of("each"), State::Success);
}

// ---------------------------------------------------------------------------------------
// AllowFailure, allowFailure / allowWarning, runIf, disabled
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn allow_failure_flowable_turns_child_failure_into_warning() {
    let src = flow_yaml(
        "allow-failure-flowable",
        r#"
tasks:
  - id: tolerant
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: not_reached
        type: io.kestra.plugin.core.debug.Return
        format: no
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: continued
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Warning);
    assert_eq!(e.task_ids(), ["tolerant", "boom", "after"]);
    assert_eq!(e.state_of("boom"), State::Failed);
    assert_eq!(e.state_of("tolerant"), State::Warning);
    assert_eq!(e.state_of("after"), State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_of_a_flowable_applies_to_its_children() {
    let src = flow_yaml(
        "retry-flowable",
        r#"
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
    tasks:
      - id: child
        type: io.kestra.plugin.core.execution.Fail
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["seq", "child"]);
    assert_eq!(e.one("child").attempts.len(), 2);
    assert_eq!(e.state_of("seq"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_waits_for_the_child_and_exposes_its_outputs() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml("child", CHILD)).await;
    let src = flow_yaml(
        "parent",
        r#"
inputs:
  - id: who
    type: STRING
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      name: "{{ inputs.who }}"
      times: 3
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.sub.outputs.greeting }} ({{ outputs.sub.state }})"
"#,
    );
    let e = kite.run(&src, json!({"who": "ada"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["sub", "after"]);
    let sub = e.one("sub");
    assert_eq!(sub.state.current, State::Success);
    assert_eq!(sub.outputs["state"], json!("SUCCESS"));
    assert_eq!(
        sub.outputs["outputs"],
        json!({"greeting": "hello ada x3 from parent"})
    );
    assert_eq!(
        e.out("after", "value"),
        json!("hello ada x3 from parent (SUCCESS)")
    );

    let child_id = sub.outputs["executionId"]
        .as_str()
        .expect("executionId")
        .to_owned();
    let child = kite.get(&child_id).await.expect("child execution");
    assert_state(&child, State::Success);
    assert_eq!(child.flow_id, "child");
    assert_eq!(
        Value::Object(child.inputs.clone()),
        json!({"name": "ada", "times": 3})
    );
    assert_eq!(
        Value::Object(child.outputs.clone()),
        json!({"greeting": "hello ada x3 from parent"})
    );
    assert_eq!(child.label("system.correlationId"), Some(e.id.as_str()));
    let trigger = child.trigger.as_ref().expect("trigger");
    assert_eq!(trigger.variables["executionId"], json!(e.id));
    assert_eq!(trigger.variables["namespace"], json!(NS));
    assert_eq!(trigger.variables["flowId"], json!("parent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_transmit_failed_and_wait() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml(
        "failing-child",
        r#"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"#,
    ))
    .await;
    let parent = |id: &str, extra: &str| {
        flow_yaml(
            id,
            &format!(
                r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: failing-child{extra}
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"#
            ),
        )
    };

    let e = kite.run(&parent("transmit", ""), json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["sub"]);
    assert_eq!(e.state_of("sub"), State::Failed);
    assert_eq!(e.out("sub", "state"), json!("FAILED"));

    let e = kite
        .run(
            &parent("no-transmit", "\n    transmitFailed: false"),
            json!({}),
        )
        .await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["sub", "after"]);
    assert_eq!(e.state_of("sub"), State::Success);
    assert_eq!(e.out("sub", "state"), json!("FAILED"));

    let e = kite
        .run(&parent("no-wait", "\n    wait: false"), json!({}))
        .await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["sub", "after"]);
    assert_eq!(e.state_of("sub"), State::Success);
    let child_id = e
        .out("sub", "executionId")
        .as_str()
        .expect("executionId")
        .to_owned();
    let child = kite.wait_end(&child_id).await;
    assert_state(&child, State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_to_a_missing_flow_or_with_bad_inputs_fails() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml("child", CHILD)).await;
    let src = flow_yaml(
        "missing-child",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: does-not-exist
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["sub"]);
    assert_eq!(e.state_of("sub"), State::Failed);

    // `child` requires `name`.
    let src = flow_yaml(
        "bad-inputs",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      times: 2
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("sub"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_ends_the_execution_and_its_subflows_killed() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml(
        "sleepy-child",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"#,
    ))
    .await;
    let flow = kite
        .deploy(&flow_yaml(
            "killed-parent",
            r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: sleepy-child
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
        ))
        .await;
    let parent = kite.create(&flow, json!({})).await;
    let running = kite
        .wait_until(&parent.id, "running its subflow", |e| {
            e.runs_of("sub")
                .first()
                .is_some_and(|r| r.outputs.contains_key("executionId"))
        })
        .await;
    let child_id = running
        .out("sub", "executionId")
        .as_str()
        .expect("child id")
        .to_owned();
    kite.wait_until(&child_id, "sleeping", |c| {
        c.runs_of("nap")
            .first()
            .is_some_and(|r| r.state.current == State::Running)
    })
    .await;

    kite.platform
        .send_event(&parent.id, Event::Kill)
        .await
        .expect("kill");
    let e = kite.wait_end(&parent.id).await;
    assert_state(&e, State::Killed);
    assert_eq!(e.task_ids(), ["sub"]);
    assert_eq!(e.state_of("sub"), State::Killed);
    assert!(
        history(&e.state).contains(&State::Killing),
        "{:?}",
        history(&e.state)
    );

    let child = kite.wait_end(&child_id).await;
    assert_state(&child, State::Killed);
    assert_eq!(child.state_of("nap"), State::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_a_paused_execution() {
    let kite = Kite::start().await;
    let flow = kite
        .deploy(&flow_yaml(
            "kill-paused",
            r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
        ))
        .await;
    let created = kite.create(&flow, json!({})).await;
    kite.wait_until(&created.id, "PAUSED", |e| e.state.current == State::Paused)
        .await;
    kite.platform
        .send_event(&created.id, Event::Kill)
        .await
        .expect("kill");
    let e = kite.wait_end(&created.id).await;
    assert_state(&e, State::Killed);
    assert_eq!(e.task_ids(), ["wait"]);
    assert_eq!(e.state_of("wait"), State::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_of_a_subflow_task_starts_a_new_child() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml(
        "always-failing",
        r#"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"#,
    ))
    .await;
    let e = kite
        .run(
            &flow_yaml(
                "subflow-retry",
                r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: always-failing
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 2
"#,
            ),
            json!({}),
        )
        .await;
    assert_state(&e, State::Failed);
    let sub = e.one("sub");
    assert_eq!(sub.attempts.len(), 2);
    assert_eq!(sub.state.current, State::Failed);
    let children = kite
        .platform
        .repos
        .executions
        .list(NS, Some("always-failing"), 10)
        .await
        .expect("list");
    assert_eq!(children.len(), 2, "one child execution per attempt");
    assert!(
        children
            .iter()
            .all(|c| c.execution.state.current == State::Failed)
    );
    assert!(
        children
            .iter()
            .any(|c| Some(c.execution.id.as_str()) == sub.outputs["executionId"].as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_labels_and_inherit_labels() {
    let kite = Kite::start().await;
    kite.deploy(&flow_yaml("child", CHILD)).await;
    let e = kite
        .run(
            &flow_yaml(
                "subflow-labels",
                r#"
labels:
  team: data
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inheritLabels: true
    inputs:
      name: x
    labels:
      origin: "{{ flow.id }}"
"#,
            ),
            json!({}),
        )
        .await;
    assert_state(&e, State::Success);
    let child_id = e.out("sub", "executionId").as_str().expect("id").to_owned();
    let child = kite.get(&child_id).await.expect("child");
    assert_eq!(child.label("team"), Some("data"));
    assert_eq!(child.label("origin"), Some("subflow-labels"));
    assert_eq!(child.label("system.correlationId"), Some(e.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_with_a_failing_child_fails_at_once() {
    let src = flow_yaml(
        "wait-for-fail",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
    errors:
      - id: loop_error
        type: io.kestra.plugin.core.debug.Return
        format: handled
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("loop"), State::Failed);
    assert_eq!(e.runs_of("boom").len(), 1, "a failing child stops the loop");
    assert_eq!(e.one("boom").attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_reruns_failed_task_runs_in_the_same_execution() {
    let kite = Kite::start().await;
    let first = kite.run(FAILS_FIRST_TIME, json!({})).await;
    assert_state(&first, State::Failed);
    let ids: Vec<&str> = first
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "c", "on_error"]);
    kite.platform
        .send_event(&first.id, kite_engine::executor::Event::Restart)
        .await
        .expect("restart");
    let again = kite
        .wait_until(&first.id, "restarted and ended", |e| {
            e.state.current == State::Success
        })
        .await;
    let ids: Vec<&str> = again
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["a", "c", "d"],
        "the errors branch run is removed, d runs"
    );
    let c = again
        .task_run_list
        .iter()
        .find(|r| r.task_id == "c")
        .expect("c");
    assert_eq!(c.attempts.len(), 2);
    assert_eq!(
        c.id, first.task_run_list[1].id,
        "same task run, new attempt"
    );
    assert_eq!(again.metadata.attempt_number, 2);
    assert!(history(&again.state).contains(&State::Restarted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_creates_a_new_execution_from_a_task_run() {
    let kite = Kite::start().await;
    let src = "id: replayable\nnamespace: kite.tests\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: a\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }}-b\"\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Success);
    let b = first.task_run_list[1].id.clone();
    let replayed = kite
        .platform
        .replay(&first.id, Some(&b))
        .await
        .expect("replay");
    assert_ne!(replayed.id, first.id);
    assert_eq!(replayed.parent_id.as_deref(), Some(first.id.as_str()));
    let done = kite.wait_end(&replayed.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.task_run_list.len(), 2);
    assert_eq!(done.task_run_list[1].outputs["value"], "a-b");
    assert_eq!(
        done.task_run_list[1].attempts.len(),
        2,
        "the replayed run has a new attempt"
    );
    assert_eq!(
        done.task_run_list[0].attempts.len(),
        1,
        "runs before it are kept as they were"
    );
    let scratch = kite.platform.replay(&first.id, None).await.expect("replay");
    let done = kite.wait_end(&scratch.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.original_id.as_deref(), Some(first.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_a_task_run_state_lets_the_execution_go_on() {
    let kite = Kite::start().await;
    let src = "id: forced\nnamespace: kite.tests\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: after\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Failed);
    let boom = first.task_run_list[0].id.clone();
    kite.platform
        .send_event(
            &first.id,
            kite_engine::executor::Event::ChangeTaskRunState {
                task_run_id: boom,
                state: State::Success,
            },
        )
        .await
        .expect("change state");
    let done = kite
        .wait_until(&first.id, "success", |e| e.state.current == State::Success)
        .await;
    let ids: Vec<&str> = done
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(ids, ["boom", "after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_queue_runs_the_second_execution_after_the_first() {
    let kite = Kite::start().await;
    let flow = kite.deploy(&limited("QUEUE")).await;
    let a = kite.create(&flow, json!({})).await;
    kite.wait_until(&a.id, "paused", |e| e.state.current == State::Paused)
        .await;
    let b = kite.create(&flow, json!({})).await;
    let queued = kite
        .wait_until(&b.id, "queued", |e| e.state.current == State::Queued)
        .await;
    assert!(queued.task_run_list.is_empty());
    let a = release_gate(&kite, &a.id).await;
    let b = release_gate(&kite, &b.id).await;
    assert_state(&a, State::Success);
    assert_state(&b, State::Success);
    assert_eq!(
        history(&b.state)[..3],
        [State::Created, State::Queued, State::Running]
    );
    let a_end = a.state.end_date.expect("the first ended");
    let b_start = first_running(&b);
    assert!(
        b_start >= a_end,
        "the second started at {b_start}, before the first ended at {a_end}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_cancel_and_fail_end_the_second_execution() {
    let kite = Kite::start().await;
    for (behavior, expected) in [("CANCEL", State::Cancelled), ("FAIL", State::Failed)] {
        let flow = kite.deploy(&limited(behavior)).await;
        let a = kite.create(&flow, json!({})).await;
        kite.wait_until(&a.id, "paused", |e| e.state.current == State::Paused)
            .await;
        let b = kite.create(&flow, json!({})).await;
        let b = kite.wait_end(&b.id).await;
        assert_state(&b, expected);
        assert!(b.task_run_list.is_empty());
        assert_state(&release_gate(&kite, &a.id).await, State::Success);
        // The slot is free again.
        let c = kite.create(&flow, json!({})).await;
        assert_state(&release_gate(&kite, &c.id).await, State::Success);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exit_ends_the_execution_in_the_requested_state() {
    // `slow` sleeps for an hour: only the Exit can end it, however slow the machine.
    let src = "id: exits\nnamespace: kite.tests\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: slow\n        type: io.kestra.plugin.core.flow.Sleep\n        duration: PT1H\n      - id: stop\n        type: io.kestra.plugin.core.execution.Exit\n        state: WARNING\n  - id: never\n    type: io.kestra.plugin.core.debug.Return\n    format: never\n";
    let e = run(src, json!({})).await;
    assert_state(&e, State::Warning);
    let by = |id: &str| {
        e.task_run_list
            .iter()
            .find(|r| r.task_id == id)
            .map(|r| r.state.current)
    };
    assert_eq!(by("stop"), Some(State::Success));
    assert_eq!(by("slow"), Some(State::Killed));
    assert_eq!(by("never"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resume_task_resumes_another_paused_execution() {
    let kite = Kite::start().await;
    let paused = kite
        .deploy("id: waiting\nnamespace: kite.tests\ntasks:\n  - id: gate\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: approved\n        type: BOOLEAN\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.gate.onResume.approved }}\"\n")
        .await;
    let waiting = kite.create(&paused, json!({})).await;
    kite.wait_until(&waiting.id, "paused", |e| e.state.current == State::Paused)
        .await;
    let resumer = "id: resumer\nnamespace: kite.tests\ninputs:\n  - id: target\n    type: STRING\ntasks:\n  - id: go\n    type: io.kestra.plugin.core.execution.Resume\n    executionId: \"{{ inputs.target }}\"\n    inputs:\n      approved: true\n";
    let r = kite.run(resumer, json!({"target": waiting.id})).await;
    assert_state(&r, State::Success);
    let done = kite.wait_end(&waiting.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.task_run_list[1].outputs["value"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_create_new_execution_chains_executions() {
    let kite = Kite::start().await;
    let src = "id: renew\nnamespace: kite.tests\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    retry:\n      type: constant\n      interval: PT0.1S\n      maxAttempt: 3\n      behavior: CREATE_NEW_EXECUTION\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Retried);
    let second_id = kite_engine::model::ids::derived_id(&[&first.id, "retry"]);
    let second = kite.wait_end(&second_id).await;
    assert_state(&second, State::Retried);
    assert_eq!(second.metadata.attempt_number, 2);
    assert_eq!(second.original_id.as_deref(), Some(first.id.as_str()));
    let third_id = kite_engine::model::ids::derived_id(&[&second_id, "retry"]);
    let third = kite.wait_end(&third_id).await;
    assert_state(&third, State::Failed);
    assert_eq!(third.metadata.attempt_number, 3);
    assert_eq!(third.task_run_list[0].attempts.len(), 1);
}
