//! Issue 8 items 6 and 7, end to end on the in-memory platform: subflow recursion ends at
//! the depth limit, a kill reaches every descendant (also one created after the kill was
//! asked), dynamic subflow targets are rendered, and an execution reads only the files of
//! its namespace and of the executions that started it.

mod support;

use std::time::Duration;

use kite_engine::executor::{self, Event};
use kite_engine::model::{Execution, State};
use kite_engine::services::CreateOptions;
use kite_flow::Flow;
use kite_ports::Expect;
use serde_json::{Value, json};
use support::{Kite, Setup};

const NS: &str = "company.team";
const WAIT_LIMIT: Duration = Duration::from_secs(60);

fn flow_in(namespace: &str, id: &str, body: impl AsRef<str>) -> String {
    let body = body.as_ref();
    format!(
        "id: {id}\nnamespace: {namespace}\n{}",
        body.trim_start_matches('\n')
    )
}

/// An in-memory installation, its pollers running.
async fn start() -> Kite {
    Setup::new().start().await
}

/// Runs `flow` as execution `id` to its end, its FILE input `f` holding `content` (stored
/// where that execution's upload goes) and the other input `other` (name, value).
async fn run_with_file(
    kite: &Kite,
    flow: &Flow,
    id: &str,
    content: &str,
    other: (&str, &str),
) -> Execution {
    let own = kite
        .put(
            &format!(
                "{}/{}/executions/{id}/inputs/f/data.txt",
                flow.namespace, flow.id
            ),
            content,
        )
        .await;
    let mut inputs = json!({ "f": own });
    inputs[other.0] = json!(other.1);
    let e = kite
        .create_with(
            flow,
            inputs,
            CreateOptions {
                id: Some(id.into()),
                ..CreateOptions::default()
            },
        )
        .await;
    kite.wait_end(&e.id).await
}

/// Waits for a log line of execution `id` containing `words`; asserts there is one.
async fn assert_logged(kite: &Kite, id: &str, words: &str) {
    let logs = kite
        .logs_until(id, |l| l.iter().any(|l| l.message.contains(words)))
        .await;
    assert!(logs.iter().any(|l| l.message.contains(words)), "{logs:#?}");
}

