//! The pure decision function: retries, Pause, Sleep and WaitFor timers.

use super::*;

#[test]
fn pure_retry_constant_timers_and_attempts() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT0.1S\n      maxAttempt: 3",
    ));
    p.start();
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(100)));
    assert_eq!(p.exec().one("k").state.current, State::Retrying);
    assert_eq!(
        p.exec().state.current,
        State::Running,
        "the execution waits for the retry"
    );
    fire_retry(&mut p, t0() + ms(100), 1);
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(200)));
    fire_retry(&mut p, t0() + ms(200), 2);
    let (actions, at) = fail_k(&mut p);
    assert_eq!(at, None, "maxAttempt 3 reached");
    let run = p.exec().one("k");
    assert_eq!(run.state.current, State::Failed);
    assert_eq!(run.attempts.len(), 3);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_retry_exponential_delays_grow_and_are_capped() {
    let mut p = Pure::new(&retry_source(
        "      type: exponential\n      interval: PT0.1S\n      maxInterval: PT0.3S\n      delayFactor: 2\n      maxAttempt: 4",
    ));
    p.start();
    let mut now = t0();
    let mut delays = Vec::new();
    for attempt in 1..4 {
        let (_, at) = fail_k(&mut p);
        let at = at.expect("a retry");
        delays.push((at - now).num_milliseconds());
        now = at;
        fire_retry(&mut p, at, attempt);
    }
    assert_eq!(delays, [100, 200, 300]);
    let (actions, at) = fail_k(&mut p);
    assert_eq!(at, None);
    assert_eq!(p.exec().one("k").attempts.len(), 4);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_retry_max_duration_stops_retrying() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT0.1S\n      maxDuration: PT0.25S",
    ));
    p.start();
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(100)));
    fire_retry(&mut p, t0() + ms(100), 1);
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(200)));
    fire_retry(&mut p, t0() + ms(200), 2);
    let (actions, at) = fail_k(&mut p);
    assert_eq!(
        at, None,
        "a retry at +300ms would exceed maxDuration PT0.25S"
    );
    assert_eq!(p.exec().one("k").attempts.len(), 3);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_late_result_of_a_previous_attempt_is_ignored() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT0.1S\n      maxAttempt: 3",
    ));
    p.start();
    let k = p.run_id("k");
    let (_, at) = fail_k(&mut p);
    fire_retry(&mut p, at.expect("retry"), 1);
    let before = p.exec().clone();
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k.clone(),
        attempt: 0,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(
        p.exec(),
        &before,
        "a result for attempt 0 arrived during attempt 1"
    );
    assert!(effects(&actions).is_empty());
    // A retry timer fired twice does not start a third attempt.
    let actions = p.apply(Event::Timer(TimerKind::Retry { task_run_id: k }));
    assert!(jobs(&actions).is_empty());
    assert_eq!(p.exec().one("k").attempts.len(), 2);
}

#[test]
fn pure_pause_delay_arms_a_timer_and_resumes() {
    let src = flow_yaml(
        "pure-pause",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.5S
  - id: after
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: v
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let w = p.run_id("wait");
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(500),
            TimerKind::PauseDelay {
                task_run_id: w.clone()
            }
        )]
    );
    assert_eq!(p.exec().one("wait").state.current, State::Paused);
    assert_eq!(p.exec().state.current, State::Paused);
    assert!(jobs(&actions).is_empty());
    assert_eq!(ended(&actions), None);

    p.now = t0() + ms(500);
    let actions = p.apply(Event::Timer(TimerKind::PauseDelay {
        task_run_id: w.clone(),
    }));
    assert_eq!(p.exec().one("wait").state.current, State::Success);
    assert_eq!(p.exec().state.current, State::Running);
    assert_eq!(jobs(&actions).len(), 1);
    assert_eq!(jobs(&actions)[0].task_id, "after");
    // The same timer again changes nothing.
    let actions = p.apply(Event::Timer(TimerKind::PauseDelay { task_run_id: w }));
    assert!(effects(&actions).is_empty());
    assert_eq!(p.exec().task_ids(), ["wait", "after"]);
}

#[test]
fn pure_pause_timeout_fails_unless_resumed_first() {
    let src = flow_yaml(
        "pure-pause-timeout",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1S
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let w = p.run_id("wait");
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(1000),
            TimerKind::PauseTimeout {
                task_run_id: w.clone()
            }
        )]
    );
    let snapshot = p.rec.clone();

    p.now = t0() + ms(1000);
    let actions = p.apply(Event::Timer(TimerKind::PauseTimeout {
        task_run_id: w.clone(),
    }));
    assert_eq!(p.exec().one("wait").state.current, State::Failed);
    assert_eq!(ended(&actions), Some(State::Failed));

    // Resumed before the timeout: the late timeout is ignored.
    p.rec = snapshot;
    p.now = t0() + ms(200);
    let actions = p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(ended(&actions), Some(State::Success));
    p.now = t0() + ms(1000);
    let actions = p.apply(Event::Timer(TimerKind::PauseTimeout { task_run_id: w }));
    assert!(effects(&actions).is_empty());
    assert_eq!(p.exec().state.current, State::Success);
}

