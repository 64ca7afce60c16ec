//! The pure decision function: starting, worker results, redelivered and stale events, ids.

use super::*;

#[test]
fn pure_start_dispatches_the_first_worker_task_only() {
    let mut p = Pure::new(&flow_yaml("pure-seq", TWO_WORKER_TASKS));
    let actions = p.start();
    assert_eq!(p.exec().state.current, State::Running);
    assert_eq!(p.exec().task_ids(), ["k1"]);
    let js = jobs(&actions);
    assert_eq!(js.len(), 1);
    let j = js[0];
    let k1 = p.run_id("k1");
    assert_eq!(j.task_run_id, k1);
    assert_eq!(j.task_id, "k1");
    assert_eq!(j.attempt, 0);
    assert_eq!(j.execution_id, EXEC_ID);
    assert_eq!(j.namespace, NS);
    assert_eq!(j.flow_id, "pure-seq");
    assert_eq!(j.flow_revision, 1);
    assert_eq!(j.vars["taskrun"]["id"], json!(k1));
    assert_eq!(j.vars["execution"]["id"], json!(EXEC_ID));
    assert_eq!(j.vars["task"]["id"], json!("k1"));
    let run = p.exec().one("k1");
    assert_eq!(run.state.current, State::Running);
    assert_eq!(run.attempts.len(), 1);
    assert_eq!(run.attempts[0].state.current, State::Running);
    assert_eq!(ended(&actions), None);

    let actions = p.finish(&k1, State::Success);
    assert_eq!(p.exec().one("k1").state.current, State::Success);
    assert_eq!(p.exec().one("k1").attempts[0].state.current, State::Success);
    let js = jobs(&actions);
    assert_eq!(js.len(), 1);
    assert_eq!(js[0].task_id, "k2");
    assert_eq!(ended(&actions), None);

    let k2 = p.run_id("k2");
    let actions = p.finish(&k2, State::Success);
    assert!(jobs(&actions).is_empty());
    assert_eq!(ended(&actions), Some(State::Success));
    assert_eq!(p.exec().state.current, State::Success);
    assert_eq!(p.exec().state.end_date, Some(t0()));
}

#[test]
fn pure_worker_outputs_are_stored_on_the_task_run() {
    let mut p = Pure::new(&flow_yaml("pure-outputs", TWO_WORKER_TASKS));
    p.start();
    let k1 = p.run_id("k1");
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k1.clone(),
        attempt: 0,
        state: State::Success,
        outputs: obj(json!({"value": 42})),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec().one("k1").outputs["value"], json!(42));
    // The next job sees it in its context.
    assert_eq!(jobs(&actions)[0].vars["outputs"]["k1"]["value"], json!(42));
}

#[test]
fn pure_an_event_redelivered_after_a_later_one_resends_its_actions() {
    let mut p = Pure::new(&flow_yaml("pure-late", TWO_WORKER_TASKS));
    let start = p.apply_as("start-1", &Event::Start);
    assert_eq!(jobs(&start).len(), 1, "k1 dispatched");
    let k1 = p.run_id("k1");
    let ev = p.result_event(&k1, State::Success);
    let result = p.apply_as("result-1", &ev);
    assert_eq!(jobs(&result).len(), 1, "k2 dispatched");
    let after = p.rec.clone();
    // The start event's handler stopped before its sends and the queue hands it over again
    // after the later event: its actions are sent again, but not the dispatch of k1, whose
    // result came back (so it was sent); nothing else changes.
    let again = p.apply_as("start-1", &Event::Start);
    assert_eq!(again.len(), start.len() - 1, "{again:?}");
    assert!(jobs(&again).is_empty());
    assert_eq!(p.rec, after);
}

