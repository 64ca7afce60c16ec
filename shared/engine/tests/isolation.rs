//! Issue 8 items 6 and 7, end to end on the in-memory platform: subflow recursion ends at
//! the depth limit, a kill reaches every descendant (also one created after the kill was
//! asked), dynamic subflow targets are rendered, and an execution reads only the files of
//! its namespace and of the executions that started it.

use std::sync::Arc;
use std::time::Duration;

use kite_engine::executor::{self, Event, Runtime};
use kite_engine::model::{Execution, LogEntry, State};
use kite_engine::repo::Repos;
use kite_engine::services::host::PlatformHost;
use kite_engine::services::poller::{self, PollerConfig};
use kite_engine::services::{CreateOptions, ExecutorMessage, Platform, QueueNames};
use kite_flow::Flow;
use kite_ports::{
    Clock, Expect, MemoryDocuments, MemoryQueue, MemoryStorage, Storage, StorageKey, SystemClock,
};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

const NS: &str = "company.team";
const WAIT_LIMIT: Duration = Duration::from_secs(60);

fn parse(source: &str) -> Flow {
    let parsed = kite_flow::parse_flow(source);
    match parsed.flow {
        Some(f) => f,
        None => panic!("invalid test flow:\n{source}\n{:#?}", parsed.diagnostics),
    }
}