fn child_of(e: &Execution, task: &str) -> Option<String> {
    e.task_run_list
        .iter()
        .find(|r| r.task_id == task)
        .and_then(|r| r.outputs.get("executionId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn state_of(e: &Execution, task: &str) -> Option<State> {
    e.task_run_list
        .iter()
        .find(|r| r.task_id == task)
        .map(|r| r.state.current)
}

async fn deploy_ping_pong(kite: &Kite) -> Flow {
    kite.deploy(&flow_in(
        NS,
        "pong",
        r#"
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: ping
"#,
    ))
    .await;
    kite.deploy(&flow_in(
        NS,
        "ping",
        r#"
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: pong
"#,
    ))
    .await
}

// ---------------------------------------------------------------------------------------
// Item 6: depth limit
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutual_recursion_fails_at_the_default_depth_limit_with_a_bounded_count() {
    let kite = start().await;
    assert_eq!(kite.platform.rt.max_subflow_depth, 32);
    let ping = deploy_ping_pong(&kite).await;
    let e = kite.execute(&ping, json!({})).await;
    assert_eq!(e.state.current, State::Failed);

    // Walk down the chain: root + 32 nested subflows, the last one's call failed.
    let mut chain = vec![e];
    while let Some(child) = child_of(chain.last().expect("chain"), "call") {
        chain.push(kite.wait_end(&child).await);
        assert!(chain.len() <= 40, "the chain does not end");
    }
    assert_eq!(chain.len(), 33, "root + 32 nested subflows");
    let deepest = chain.last().expect("deepest");
    assert_eq!(state_of(deepest, "call"), Some(State::Failed));
    assert!(chain.iter().all(|e| e.state.current == State::Failed));
    let logs = kite
        .logs_until(&deepest.id, |l| {
            l.iter().any(|l| l.message.contains("depth limit"))
        })
        .await;
    let message = logs
        .iter()
        .find(|l| l.message.contains("depth limit"))
        .map(|l| l.message.clone())
        .unwrap_or_else(|| panic!("no depth message in {logs:#?}"));
    assert!(
        message.contains("at most 32 nested subflows")
            && message.contains("KITE_MAX_SUBFLOW_DEPTH"),
        "{message}"
    );
    assert_eq!(kite.count(NS).await, 33, "no execution beyond the limit");
    let deepest_trigger = deepest.trigger.as_ref().expect("trigger");
    assert_eq!(deepest_trigger.variables["depth"], json!(32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_configured_depth_limit_and_a_dynamic_self_call() {
    let kite = Setup::new()
        .runtime(|mut rt| {
            rt.max_subflow_depth = 3;
            rt
        })
        .start()
        .await;
    let flow = kite
        .deploy(&flow_in(
            NS,
            "selfish",
            r#"
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: "{{ flow.namespace }}"
    flowId: "{{ flow.id }}"
"#,
        ))
        .await;
    let e = kite.execute(&flow, json!({})).await;
    assert_eq!(e.state.current, State::Failed);
    // The rendered flow id was found: the chain runs to the limit of 3.
    let mut chain = vec![e];
    while let Some(child) = child_of(chain.last().expect("chain"), "call") {
        let c = kite.wait_end(&child).await;
        assert_eq!(c.flow_id, "selfish");
        chain.push(c);
        assert!(chain.len() <= 10, "the chain does not end");
    }
    assert_eq!(chain.len(), 4, "root + 3 nested subflows");
    assert_logged(&kite, &chain[3].id, "at most 3 nested").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dynamic_flow_id_is_rendered_before_lookup() {
    let kite = start().await;
    kite.deploy(&flow_in(
        NS,
        "leaf",
        r#"
tasks:
  - id: hi
    type: io.kestra.plugin.core.debug.Return
    format: hi
"#,
    ))
    .await;
    let flow = kite
        .deploy(&flow_in(
            NS,
            "router",
            r#"
inputs:
  - id: target
    type: STRING
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: "{{ flow.namespace }}"
    flowId: "{{ inputs.target }}"
"#,
        ))
        .await;
    let root = kite.create(&flow, json!({"target": "leaf"})).await;
    let e = kite.wait_end(&root.id).await;
    assert_eq!(
        e.state.current,
        State::Success,
        "{:#?}",
        kite.platform.repos.logs.of_execution(&root.id).await
    );
    let child = kite
        .get(&child_of(&e, "call").expect("child"))
        .await
        .expect("child");
    assert_eq!(
        (child.namespace.as_str(), child.flow_id.as_str()),
        (NS, "leaf")
    );
}

#[test]
fn the_depth_limit_is_read_from_the_environment() {
    use kite_engine::executor::context::max_subflow_depth;
    let env = |v: &str| vec![("KITE_MAX_SUBFLOW_DEPTH".to_owned(), v.to_owned())];
    assert_eq!(max_subflow_depth(&[]), Ok(32));
    assert_eq!(max_subflow_depth(&env("5")), Ok(5));
    for bad in ["0", "-1", "lots", "10001"] {
        let err = max_subflow_depth(&env(bad)).expect_err(bad);
        assert!(err.contains("KITE_MAX_SUBFLOW_DEPTH"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------
// Item 6: kill reaches every descendant
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_root_kills_detached_and_foreach_item_descendants() {
    let kite = start().await;
    kite.deploy(&flow_in(
        NS,
        "sleeper",
        r#"
inputs:
  - id: items
    type: STRING
    defaults: none
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT10M
"#,
    ))
    .await;
    kite.deploy(&flow_in(
        NS,
        "middle",
        r#"
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: sleeper
"#,
    ))
    .await;
    let root_flow = kite
        .deploy(&flow_in(
            NS,
            "root",
            r#"
inputs:
  - id: items
    type: STRING
tasks:
  - id: detached
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: middle
    wait: false
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.items }}"
    namespace: company.team
    flowId: sleeper
    inputs:
      items: "{{ taskrun.items }}"
"#,
        ))
        .await;
    let items = kite.put("company.team/data/items.txt", "a\nb\n").await;
    let root = kite.create(&root_flow, json!({"items": items})).await;
    // Wait until every descendant sleeps: middle's child, and both ForEachItem children.
    let running = kite
        .wait_until(&root.id, "running its ForEachItem children", |e| {
            e.task_run_list
                .iter()
                .any(|r| r.task_id == "each_items" && r.outputs.contains_key("numberOfBatches"))
        })
        .await;
    let middle = child_of(&running, "detached").expect("middle");
    let middle_e = kite
        .wait_until(&middle, "calling its child", |e| {
            child_of(e, "call").is_some()
        })
        .await;
    let grandchild = child_of(&middle_e, "call").expect("grandchild");
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    let sleepers: Vec<String> = loop {
        let all = kite
            .platform
            .repos
            .executions
            .list(NS, Some("sleeper"), 100)
            .await
            .expect("list");
        if all.len() >= 3 {
            break all.iter().map(|r| r.execution.id.clone()).collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "one grandchild and two items expected, got {}",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(sleepers.len(), 3, "one grandchild and two items");
    assert!(sleepers.contains(&grandchild));
    for s in &sleepers {
        kite.wait_until(s, "sleeping", |e| {
            state_of(e, "nap") == Some(State::Running)
        })
        .await;
    }

    kite.platform
        .send_event(&root.id, Event::Kill)
        .await
        .expect("kill");
    assert_eq!(kite.wait_end(&root.id).await.state.current, State::Killed);
    for id in std::iter::once(&middle).chain(&sleepers) {
        let e = kite.wait_end(id).await;
        assert_eq!(
            e.state.current,
            State::Killed,
            "descendant {id} ({})",
            e.flow_id
        );
    }
}

/// The race of item 6, driven event by event: the parent's executor decided to start a
/// child and wrote its record, then stopped before creating the child; the kill is
/// applied, its `Kill` for the child finds no execution; the parent's first event is
/// delivered again and creates the child. The child must not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_created_after_its_parent_was_killed_is_killed_on_start() {
    let kite = Setup::new().pollers(None).start().await;
    kite.deploy(&flow_in(
        NS,
        "late-child",
        r#"
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT10M
"#,
    ))
    .await;
    let parent_flow = kite
        .deploy(&flow_in(
            NS,
            "killed-parent",
            r#"
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: late-child
"#,
        ))
        .await;
    let parent = kite.create(&parent_flow, json!({})).await;

    // 1. The parent's Start is decided and written; the handler stops before its sends.
    let repo = &kite.platform.repos.executions;
    let (mut rec, version) = repo.get(&parent.id).await.expect("get").expect("parent");
    let actions = executor::handle(
        &parent_flow,
        &mut rec,
        &Event::Start,
        "parent-start",
        &kite.platform.rt,
        chrono::Utc::now(),
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, executor::Action::StartSubflow(_))),
        "{actions:#?}"
    );
    repo.put(&rec, Expect::Version(version))
        .await
        .expect("write");
    let child_id = child_of(&rec.execution, "call").expect("child id decided");

    // 2. The kill is applied; its Kill for the child finds no execution (dropped).
    kite.deliver(&parent.id, "kill", Event::Kill).await;
    assert_eq!(
        kite.get(&parent.id).await.expect("parent").state.current,
        State::Killed
    );
    kite.deliver(&child_id, "kill-child", Event::Kill).await;
    assert!(kite.get(&child_id).await.is_none());

    // 3. The parent's Start is delivered again: its actions are re-sent, the child created.
    kite.deliver(&parent.id, "parent-start", Event::Start).await;
    let child = kite
        .get(&child_id)
        .await
        .expect("child created by the redelivery");
    assert_eq!(child.state.current, State::Created);

    // 4. The child's Start: its parent is KILLED, so it is killed instead of started.
    kite.deliver(&child_id, "child-start", Event::Start).await;
    let child = kite.get(&child_id).await.expect("child");
    assert_eq!(
        child.state.current,
        State::Killed,
        "task runs: {:#?}",
        child.task_run_list
    );
    assert!(child.task_run_list.is_empty(), "nothing of the child ran");
}

// ---------------------------------------------------------------------------------------
// Item 7: file access
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_of_another_namespace_is_refused_own_files_are_read() {
    let kite = start().await;
    let secret = kite
        .put(
            "other.ns/vault/executions/X/tasks/t/r/secret.txt",
            "the other namespace's secret",
        )
        .await;
    let shared = kite
        .put("company.team/data/shared.txt", "namespace file")
        .await;
    let flow = kite
        .deploy(&flow_in(
            NS,
            "reader",
            r#"
inputs:
  - id: f
    type: FILE
  - id: target
    type: STRING
tasks:
  - id: own_execution
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.f) }}"
  - id: own_namespace
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('SHARED') }}|{{ fileSize('SHARED') }}|{{ fileExists('SHARED') }}"
  - id: other
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.target) }}"
"#
            .replace("SHARED", &shared),
        ))
        .await;
    let e = run_with_file(
        &kite,
        &flow,
        "readerExecution1",
        "my input",
        ("target", &secret),
    )
    .await;
    let out = |task: &str| {
        e.task_run_list
            .iter()
            .find(|r| r.task_id == task)
            .map(|r| r.outputs["value"].clone())
    };
    assert_eq!(out("own_execution"), Some(json!("my input")));
    assert_eq!(out("own_namespace"), Some(json!("namespace file|14|true")));
    assert_eq!(state_of(&e, "other"), Some(State::Failed));
    assert_eq!(e.state.current, State::Failed);
    let logs = kite
        .logs_until(&e.id, |l| l.iter().any(|l| l.message.contains("refused")))
        .await;
    let refusal = logs
        .iter()
        .find(|l| l.message.contains("refused"))
        .map(|l| l.message.clone())
        .unwrap_or_else(|| panic!("no refusal in {logs:#?}"));
    assert!(
        refusal.contains(&secret) && refusal.contains("namespace `company.team`"),
        "{refusal}"
    );
    assert!(!logs.iter().any(
        |l| l.message.contains("secret") && l.message.contains("the other namespace's secret")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_tasks_check_access_too() {
    let kite = start().await;
    let secret = kite
        .put("other.ns/vault/executions/X/tasks/t/r/secret.txt", "12345")
        .await;
    let flow = kite
        .deploy(&flow_in(
            NS,
            "sizer",
            r#"
inputs:
  - id: target
    type: STRING
tasks:
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ inputs.target }}"
"#,
        ))
        .await;
    let e = kite.execute(&flow, json!({"target": secret})).await;
    assert_eq!(state_of(&e, "size"), Some(State::Failed));
    assert_logged(&kite, &e.id, "refused").await;
}