#[test]
fn pure_an_earlier_event_redelivered_resends_a_running_job_with_its_context() {
    let mut p = Pure::new(&flow_yaml("pure-ring", TWO_WORKER_TASKS));
    let start = p.apply_as("start-1", &Event::Start);
    assert_eq!(jobs(&start).len(), 1);
    // A later event that changes nothing moves the start's outbox into the ring, where
    // jobs are kept without their context.
    p.apply_as("later-1", &Event::Unqueue);
    let ring = serde_json::to_string(&p.rec.internal.earlier).unwrap();
    assert!(!ring.contains("\"outputs\""), "{ring}");
    // k1 still runs: delivered again, the start sends the same job, context included.
    let again = p.apply_as("start-1", &Event::Start);
    assert_eq!(again, start);
}

#[test]
fn pure_a_second_start_under_another_id_changes_nothing() {
    // A handler that finds the execution it creates already there sends its start again.
    let mut p = Pure::new(&flow_yaml("pure-restart", TWO_WORKER_TASKS));
    let first = p.apply_as("start-1", &Event::Start);
    assert_eq!(jobs(&first).len(), 1);
    let after = p.rec.execution.clone();
    let again = p.apply_as("start-2", &Event::Start);
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(p.rec.execution, after);
}

#[test]
fn pure_same_event_twice_is_idempotent() {
    let mut p = Pure::new(&flow_yaml("pure-idem", TWO_WORKER_TASKS));
    let first = p.apply_as("start-1", &Event::Start);
    let after_first = p.rec.clone();
    let again = p.apply_as("start-1", &Event::Start);
    assert_eq!(first, again, "a redelivered event yields the same actions");
    assert_eq!(p.rec, after_first, "and leaves the record unchanged");

    let k1 = p.run_id("k1");
    let ev = p.result_event(&k1, State::Success);
    let first = p.apply_as("result-1", &ev);
    let after_first = p.rec.clone();
    let again = p.apply_as("result-1", &ev);
    assert_eq!(first, again);
    assert_eq!(p.rec, after_first);
    assert_eq!(p.exec().task_ids(), ["k1", "k2"], "no second k2 run");
}

#[test]
fn pure_late_and_duplicate_worker_results_are_ignored() {
    let mut p = Pure::new(&flow_yaml("pure-late", TWO_WORKER_TASKS));
    p.start();
    let k1 = p.run_id("k1");
    let ev = p.result_event(&k1, State::Success);
    p.apply(ev.clone());
    let before = p.exec().clone();
    // The same result delivered again under another event id.
    let actions = p.apply(ev);
    assert_eq!(p.exec(), &before, "duplicate result changed the execution");
    assert!(
        effects(&actions).is_empty(),
        "duplicate result produced {actions:?}"
    );
    // A contradicting late result for the finished attempt.
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k1.clone(),
        attempt: 0,
        state: State::Failed,
        outputs: Map::new(),
        error_logs: vec!["late".into()],
    }));
    assert_eq!(p.exec(), &before);
    assert!(effects(&actions).is_empty());
    // A result for an attempt that does not exist yet.
    let k2 = p.run_id("k2");
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k2.clone(),
        attempt: 3,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec().one("k2").state.current, State::Running);
    assert!(effects(&actions).is_empty());
    // A result for an unknown task run.
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: "unknown".into(),
        attempt: 0,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec().one("k2").state.current, State::Running);
    assert!(effects(&actions).is_empty());
}

