//! A WorkingDirectory is one unit of work on one worker (issue 10): one job for the whole
//! WorkingDirectory, its children run in order in one directory, each child still a task
//! run of its own (state, attempts, outputs, logs); `runIf`, `allowFailure`, retries,
//! `errors`/`finally`, `inputFiles`/`outputFiles` and the task's `timeout` apply as before.
//!
//! The first tests drive the queues by hand and hand every worker job to a worker with a
//! fresh work root of its own (as separate Lambda instances would be): a child reading the
//! file the previous child wrote only succeeds when the children run in one job.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kite_engine::model::{Execution, State, TaskRun};
use kite_engine::services::Platform;
use kite_ports::StorageKey;
use serde_json::json;
use support::{Kite, Setup};

const FILES: &str = r#"id: wd_files
namespace: kite.tests
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      given.txt: from the WorkingDirectory
    outputFiles:
      - "*.txt"
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "written by {{ task.id }}" > note.txt
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "between the two"
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - test -f note.txt && echo "::{\"outputs\":{\"note\":\"$(cat note.txt)\",\"given\":\"$(cat given.txt)\"}}::"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.read.vars.note }}"
"#;

/// What a manual run did.
struct Driven {
    execution: Execution,
    /// The worker jobs handled (each on a fresh work root).
    jobs: usize,
}

