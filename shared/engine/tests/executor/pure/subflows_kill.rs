//! The pure decision function: subflows, parents, kill and inline flows.

use super::*;

#[test]
fn pure_parallel_concurrent_limits_running_children() {
    let src = flow_yaml(
        "pure-parallel",
        &format!(
            "tasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: 2\n    tasks:\n{}{}{}{}",
            kv_task("k1"),
            kv_task("k2"),
            kv_task("k3"),
            kv_task("k4")
        ),
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let started: Vec<&str> = jobs(&actions).iter().map(|j| j.task_id.as_str()).collect();
    assert_eq!(started, ["k1", "k2"]);
    assert_eq!(p.running("k").len(), 2);
    assert_eq!(p.exec().one("par").state.current, State::Running);

    let actions = p.finish(&p.run_id("k2"), State::Success);
    let started: Vec<&str> = jobs(&actions).iter().map(|j| j.task_id.as_str()).collect();
    assert_eq!(started, ["k3"]);
    assert_eq!(p.running("k").len(), 2);

    let actions = p.finish(&p.run_id("k1"), State::Success);
    let started: Vec<&str> = jobs(&actions).iter().map(|j| j.task_id.as_str()).collect();
    assert_eq!(started, ["k4"]);
    assert_eq!(p.running("k").len(), 2);

    let actions = p.finish(&p.run_id("k3"), State::Success);
    assert!(jobs(&actions).is_empty());
    assert_eq!(p.exec().one("par").state.current, State::Running);
    let actions = p.finish(&p.run_id("k4"), State::Success);
    assert_eq!(p.exec().one("par").state.current, State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
    let par = p.run_id("par");
    for t in ["k1", "k2", "k3", "k4"] {
        assert_eq!(
            p.exec().one(t).parent_task_run_id.as_deref(),
            Some(par.as_str())
        );
    }
}

#[test]
fn pure_subflow_requests_a_child_and_ends_with_it() {
    let src = flow_yaml(
        "pure-parent",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      parent: "{{ execution.id }}"
      n: 2
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let reqs = subflow_requests(&actions);
    assert_eq!(reqs.len(), 1);
    let req = reqs[0].clone();
    let sub = p.run_id("sub");
    assert_eq!(req.parent_execution_id, EXEC_ID);
    assert_eq!(req.parent_task_run_id, sub);
    assert_eq!(req.namespace, NS);
    assert_eq!(req.flow_id, "child");
    assert!(req.wait);
    assert_eq!(
        Value::Object(req.inputs.clone()),
        json!({"parent": EXEC_ID, "n": 2})
    );
    assert!(
        req.labels
            .iter()
            .any(|l| l.key == "system.correlationId" && l.value == EXEC_ID)
    );
    assert_eq!(req.trigger["executionId"], json!(EXEC_ID));
    assert_eq!(req.trigger["flowId"], json!("pure-parent"));
    assert_eq!(p.exec().one("sub").state.current, State::Running);
    assert_eq!(
        p.exec().one("sub").outputs["executionId"],
        json!(req.execution_id)
    );

    // Same decision, same child id.
    let mut replay = Pure::new(&src);
    let again = replay.apply_as("other", &Event::Start);
    assert_eq!(subflow_requests(&again)[0].execution_id, req.execution_id);

    // A stale child is ignored.
    let actions = p.apply(Event::SubflowEnded {
        task_run_id: sub.clone(),
        execution_id: "someOtherChild".into(),
        state: State::Failed,
        outputs: Map::new(),
        error: None,
    });
    assert!(effects(&actions).is_empty());
    assert_eq!(p.exec().one("sub").state.current, State::Running);

    let actions = p.apply(Event::SubflowEnded {
        task_run_id: sub,
        execution_id: req.execution_id.clone(),
        state: State::Success,
        outputs: obj(json!({"answer": 42})),
        error: None,
    });
    let run = p.exec().one("sub");
    assert_eq!(run.state.current, State::Success);
    assert_eq!(run.outputs["state"], json!("SUCCESS"));
    assert_eq!(run.outputs["outputs"], json!({"answer": 42}));
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_child_notifies_its_parent_when_it_ends() {
    let src = flow_yaml(
        "pure-child",
        r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: done
outputs:
  - id: result
    type: STRING
    value: "{{ outputs.r.value }}"
"#,
    );
    let mut p = Pure::new(&src);
    p.rec.execution.trigger = Some(ExecutionTrigger {
        id: "subflow".into(),
        kind: "subflow".into(),
        variables: obj(json!({
            "executionId": "parentExec",
            "namespace": NS,
            "flowId": "parent",
            "flowRevision": 1,
            "parentExecutionId": "parentExec",
            "parentTaskRunId": "parentRun",
        })),
    });
    let actions = p.start();
    let notify: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::NotifyParent { .. }))
        .collect();
    assert_eq!(
        notify,
        [&Action::NotifyParent {
            execution_id: "parentExec".into(),
            task_run_id: "parentRun".into(),
            state: State::Success,
            outputs: obj(json!({"result": "done"})),
            error: None,
        }]
    );
    assert_eq!(ended(&actions), Some(State::Success));
}

#[test]
fn pure_kill_kills_running_task_runs() {
    let mut p = Pure::new(&flow_yaml("pure-kill", TWO_WORKER_TASKS));
    p.start();
    let k1 = p.run_id("k1");
    p.now = t0() + ms(10);
    let actions = p.apply(Event::Kill);
    assert!(
        actions.contains(&Action::KillTask {
            task_run_id: k1.clone()
        }),
        "{actions:?}"
    );
    assert_eq!(ended(&actions), Some(State::Killed));
    assert_eq!(p.exec().state.current, State::Killed);
    assert_eq!(
        history(&p.exec().state),
        [
            State::Created,
            State::Running,
            State::Killing,
            State::Killed
        ]
    );
    assert_eq!(p.exec().one("k1").state.current, State::Killed);
    assert_eq!(p.exec().task_ids(), ["k1"]);
    // The worker's result arriving after the kill changes nothing.
    let before = p.exec().clone();
    let actions = p.apply(Event::WorkerResult(WorkerResult {
        task_run_id: k1,
        attempt: 0,
        state: State::Success,
        outputs: Map::new(),
        error_logs: Vec::new(),
    }));
    assert_eq!(p.exec(), &before);
    assert!(effects(&actions).is_empty());
}

#[test]
fn pure_kill_cascades_to_subflow_executions() {
    let src = flow_yaml(
        "pure-kill-sub",
        r#"
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    let child = subflow_requests(&actions)[0].execution_id.clone();
    let actions = p.apply(Event::Kill);
    assert!(
        actions.contains(&Action::KillExecution {
            execution_id: child
        }),
        "{actions:?}"
    );
    assert_eq!(p.exec().one("sub").state.current, State::Killed);
    assert_eq!(ended(&actions), Some(State::Killed));
}

#[test]
fn pure_inline_flow_ends_in_one_decision_with_ended_last() {
    let src = flow_yaml(
        "pure-inline",
        r#"
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "{{ flow.id }}"
"#,
    );
    let mut p = Pure::new(&src);
    let actions = p.start();
    assert_eq!(p.exec().state.current, State::Success);
    assert_eq!(p.exec().one("b").outputs["value"], json!("pure-inline"));
    assert!(jobs(&actions).is_empty(), "Log and Return run inline");
    let logs: Vec<&LogEntry> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Logs { entries } => Some(entries.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.task_id.as_deref() == Some("a") && l.message == "hello")
    );
    assert!(
        logs.iter()
            .any(|l| l.message.contains("Flow completed with state SUCCESS"))
    );
    assert!(
        matches!(
            actions.last(),
            Some(Action::Ended {
                state: State::Success
            })
        ),
        "Ended must be the last action (after the logs it announces): {:?}",
        actions
            .iter()
            .map(std::mem::discriminant)
            .collect::<Vec<_>>()
    );
}

#[test]
fn pure_a_retrying_child_keeps_its_parent_running() {
    let src = flow_yaml(
        "pure-retry-parent",
        r#"
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: k
        type: io.kestra.plugin.core.kv.Set
        key: k
        value: v
        retry:
          type: constant
          interval: PT1S
          maxAttempt: 2
      - id: other
        type: io.kestra.plugin.core.kv.Set
        key: other
        value: v
  - id: next
    type: io.kestra.plugin.core.kv.Set
    key: next
    value: v
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: failed
"#,
    );
    let mut p = Pure::new(&src);
    p.start();
    p.finish(&p.run_id("other"), State::Success);
    let (_, at) = fail_k(&mut p);
    assert_eq!(at, Some(t0() + ms(1000)));
    assert_eq!(p.exec().one("k").state.current, State::Retrying);
    assert_eq!(
        p.exec().one("par").state.current,
        State::Running,
        "Parallel concluded during a retry"
    );
    assert_eq!(
        p.exec().task_ids(),
        ["par", "k", "other"],
        "nothing else may start during the retry"
    );
    fire_retry(&mut p, t0() + ms(1000), 1);
    let actions = p.finish(&p.run_id("k"), State::Success);
    assert_eq!(p.exec().one("par").state.current, State::Success);
    assert_eq!(
        jobs(&actions)
            .iter()
            .map(|j| j.task_id.as_str())
            .collect::<Vec<_>>(),
        ["next"]
    );
}

#[test]
fn pure_kill_during_a_retry_wait() {
    let mut p = Pure::new(&retry_source(
        "      type: constant\n      interval: PT1S\n      maxAttempt: 3",
    ));
    p.start();
    let k = p.run_id("k");
    fail_k(&mut p);
    let actions = p.apply(Event::Kill);
    assert_eq!(ended(&actions), Some(State::Killed));
    assert_eq!(p.exec().one("k").state.current, State::Killed);
    p.now = t0() + ms(1000);
    let actions = p.apply(Event::Timer(TimerKind::Retry { task_run_id: k }));
    assert!(effects(&actions).is_empty(), "{actions:?}");
    assert_eq!(p.exec().one("k").attempts.len(), 1);
    assert_eq!(p.exec().state.current, State::Killed);
}
