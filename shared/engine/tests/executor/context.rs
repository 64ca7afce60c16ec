//! The expression context, secrets, inputs, large payloads, logs and working-directory caches, end to end.

use super::*;

// ---------------------------------------------------------------------------------------
// Expression context, inputs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expression_context_exposes_flow_execution_inputs_vars_labels_envs_secrets() {
    // base64("p@ss w0rd") = "cEBzcyB3MHJk"
    let kite = Kite::start_with_env(&[
        ("KESTRA_MY_VAR", "from-env"),
        ("SECRET_DB_PASSWORD", "cEBzcyB3MHJk"),
        ("OTHER", "x"),
    ])
    .await;
    let src = flow_yaml(
        "context",
        r#"
labels:
  team: data
variables:
  greeting: hi
  nested:
    deep: value
inputs:
  - id: who
    type: STRING
    defaults: world
  - id: n
    type: INT
tasks:
  - id: ctx
    type: io.kestra.plugin.core.output.OutputValues
    values:
      flow: "{{ flow.namespace }}/{{ flow.id }}/{{ flow.revision }}"
      execution: "{{ execution.id }}"
      input: "{{ inputs.who }}"
      inputMath: "{{ inputs.n * 2 }}"
      var: "{{ vars.greeting }} {{ vars.nested.deep }}"
      label: "{{ labels.team }}"
      env: "{{ envs.my_var }}"
      envMissing: "{{ envs.other ?? 'none' }}"
      secret: "{{ secret('DB_PASSWORD') }}"
      task: "{{ task.id }}"
      taskrun: "{{ taskrun.id }}"
  - id: state
    type: io.kestra.plugin.core.debug.Return
    format: "{{ tasks.ctx.state }}"
"#,
    );
    let e = kite.run(&src, json!({"n": 21})).await;
    assert_state(&e, State::Success);
    let v = e.out("ctx", "values");
    assert_eq!(v["flow"], json!("company.team/context/1"));
    assert_eq!(v["execution"], json!(e.id));
    assert_eq!(v["input"], json!("world"));
    assert_eq!(v["inputMath"], json!("42"));
    assert_eq!(v["var"], json!("hi value"));
    assert_eq!(v["label"], json!("data"));
    assert_eq!(v["env"], json!("from-env"));
    assert_eq!(v["envMissing"], json!("none"));
    // Rendered, then masked in the task's outputs (issue 8: secrets never stored in clear).
    assert_eq!(v["secret"], json!("******"));
    assert_eq!(v["task"], json!("ctx"));
    assert_eq!(v["taskrun"], json!(e.one("ctx").id));
    assert_eq!(e.out("state", "value"), json!("SUCCESS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_secret_fails_the_task() {
    let e = run(
        &flow_yaml(
            "secret-missing",
            r#"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('NOPE') }}"
"#,
        ),
        json!({}),
    )
    .await;
    assert_state(&e, State::Failed);
    assert_eq!(e.state_of("r"), State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_inputs_are_rejected_on_create() {
    let kite = Kite::start().await;
    let flow = kite
        .deploy(&flow_yaml(
            "inputs",
            r#"
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    min: 1
    max: 10
    defaults: 5
  - id: flag
    type: BOOLEAN
    required: false
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }} {{ inputs.count }}"
"#,
        ))
        .await;
    let reject = |inputs: Value| {
        let platform = kite.platform.clone();
        let flow = &flow;
        async move {
            match platform
                .create_execution(flow, obj(inputs.clone()), CreateOptions::default())
                .await
            {
                Err(ServiceError::Inputs(errs)) => errs,
                other => panic!("inputs {inputs} should be rejected, got {other:?}"),
            }
        }
    };
    let errs = reject(json!({})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["name"]
    );
    let errs = reject(json!({"name": "x", "count": "abc"})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["count"]
    );
    let errs = reject(json!({"name": "x", "count": 11})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["count"]
    );
    let errs = reject(json!({"name": "x", "count": 0})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["count"]
    );
    let errs = reject(json!({"name": "x", "flag": "maybe"})).await;
    assert_eq!(
        errs.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        ["flag"]
    );
    let listed = kite
        .platform
        .repos
        .executions
        .list(NS, Some("inputs"), 10)
        .await
        .expect("list");
    assert!(
        listed.is_empty(),
        "no execution is stored for rejected inputs"
    );

    let e = kite.execute(&flow, json!({"name": "x"})).await;
    assert_state(&e, State::Success);
    assert_eq!(e.inputs["name"], json!("x"));
    assert_eq!(e.inputs["count"], json!(5));
    assert_eq!(e.out("r", "value"), json!("x 5"));
    let e = kite
        .execute(&flow, json!({"name": "y", "count": "7", "flag": "true"}))
        .await;
    assert_state(&e, State::Success);
    assert_eq!(e.inputs["count"], json!(7));
    assert_eq!(e.inputs["flag"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_inputs_travel_to_the_worker_by_reference() {
    let big = "x".repeat(300_000);
    let src = "id: big\nnamespace: kite.tests\ninputs:\n  - id: big\n    type: STRING\ntasks:\n  - id: store\n    type: io.kestra.plugin.core.kv.Set\n    key: size\n    value: \"{{ inputs.big | length }}\"\n  - id: read\n    type: io.kestra.plugin.core.kv.Get\n    key: size\n";
    let e = run(src, json!({ "big": big })).await;
    assert_state(&e, State::Success);
    assert_eq!(e.task_run_list[1].outputs["value"], json!(300_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn working_directory_cache_is_restored_by_the_next_execution() {
    let kite = Kite::start().await;
    let src = "id: cached\nnamespace: kite.tests\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    cache:\n      ttl: PT5M\n      patterns:\n        - \"*.txt\"\n    tasks:\n      - id: look\n        type: io.kestra.plugin.core.storage.LocalFiles\n        outputs:\n          - hello.txt\n      - id: make\n        type: io.kestra.plugin.core.storage.LocalFiles\n        inputs:\n          hello.txt: HELLO\n          skip.log: not cached\n";
    let first = kite.run(src, json!({})).await;
    assert_state(&first, State::Success);
    let look = |e: &Execution| {
        e.task_run_list
            .iter()
            .find(|r| r.task_id == "look")
            .map(|r| r.outputs["uris"].clone())
    };
    assert_eq!(look(&first), Some(json!({})), "nothing cached yet");
    let second = kite.run(src, json!({})).await;
    assert_state(&second, State::Success);
    let uris = look(&second).expect("look ran");
    assert!(
        uris.get("hello.txt").is_some(),
        "the cached file is back: {uris}"
    );
    let expired = src.replace("PT5M", "PT0.001S");
    let third = kite.run(&expired, json!({})).await;
    assert_state(&third, State::Success);
    assert_eq!(
        look(&third),
        Some(json!({})),
        "an expired cache is not restored"
    );
}

// ---------------------------------------------------------------------------------------
// Bounded logs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_megabyte_log_message_is_truncated_and_the_later_logs_are_kept() {
    let kite = Kite::start().await;
    // 16,384 × 64 bytes (Pebble ranges include their end): a 1 MiB message, then an executor line, a worker line and another.
    let src = flow_yaml(
        "big_log",
        r#"tasks:
  - id: big
    type: io.kestra.plugin.core.log.Log
    message: "{% for i in range(0, 16383) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the big one
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - head -c 1048576 /dev/zero | tr '\0' y; echo
      - echo shell after
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: last line
"#,
    );
    let e = kite.run(&src, json!({})).await;
    assert_state(&e, State::Success);
    // A worker writes its lines beside its result: they may land after the executor's
    // later lines, so wait for every expected line (a lost one times out).
    let wanted = ["after the big one", "shell after", "last line"];
    let logs = kite
        .logs_until(&e.id, |l| {
            wanted.iter().all(|w| l.iter().any(|l| l.message == *w))
        })
        .await;
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    for wanted in wanted {
        assert!(
            messages.contains(&wanted),
            "`{wanted}` missing among {} lines",
            messages.len()
        );
    }
    let marker = " … [truncated: 1,048,576 bytes, first 65,536 kept]";
    let cut: Vec<&&str> = messages.iter().filter(|m| m.ends_with(marker)).collect();
    assert_eq!(
        cut.len(),
        2,
        "the Log line and the stdout line are cut: {:?}",
        logs.iter()
            .map(|l| (
                l.task_id.clone(),
                l.message.len(),
                l.message.chars().rev().take(60).collect::<String>()
            ))
            .collect::<Vec<_>>()
    );
    assert!(cut.iter().all(|m| m.len() == 65_536 + marker.len()));
}
