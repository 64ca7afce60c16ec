//! The pure decision function: Parallel, ForEach and Dag.

use super::*;

#[test]
fn pure_parallel_waits_for_running_siblings_before_failing() {
    let src = flow_yaml(
        "pure-parallel-fail",
        &format!(
            "tasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{}{}",
            kv_task("k1"),
            kv_task("k2"),
        ),
    );
    let mut p = Pure::new(&src);
    p.start();
    p.finish(&p.run_id("k1"), State::Failed);
    assert_eq!(
        p.exec().one("par").state.current,
        State::Running,
        "k2 is still running"
    );
    assert_eq!(p.exec().state.current, State::Running);
    let actions = p.finish(&p.run_id("k2"), State::Success);
    assert_eq!(p.exec().one("par").state.current, State::Failed);
    assert_eq!(ended(&actions), Some(State::Failed));
}

#[test]
fn pure_foreach_default_concurrency_is_one_value_at_a_time() {
    let mut p = Pure::new(&foreach_source(""));
    let actions = p.start();
    assert_eq!(job_values(&p, &actions), ["a"]);
    assert_eq!(jobs(&actions)[0].vars["taskrun"]["value"], json!("a"));
    for (done, next) in [("a", Some("b")), ("b", Some("c")), ("c", None)] {
        let id = p
            .running("k")
            .iter()
            .find(|r| r.value.as_deref() == Some(done))
            .expect("running")
            .id
            .clone();
        let actions = p.finish(&id, State::Success);
        assert_eq!(
            job_values(&p, &actions),
            next.into_iter().map(str::to_owned).collect::<Vec<_>>()
        );
        assert!(p.running("k").len() <= 1);
    }
    assert_eq!(p.exec().state.current, State::Success);
    assert_eq!(p.exec().one("each").state.current, State::Success);
}

#[test]
fn pure_foreach_concurrency_limit_zero_starts_every_value() {
    let mut p = Pure::new(&foreach_source("    concurrencyLimit: 0"));
    let actions = p.start();
    assert_eq!(job_values(&p, &actions), ["a", "b", "c"]);
    assert_eq!(p.running("k").len(), 3);
}

#[test]
fn pure_foreach_concurrency_limit_two() {
    let mut p = Pure::new(&foreach_source("    concurrencyLimit: 2"));
    let actions = p.start();
    assert_eq!(job_values(&p, &actions), ["a", "b"]);
    let b = p
        .running("k")
        .iter()
        .find(|r| r.value.as_deref() == Some("b"))
        .expect("b")
        .id
        .clone();
    let actions = p.finish(&b, State::Success);
    assert_eq!(job_values(&p, &actions), ["c"]);
    assert_eq!(p.running("k").len(), 2);
}

#[test]
fn pure_dag_starts_tasks_when_their_dependencies_ended() {
    let src = flow_yaml(
        "pure-dag",
        r#"
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: d
          type: io.kestra.plugin.core.kv.Set
          key: d
          value: v
        dependsOn: [b, c]
      - task:
          id: b
          type: io.kestra.plugin.core.kv.Set
          key: b
          value: v
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.kv.Set
          key: c
          value: v
        dependsOn: [a]
      - task:
          id: a
          type: io.kestra.plugin.core.kv.Set
          key: a
          value: v
"#,
    );
    let mut p = Pure::new(&src);
    let names = |actions: &[Action]| -> Vec<String> {
        jobs(actions).iter().map(|j| j.task_id.clone()).collect()
    };
    let actions = p.start();
    assert_eq!(names(&actions), ["a"]);
    let actions = p.finish(&p.run_id("a"), State::Success);
    assert_eq!(names(&actions), ["b", "c"]);
    let actions = p.finish(&p.run_id("c"), State::Success);
    assert!(names(&actions).is_empty(), "d still waits for b");
    let actions = p.finish(&p.run_id("b"), State::Success);
    assert_eq!(names(&actions), ["d"]);
    let actions = p.finish(&p.run_id("d"), State::Success);
    assert_eq!(ended(&actions), Some(State::Success));
}