/// A child in another namespace reads the file its parent passed, and nothing else of the
/// parent's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_in_another_namespace_reads_what_its_parent_passed() {
    let kite = start().await;
    let unrelated = kite
        .put(
            "company.team/other/executions/Z/tasks/t/r/private.txt",
            "private",
        )
        .await;
    kite.deploy(&flow_in(
        "partner.ns",
        "consumer",
        r#"
inputs:
  - id: f
    type: FILE
  - id: unrelated
    type: STRING
tasks:
  - id: passed
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.f) }}"
  - id: probe
    type: io.kestra.plugin.core.debug.Return
    format: "{{ fileExists(inputs.unrelated) }}"
"#,
    ))
    .await;
    let parent_flow = kite
        .deploy(&flow_in(
            NS,
            "producer",
            r#"
inputs:
  - id: f
    type: FILE
  - id: unrelated
    type: STRING
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: partner.ns
    flowId: consumer
    inputs:
      f: "{{ inputs.f }}"
      unrelated: "{{ inputs.unrelated }}"
"#,
        ))
        .await;
    let parent = run_with_file(
        &kite,
        &parent_flow,
        "producerExecution1",
        "handed down",
        ("unrelated", &unrelated),
    )
    .await;
    let child = kite
        .wait_end(&child_of(&parent, "call").expect("child"))
        .await;
    let passed = child
        .task_run_list
        .iter()
        .find(|r| r.task_id == "passed")
        .map(|r| r.outputs["value"].clone());
    assert_eq!(passed, Some(json!("handed down")));
    assert_eq!(state_of(&child, "probe"), Some(State::Failed));
}