fn flow_in(namespace: &str, id: &str, body: impl AsRef<str>) -> String {
    let body = body.as_ref();
    format!(
        "id: {id}\nnamespace: {namespace}\n{}",
        body.trim_start_matches('\n')
    )
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An in-memory installation; its pollers run unless built with `manual`.
struct Kite {
    platform: Arc<Platform>,
    stop: watch::Sender<bool>,
    _work: tempfile::TempDir,
}

impl Drop for Kite {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Kite {
    async fn start() -> Self {
        Self::build(None, true).await
    }

    async fn build(max_depth: Option<u32>, pollers: bool) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let repos = Repos::new(
            Arc::new(MemoryDocuments::new(clock.clone())),
            storage.clone(),
        );
        let host = PlatformHost::new(&[], storage.clone(), repos.clone(), clock.clone());
        let mut rt = Runtime::new(Arc::new(host), Map::new(), &[]);
        if let Some(d) = max_depth {
            rt.max_subflow_depth = d;
        }
        let work = tempfile::tempdir().expect("temp dir");
        let platform = Arc::new(Platform::new(
            Arc::new(MemoryQueue::new(clock.clone())),
            storage,
            repos,
            clock,
            rt,
            QueueNames::with_prefix("t-"),
            work.path().to_path_buf(),
        ));
        platform.ensure_queues().await.expect("queues");
        let (stop, stop_rx) = watch::channel(false);
        if pollers {
            let config = PollerConfig {
                executors: 2,
                workers: 2,
                visibility: Duration::from_secs(30),
                wait: Duration::from_millis(200),
                tick: Duration::from_secs(1),
            };
            let _handles = poller::spawn_all(platform.clone(), config, stop_rx);
        }
        Self {
            platform,
            stop,
            _work: work,
        }
    }

    async fn deploy(&self, source: &str) -> Flow {
        let flow = parse(source);
        self.platform
            .repos
            .flows
            .save(&flow, source)
            .await
            .expect("save flow");
        self.platform
            .load_flow(&flow.namespace, &flow.id, None)
            .await
            .expect("load flow")
    }

    async fn create(&self, flow: &Flow, inputs: Value, opts: CreateOptions) -> Execution {
        self.platform
            .create_execution(flow, obj(inputs), opts)
            .await
            .expect("create execution")
    }

    async fn get(&self, id: &str) -> Option<Execution> {
        self.platform.execution(id).await.expect("read execution")
    }

    async fn wait_until(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&Execution) -> bool,
    ) -> Execution {
        let mut ended = self.platform.subscribe_ended();
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            if let Some(e) = self.get(id).await
                && pred(&e)
            {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "execution {id} did not become {what} in time: {:#?}",
                    self.get(id)
                        .await
                        .map(|e| (e.state.current, e.task_run_list))
                );
            }
            tokio::select! {
                _ = ended.recv() => {}
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }

    async fn wait_end(&self, id: &str) -> Execution {
        self.wait_until(id, "terminated", |e| e.state.current.is_terminated())
            .await
    }

    /// Log lines of an execution once `pred` holds for them (logs follow the record).
    async fn logs_until(&self, id: &str, pred: impl Fn(&[LogEntry]) -> bool) -> Vec<LogEntry> {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            let logs = self
                .platform
                .repos
                .logs
                .of_execution(id)
                .await
                .expect("logs");
            if pred(&logs) || tokio::time::Instant::now() > deadline {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn count(&self, namespace: &str) -> usize {
        self.platform
            .repos
            .executions
            .list(namespace, None, 1000)
            .await
            .expect("list")
            .len()
    }

    async fn put(&self, key: &str, content: &str) -> String {
        let key = StorageKey::new(key).expect("key");
        self.platform
            .storage
            .put(&key, content.as_bytes().to_vec().into())
            .await
            .expect("put");
        key.to_uri()
    }

    /// Hands one event to the executor as the queue would.
    async fn deliver(&self, execution_id: &str, message_id: &str, event: Event) {
        let body = serde_json::to_string(&ExecutorMessage {
            id: message_id.to_owned(),
            execution_id: execution_id.to_owned(),
            event,
        })
        .expect("json");
        self.platform
            .handle_executor_message(&body)
            .await
            .expect("handled");
    }
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
    let kite = Kite::start().await;
    assert_eq!(kite.platform.rt.max_subflow_depth, 32);
    let ping = deploy_ping_pong(&kite).await;
    let root = kite
        .create(&ping, json!({}), CreateOptions::default())
        .await;
    let e = kite.wait_end(&root.id).await;
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
    let kite = Kite::build(Some(3), true).await;
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
    let root = kite
        .create(&flow, json!({}), CreateOptions::default())
        .await;
    let e = kite.wait_end(&root.id).await;
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
    let logs = kite
        .logs_until(&chain[3].id, |l| {
            l.iter().any(|l| l.message.contains("at most 3 nested"))
        })
        .await;
    assert!(
        logs.iter().any(|l| l.message.contains("at most 3 nested")),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dynamic_flow_id_is_rendered_before_lookup() {
    let kite = Kite::start().await;
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
    let root = kite
        .create(&flow, json!({"target": "leaf"}), CreateOptions::default())
        .await;
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
    let kite = Kite::start().await;
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
    let root = kite
        .create(
            &root_flow,
            json!({"items": items}),
            CreateOptions::default(),
        )
        .await;
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
    let kite = Kite::build(None, false).await;
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
    let parent = kite
        .create(&parent_flow, json!({}), CreateOptions::default())
        .await;

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
    let kite = Kite::start().await;
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
    let id = "readerExecution1";
    let own = kite
        .put(
            &format!("company.team/reader/executions/{id}/inputs/f/data.txt"),
            "my input",
        )
        .await;
    let e = kite
        .create(
            &flow,
            json!({"f": own, "target": secret}),
            CreateOptions {
                id: Some(id.into()),
                ..CreateOptions::default()
            },
        )
        .await;
    let e = kite.wait_end(&e.id).await;
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
    let kite = Kite::start().await;
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
    let e = kite
        .create(&flow, json!({"target": secret}), CreateOptions::default())
        .await;
    let e = kite.wait_end(&e.id).await;
    assert_eq!(state_of(&e, "size"), Some(State::Failed));
    let logs = kite
        .logs_until(&e.id, |l| l.iter().any(|l| l.message.contains("refused")))
        .await;
    assert!(
        logs.iter().any(|l| l.message.contains("refused")),
        "{logs:#?}"
    );
}

/// A child in another namespace reads the file its parent passed, and nothing else of the
/// parent's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_in_another_namespace_reads_what_its_parent_passed() {
    let kite = Kite::start().await;
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
    let id = "producerExecution1";
    let own = kite
        .put(
            &format!("company.team/producer/executions/{id}/inputs/f/data.txt"),
            "handed down",
        )
        .await;
    let parent = kite
        .create(
            &parent_flow,
            json!({"f": own, "unrelated": unrelated}),
            CreateOptions {
                id: Some(id.into()),
                ..CreateOptions::default()
            },
        )
        .await;
    let parent = kite.wait_end(&parent.id).await;
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
