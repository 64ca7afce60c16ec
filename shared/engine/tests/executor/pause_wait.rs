//! Pause, Sleep, WaitFor and scheduled starts, end to end.

use super::*;

// ---------------------------------------------------------------------------------------
// Pause, Sleep, WaitFor
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_with_delay_resumes_by_itself() {
    let src = flow_yaml(
        "pause-delay",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: resumed
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["wait", "after"]);
    assert_eq!(
        history(&e.state),
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
    let w = e.one("wait");
    assert_eq!(
        history(&w.state),
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
    let paused_at = w.state.histories[2].date;
    let resumed_at = w.state.histories[3].date;
    assert!(
        resumed_at - paused_at >= chrono::Duration::milliseconds(100),
        "{paused_at} -> {resumed_at}"
    );
    assert!(e.one("after").state.start_date.expect("start") >= resumed_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_with_timeout_fails() {
    let src = flow_yaml(
        "pause-timeout",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.task_ids(), ["wait"]);
    let w = e.one("wait");
    assert_eq!(w.state.current, State::Failed);
    assert!(history(&w.state).contains(&State::Paused));
    assert!(history(&e.state).contains(&State::Paused));
    let paused_at = w
        .state
        .histories
        .iter()
        .find(|h| h.state == State::Paused)
        .expect("paused")
        .date;
    assert!(w.state.end_date.expect("end") - paused_at >= chrono::Duration::milliseconds(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_pause_resumes_with_on_resume_inputs() {
    let src = flow_yaml(
        "pause-manual",
        r#"
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
      - id: amount
        type: INT
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.approve.onResume.reason }} x{{ outputs.approve.onResume.amount }}"
"#,
    );
    let kite = Kite::start().await;
    let flow = kite.deploy(&src).await;
    let created = kite.create(&flow, json!({})).await;
    let paused = kite
        .wait_until(&created.id, "PAUSED", |e| e.state.current == State::Paused)
        .await;
    assert_eq!(paused.task_ids(), ["approve"]);
    assert_eq!(paused.state_of("approve"), State::Paused);

    kite.platform
        .send_event(
            &created.id,
            Event::Resume {
                inputs: obj(json!({"reason": "lgtm", "amount": "3"})),
            },
        )
        .await
        .expect("resume");
    let e = kite.wait_end(&created.id).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["approve", "after"]);
    assert_eq!(
        e.out("approve", "onResume"),
        json!({"reason": "lgtm", "amount": 3})
    );
    assert_eq!(e.out("after", "value"), json!("lgtm x3"));
    assert_eq!(
        history(&e.state),
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sleep_waits_its_duration() {
    let src = flow_yaml(
        "sleep",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: awake
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["nap", "after"]);
    let nap = e.one("nap");
    assert_eq!(nap.state.current, State::Success);
    assert_eq!(nap.attempts.len(), 1);
    let took = nap.state.end_date.expect("end") - nap.state.start_date.expect("start");
    assert!(
        took >= chrono::Duration::milliseconds(100),
        "slept only {took}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_loops_until_the_condition_holds() {
    let src = flow_yaml(
        "wait-for",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.count.values.n == '3' }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: count
        type: io.kestra.plugin.core.output.OutputValues
        values:
          n: "{{ outputs.loop.iterationCount + 1 }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.loop.iterationCount }}"
"#,
    );
    let e = run(&src, json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_ids(), ["loop", "count", "count", "count", "after"]);
    assert_eq!(e.out("loop", "iterationCount"), json!(3));
    let counts: Vec<&Value> = e
        .runs_of("count")
        .iter()
        .map(|r| &r.outputs["values"]["n"])
        .collect();
    assert_eq!(counts, [&json!("1"), &json!("2"), &json!("3")]);
    let iterations: Vec<Option<u32>> = e.runs_of("count").iter().map(|r| r.iteration).collect();
    assert_eq!(iterations, [Some(0), Some(1), Some(2)]);
    assert_eq!(e.out("after", "value"), json!("3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_max_iterations() {
    let body = |id: &str, fail: bool| {
        flow_yaml(
            id,
            &format!(
                r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{{{ outputs.count.values.n == 'never' }}}}"
    failOnMaxReached: {fail}
    checkFrequency:
      maxIterations: 3
      interval: PT0.05S
    tasks:
      - id: count
        type: io.kestra.plugin.core.output.OutputValues
        values:
          n: "{{{{ outputs.loop.iterationCount }}}}"
"#
            ),
        )
    };
    let kite = Kite::start().await;
    let e = kite.run(&body("wait-for-max-fail", true), json!({})).await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("loop"), State::Failed);
    assert_eq!(e.runs_of("count").len(), 3);

    let e = kite.run(&body("wait-for-max-ok", false), json!({})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.state_of("loop"), State::Success);
    assert_eq!(e.runs_of("count").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_runs_its_errors_branch() {
    let src = flow_yaml(
        "wait-for-errors",
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
    assert_eq!(e.task_ids(), ["loop", "boom", "loop_error"]);
    assert_eq!(e.state_of("loop_error"), State::Success);
}

/// On a manual clock: the scheduled start waits on the timer queue until the clock reaches
/// its date, however long the test takes in real time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_execution_waits_for_its_date() {
    let clock = ManualClock::new(kite_ports::contract::start_time());
    let kite = Setup::new()
        .clock(Arc::new(clock.clone()))
        .wait_limits(WAIT_LIMIT, LOG_WAIT_LIMIT)
        .start()
        .await;
    let flow = kite
        .deploy("id: later\nnamespace: kite.tests\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: now\n")
        .await;
    let at = clock.now() + chrono::Duration::minutes(5);
    let e = kite
        .platform
        .create_execution(
            &flow,
            Map::new(),
            CreateOptions {
                schedule_date: Some(at),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    // Creation armed the scheduled start (a timer delayed to `at`) and sent the executor
    // nothing: no start can happen until the clock moves.
    let p = &kite.platform;
    let pending = |name: &str| {
        let name = name.to_owned();
        async move { p.queue.approximate_len(&name).await.expect("len") }
    };
    assert_eq!(pending(&p.names.timers).await, 1, "the scheduled start");
    assert_eq!(pending(&p.names.executor).await, 0, "no start event");
    let waiting = kite.get(&e.id).await.expect("stored");
    assert_eq!(waiting.state.current, State::Created);
    assert!(waiting.task_run_list.is_empty());
    clock.advance(Duration::from_secs(5 * 60));
    let done = kite.wait_end(&e.id).await;
    assert_state(&done, State::Success);
    assert_eq!(done.state.histories[1].state, State::Running);
    assert!(
        done.state.histories[1].date >= at,
        "started at {}, scheduled for {at}",
        done.state.histories[1].date
    );
}