/// Runs execution `id` by hand: executor messages on `p`; every worker job on a copy of
/// `p` with a fresh work root, `deliveries` times (at-least-once delivery: the same job
/// handled again, from its start).
async fn drive(p: &Arc<Platform>, id: &str, deliveries: usize) -> Driven {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut jobs = 0;
    loop {
        let events = p
            .queue
            .receive(
                &p.names.executor,
                10,
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .await
            .expect("receive events");
        for m in &events {
            let out = p.handle_executor_messages(&[m.body.as_str()]).await;
            assert!(out.error.is_none(), "{:?}", out.error);
            p.queue
                .delete(&p.names.executor, &m.receipt_handle)
                .await
                .expect("delete");
        }
        let work = p
            .queue
            .receive(&p.names.worker, 10, Duration::from_secs(30), Duration::ZERO)
            .await
            .expect("receive jobs");
        for m in &work {
            jobs += 1;
            for _ in 0..deliveries {
                // A fresh instance: nothing on its disk from any earlier job.
                let root = tempfile::tempdir().expect("work root");
                let mut worker = Platform::clone(p);
                worker.work_root = root.path().to_path_buf();
                worker
                    .handle_worker_message(&m.body)
                    .await
                    .expect("worker job");
            }
            p.queue
                .delete(&p.names.worker, &m.receipt_handle)
                .await
                .expect("delete");
        }
        let e = p.execution(id).await.expect("read").expect("stored");
        if e.state.current.is_terminated() && events.is_empty() && work.is_empty() {
            return Driven { execution: e, jobs };
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {id} did not end: {e:#?}"
        );
    }
}

fn run_of<'a>(e: &'a Execution, task_id: &str) -> &'a TaskRun {
    let runs: Vec<&TaskRun> = e
        .task_run_list
        .iter()
        .filter(|r| r.task_id == task_id)
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "one run of {task_id}: {:#?}",
        e.task_run_list
    );
    runs[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_reads_the_file_the_previous_child_wrote_on_separate_worker_instances() {
    let (p, _work) = Setup::new().pollers(None).platform().await;
    let flow = support::deploy(&p, FILES).await;
    let created = p
        .create_execution(&flow, serde_json::Map::new(), Default::default())
        .await
        .expect("create");
    let Driven { execution: e, jobs } = drive(&p, &created.id, 1).await;
    let logs = p.repos.logs.of_execution(&e.id).await.expect("logs");
    let lines: Vec<(&Option<String>, &str)> = logs
        .iter()
        .map(|l| (&l.task_id, l.message.as_str()))
        .collect();
    assert_eq!(e.state.current, State::Success, "{lines:#?}\n{e:#?}");
    assert_eq!(jobs, 1, "one worker job for the whole WorkingDirectory");
    let wd = run_of(&e, "wd");
    for child in ["write", "say", "read"] {
        let r = run_of(&e, child);
        assert_eq!(r.current(), State::Success, "{child}");
        assert_eq!(r.parent_task_run_id.as_deref(), Some(wd.id.as_str()));
        assert_eq!(r.attempts.len(), 1, "{child}: one attempt");
    }
    assert_eq!(
        run_of(&e, "read").outputs["vars"],
        json!({"note": "written by write", "given": "from the WorkingDirectory"})
    );
    assert_eq!(
        run_of(&e, "after").outputs["value"],
        json!("written by write")
    );
    // outputFiles apply to the whole unit: both files, uploaded once at its end.
    let files = wd.outputs["outputFiles"].as_object().expect("outputFiles");
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    assert_eq!(names, ["given.txt", "note.txt"]);
    let uri = files["note.txt"].as_str().expect("uri");
    let key = StorageKey::parse_uri(uri).expect("key");
    let content = p.storage.get(&key).await.expect("stored file");
    assert_eq!(&content[..], b"written by write\n");
    // The children's lines are theirs, attempt included.
    let say = run_of(&e, "say");
    assert!(
        logs.iter().any(|l| l.message == "between the two"
            && l.task_run_id.as_deref() == Some(say.id.as_str())
            && l.attempt_number == Some(0)),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_unit_run_twice_adds_its_children_once() {
    let (p, _work) = Setup::new().pollers(None).platform().await;
    let flow = support::deploy(&p, FILES).await;
    let created = p
        .create_execution(&flow, serde_json::Map::new(), Default::default())
        .await
        .expect("create");
    // The job is handled twice from its start, in two fresh directories, and both
    // results reach the executor: the second is ignored.
    let Driven { execution: e, jobs } = drive(&p, &created.id, 2).await;
    assert_eq!(jobs, 1);
    assert_eq!(e.state.current, State::Success, "{e:#?}");
    assert_eq!(e.task_run_list.len(), 5, "{:#?}", e.task_run_list);
    for child in ["write", "say", "read"] {
        assert_eq!(run_of(&e, child).attempts.len(), 1);
    }
    assert_eq!(run_of(&e, "wd").attempts.len(), 1);
}

fn states(e: &Execution) -> Vec<(String, State, usize)> {
    e.task_run_list
        .iter()
        .map(|r| (r.task_id.clone(), r.current(), r.attempts.len()))
        .collect()
}

fn has(e: &Execution, task_id: &str, state: State, attempts: usize) -> bool {
    e.task_run_list
        .iter()
        .any(|r| r.task_id == task_id && r.current() == state && r.attempts.len() == attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn children_keep_run_if_allow_failure_retries_errors_and_finally() {
    let kite: Kite = Setup::new().start().await;
    let e = kite
        .run(
            r#"id: wd_rules
namespace: kite.tests
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: skipped
        type: io.kestra.plugin.core.debug.Return
        runIf: "{{ 1 == 2 }}"
        format: never
      - id: tolerated
        type: io.kestra.plugin.scripts.shell.Commands
        allowFailure: true
        commands: ["exit 3"]
      - id: flaky
        type: io.kestra.plugin.scripts.shell.Commands
        retry:
          type: constant
          interval: PT0.01S
          maxAttempt: 3
        commands:
          - echo x >> tries.txt
          - test "$(wc -l < tries.txt)" -ge 3
      - id: broken
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["exit 1"]
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: never
    errors:
      - id: on_error
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["test $(wc -l < tries.txt) -eq 3"]
    finally:
      - id: last
        type: io.kestra.plugin.core.debug.Return
        format: done
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Failed, "{:#?}", states(&e));
    let s = states(&e);
    assert!(has(&e, "skipped", State::Skipped, 0), "{s:?}");
    assert!(has(&e, "tolerated", State::Warning, 1), "{s:?}");
    assert!(has(&e, "flaky", State::Success, 3), "{s:?}");
    assert!(has(&e, "broken", State::Failed, 1), "{s:?}");
    assert!(
        !e.task_run_list.iter().any(|r| r.task_id == "never"),
        "{s:?}"
    );
    // The errors branch ran in the same directory (it saw the three tries).
    assert!(has(&e, "on_error", State::Success, 1), "{s:?}");
    assert!(has(&e, "last", State::Success, 1), "{s:?}");
    assert!(has(&e, "wd", State::Failed, 1), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_timeout_of_a_working_directory_covers_all_its_children() {
    let kite: Kite = Setup::new().start().await;
    // `c` has no timeout of its own: the WorkingDirectory's bounds it, as part of the unit.
    let e = kite
        .run(
            r#"id: wd_timeout
namespace: kite.tests
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    timeout: PT3S
    tasks:
      - id: a
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo a"]
      - id: b
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["sleep 600"]
      - id: c
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo c"]
"#,
            json!({}),
        )
        .await;
    let s = states(&e);
    assert_eq!(e.state.current, State::Failed, "{s:?}");
    assert!(has(&e, "a", State::Success, 1), "{s:?}");
    assert!(has(&e, "b", State::Failed, 1), "{s:?}");
    assert!(!e.task_run_list.iter().any(|r| r.task_id == "c"), "{s:?}");
    assert!(has(&e, "wd", State::Failed, 1), "{s:?}");
    let b = run_of(&e, "b");
    let logs = kite
        .logs_until(&e.id, |l| {
            l.iter()
                .any(|l| l.task_run_id.as_deref() == Some(b.id.as_str()))
        })
        .await;
    assert!(
        logs.iter()
            .any(|l| l.task_run_id.as_deref() == Some(b.id.as_str())
                && l.message.starts_with("Timeout after")),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_working_directory_runs_again_as_a_whole() {
    let kite: Kite = Setup::new().start().await;
    let src = r#"id: wd_restart
namespace: kite.tests
inputs:
  - id: fail
    type: BOOLEAN
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: first
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["echo once >> note.txt"]
      - id: second
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - "test -f {{ workingDir }}/../../flag || exit 1"
          - echo "::{\"outputs\":{\"lines\":$(wc -l < note.txt)}}::"
    errors:
      - id: on_error
        type: io.kestra.plugin.core.debug.Return
        format: failed
"#;
    let flow = kite.deploy(src).await;
    let e = kite.execute(&flow, json!({"fail": true})).await;
    assert_eq!(e.state.current, State::Failed, "{:#?}", states(&e));
    assert_eq!(e.task_run_list.len(), 4, "{:#?}", states(&e));
    // The flag the second child looks for: at the work root.
    let root = kite.platform.work_root.clone();
    std::fs::write(root.join("flag"), b"").expect("flag");
    kite.platform
        .send_event(&e.id, kite_engine::executor::Event::Restart)
        .await
        .expect("restart");
    let done = kite
        .wait_until(&e.id, "ended again", |x| {
            x.state.current.is_terminated() && x.metadata.attempt_number > e.metadata.attempt_number
        })
        .await;
    let s = states(&done);
    assert_eq!(done.state.current, State::Success, "{s:?}");
    // Children ran again from the start, in a fresh directory (one line, not two), once
    // each; the errors branch's run is gone.
    assert_eq!(done.task_run_list.len(), 3, "{s:?}");
    assert_eq!(run_of(&done, "second").outputs["vars"]["lines"], json!(1));
    assert!(has(&done, "wd", State::Success, 2), "{s:?}");
}