#[test]
fn pure_resume_with_invalid_on_resume_inputs_stays_paused() {
    let src = flow_yaml(
        "pure-pause-inputs",
        r#"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    let actions = p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(
        p.exec().one("wait").state.current,
        State::Paused,
        "missing required onResume input"
    );
    assert_eq!(p.exec().state.current, State::Paused);
    assert_eq!(ended(&actions), None);
    let actions = p.apply(Event::Resume {
        inputs: obj(json!({"approved": true})),
    });
    assert_eq!(ended(&actions), Some(State::Success));
    assert_eq!(
        p.exec().one("wait").outputs["onResume"],
        json!({"approved": true})
    );
}

#[test]
fn pure_sleep_arms_a_timer_for_its_duration() {
    let src = flow_yaml(
        "pure-sleep",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let nap = p.run_id("nap");
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(2000),
            TimerKind::Sleep {
                task_run_id: nap.clone()
            }
        )]
    );
    assert!(jobs(&actions).is_empty(), "Sleep needs no worker");
    assert_eq!(p.exec().one("nap").state.current, State::Running);
    p.now = t0() + ms(2000);
    let actions = p.apply(Event::Timer(TimerKind::Sleep { task_run_id: nap }));
    assert_eq!(p.exec().one("nap").state.current, State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_wait_for_arms_the_interval_timer_between_iterations() {
    let src = flow_yaml(
        "pure-wait-for",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.loop.iterationCount >= 2 }}"
    checkFrequency:
      interval: PT3S
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: k
        value: v
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    assert_eq!(jobs(&actions).len(), 1);
    let loop_id = p.run_id("loop");
    let first = p.running("k")[0].id.clone();
    let actions = p.finish(&first, State::Success);
    assert_eq!(
        timers(&actions),
        [(
            t0() + ms(3000),
            TimerKind::WaitFor {
                task_run_id: loop_id.clone()
            }
        )]
    );
    assert!(
        jobs(&actions).is_empty(),
        "the next iteration waits for the interval"
    );
    assert_eq!(p.exec().one("loop").outputs["iterationCount"], json!(1));

    p.now = t0() + ms(3000);
    let actions = p.apply(Event::Timer(TimerKind::WaitFor {
        task_run_id: loop_id,
    }));
    assert_eq!(jobs(&actions).len(), 1);
    let second = p.running("k")[0];
    assert_eq!(second.iteration, Some(1));
    let second = second.id.clone();
    assert_ne!(second, first);
    let actions = p.finish(&second, State::Success);
    assert_eq!(p.exec().one("loop").outputs["iterationCount"], json!(2));
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_resume_resumes_the_first_paused_task_run_only() {
    let src = flow_yaml(
        "pure-two-pauses",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p1
        type: io.kestra.plugin.core.flow.Pause
      - id: p2
        type: io.kestra.plugin.core.flow.Pause
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    assert_eq!(p.exec().state.current, State::Paused);
    p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(p.exec().one("p1").state.current, State::Success);
    assert_eq!(p.exec().one("p2").state.current, State::Paused);
    assert_eq!(p.exec().state.current, State::Paused);
    let actions = p.apply(Event::Resume { inputs: Map::new() });
    assert_eq!(p.exec().one("p2").state.current, State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_wait_for_max_duration() {
    let src = flow_yaml(
        "pure-wait-for-duration",
        r#"
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    failOnMaxReached: true
    checkFrequency:
      interval: PT0.6S
      maxDuration: PT1S
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: k
        value: v
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    let loop_id = p.run_id("loop");
    let mut iterations = 0;
    loop {
        iterations += 1;
        let id = p.running("k")[0].id.clone();
        let actions = p.finish(&id, State::Success);
        if let Some(state) = ended(&actions) {
            assert_eq!(state, State::Failed);
            break;
        }
        let ts = timers(&actions);
        assert_eq!(
            ts,
            [(
                p.now + ms(600),
                TimerKind::WaitFor {
                    task_run_id: loop_id.clone()
                }
            )]
        );
        p.now = ts[0].0;
        p.apply(Event::Timer(TimerKind::WaitFor {
            task_run_id: loop_id.clone(),
        }));
        assert!(iterations < 10, "WaitFor never reached maxDuration");
    }
    // Iterations end at +0s, +0.6s and +1.2s: the third is past maxDuration.
    assert_eq!(iterations, 3);
    assert_eq!(p.exec().one("loop").state.current, State::Failed);
}