#[test]
fn pure_ids_are_stable_across_replays() {
    let src = flow_yaml(
        "pure-ids",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.kv.Set
        key: a
        value: v
      - id: b
        type: io.kestra.plugin.core.kv.Set
        key: b
        value: v
"#,
    );
    let mut p1 = Pure::new(&src);
    let mut p2 = Pure::new(&src);
    let a1 = p1.apply_as("one", &Event::Start);
    let a2 = p2.apply_as("another-id", &Event::Start);
    let ids = |p: &Pure| -> Vec<String> {
        p.exec()
            .task_run_list
            .iter()
            .map(|r| r.id.clone())
            .collect()
    };
    assert_eq!(
        ids(&p1),
        ids(&p2),
        "same record + event -> same task run ids"
    );
    assert_eq!(p1.exec(), p2.exec());
    assert_eq!(jobs(&a1), jobs(&a2));
    assert_eq!(ids(&p1).len(), 3);

    // Replaying the next event on a copy of the record yields the same decision.
    let snapshot = p1.rec.clone();
    let a = p1.run_id("a");
    let ev = p1.result_event(&a, State::Success);
    let out1 = p1.apply_as("r", &ev);
    p1.rec = snapshot;
    let out2 = p1.apply_as("r-redelivered-with-new-id", &ev);
    assert_eq!(effects(&out1), effects(&out2));
}

#[test]
fn pure_events_after_the_end_change_nothing() {
    let mut p = Pure::new(&flow_yaml(
        "pure-ended",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: x
"#,
    ));
    let actions = p.start();
    assert_eq!(ended(&actions), Some(State::Success));
    let before = p.exec().clone();
    for ev in [
        Event::Start,
        Event::Kill,
        Event::Resume { inputs: Map::new() },
    ] {
        let actions = p.apply(ev);
        assert!(effects(&actions).is_empty(), "{actions:?}");
        assert_eq!(p.exec(), &before);
    }
}

/// Decides a flow twice, once keeping the record in memory and once round-tripping it
/// through JSON (as the repository stores it) before every event: same results.
#[test]
fn pure_record_survives_json_round_trips_between_events() {
    let src = flow_yaml(
        "pure-roundtrip",
        r#"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: 0
    tasks:
      - id: cond
        type: io.kestra.plugin.core.flow.If
        condition: "{{ taskrun.value == 'a' }}"
        then:
          - id: k
            type: io.kestra.plugin.core.kv.Set
            key: "k-{{ taskrun.value }}"
            value: v
        else:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
            delay: PT1S
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.loop.iterationCount >= 2 }}"
    checkFrequency:
      interval: PT1S
    tasks:
      - id: w
        type: io.kestra.plugin.core.kv.Set
        key: w
        value: v
"#,
    );
    let mut plain = Pure::new(&src);
    let mut stored = Pure::new(&src);
    let roundtrip = |rec: &Record| -> Record {
        let json = serde_json::to_string(rec).expect("serialize");
        serde_json::from_str(&json).expect("deserialize")
    };
    let step = |ev: Event, at: DateTime<Utc>, plain: &mut Pure, stored: &mut Pure| {
        plain.now = at;
        stored.now = at;
        stored.rec = roundtrip(&stored.rec);
        let a1 = plain.apply(ev.clone());
        let a2 = stored.apply(ev);
        assert_eq!(a1, a2);
        assert_eq!(plain.rec, stored.rec);
        a1
    };
    step(Event::Start, t0(), &mut plain, &mut stored);
    let k = plain.run_id("k");
    let wait = plain.run_id("wait");
    let ev = plain.result_event(&k, State::Success);
    step(ev, t0() + ms(10), &mut plain, &mut stored);
    step(
        Event::Timer(TimerKind::PauseDelay { task_run_id: wait }),
        t0() + ms(1000),
        &mut plain,
        &mut stored,
    );
    let loop_id = plain.run_id("loop");
    for i in 0..2 {
        let w = plain.running("w")[0].id.clone();
        let ev = plain.result_event(&w, State::Success);
        let at = plain.now + ms(10);
        let actions = step(ev, at, &mut plain, &mut stored);
        if i == 0 {
            let at = plain.now + ms(1000);
            step(
                Event::Timer(TimerKind::WaitFor {
                    task_run_id: loop_id.clone(),
                }),
                at,
                &mut plain,
                &mut stored,
            );
        } else {
            assert_eq!(ended(&actions), Some(State::Success));
        }
    }
    assert_eq!(stored.exec().state.current, State::Success);
}
