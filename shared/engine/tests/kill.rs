//! A kill reaches running work (issue 10): the shell process group of a running task ends,
//! its attempt ends KILLED; also inside a WorkingDirectory and in a Subflow's child; and a
//! task's `timeout` ends a WorkingDirectory child's processes. In-memory platform, pollers
//! running, the worker watching for kill requests every 200 ms.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kite_engine::executor::Event;
use kite_engine::model::{Execution, State};
use serde_json::{Value, json};
use support::{Kite, Setup};

/// How long a process may take to disappear on a loaded machine (the expected figure is
/// under a second: one 200 ms polling interval plus the kill).
const GONE_LIMIT: Duration = Duration::from_secs(10);

/// A shell task writing the pids of its shell and of its `sleep 600` to `pids`.
fn sleeper(id: &str, pids: &Path, extra: &str) -> String {
    format!(
        r#"
  - id: {id}
    type: io.kestra.plugin.scripts.shell.Commands
{extra}    commands:
      - sleep 600 & echo "$$ $!" > {pids}.tmp && mv {pids}.tmp {pids}; wait
"#,
        pids = pids.display()
    )
}

/// The pids written to `file` (waits for it, 60 s at most).
async fn pids_in(file: &Path) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::fs::read_to_string(file) {
            let pids: Vec<u32> = s
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.len() == 2 {
                return pids;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|s| s != 'Z' && s != 'X'),
        Err(_) => false,
    }
}

/// Waits until none of `pids` runs; how long it took.
async fn gone(pids: &[u32]) -> Duration {
    let started = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            started.elapsed() < GONE_LIMIT,
            "processes {pids:?} still run {GONE_LIMIT:?} after the kill"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

fn run_of<'a>(e: &'a Execution, task: &str) -> &'a kite_engine::model::TaskRun {
    e.task_run_list
        .iter()
        .find(|r| r.task_id == task)
        .unwrap_or_else(|| panic!("no run of {task}: {e:#?}"))
}

fn assert_killed_run(e: &Execution, task: &str) {
    let run = run_of(e, task);
    assert_eq!(run.state.current, State::Killed, "{run:#?}");
    let attempt = run.attempts.last().expect("an attempt");
    assert_eq!(attempt.state.current, State::Killed, "{run:#?}");
}

async fn assert_worker_said_killed(kite: &Kite, id: &str) {
    let words = "Killed: the execution was killed while this task ran";
    let logs = kite
        .logs_until(id, |l| l.iter().any(|l| l.message.contains(words)))
        .await;
    assert!(logs.iter().any(|l| l.message.contains(words)), "{logs:#?}");
}

struct Case {
    kite: Kite,
    dir: tempfile::TempDir,
}

impl Case {
    async fn new() -> Self {
        Self {
            kite: Setup::new().start().await,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Kills `id`; waits for `pids` to end and returns how long that took.
    async fn kill(&self, id: &str, pids: &[u32]) -> Duration {
        assert!(pids.iter().all(|p| alive(*p)), "the task runs");
        self.kite
            .platform
            .send_event(id, Event::Kill)
            .await
            .expect("kill");
        gone(pids).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_ends_the_process_group_of_a_running_shell_task() {
    let c = Case::new().await;
    let pids_file = c.file("pids");
    let flow = c
        .kite
        .deploy(&format!(
            "id: long\nnamespace: kite.kill\ntasks:{}",
            sleeper("nap", &pids_file, "")
        ))
        .await;
    let e = c.kite.create(&flow, json!({})).await;
    let pids = pids_in(&pids_file).await;
    let took = c.kill(&e.id, &pids).await;
    eprintln!("processes gone {took:?} after the kill was sent");
    let e = c.kite.wait_end(&e.id).await;
    assert_eq!(e.state.current, State::Killed);
    assert_killed_run(&e, "nap");
    assert_worker_said_killed(&c.kite, &e.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_reaches_a_working_directory_child() {
    let c = Case::new().await;
    let pids_file = c.file("pids");
    let child = sleeper("nap", &pids_file, "").replace("\n  ", "\n      ");
    let flow = c
        .kite
        .deploy(&format!(
            "id: wd\nnamespace: kite.kill\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:{child}"
        ))
        .await;
    let e = c.kite.create(&flow, json!({})).await;
    let pids = pids_in(&pids_file).await;
    c.kill(&e.id, &pids).await;
    let e = c.kite.wait_end(&e.id).await;
    assert_eq!(e.state.current, State::Killed);
    // A WorkingDirectory is one unit on one worker: the kill drops the whole unit, whose
    // children are reported only with the unit's result, so none is left running.
    assert_eq!(run_of(&e, "wd").state.current, State::Killed);
    assert!(
        e.task_run_list
            .iter()
            .all(|r| r.state.current.is_terminated()),
        "{e:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_ends_a_working_directory_childs_processes() {
    let c = Case::new().await;
    let pids_file = c.file("pids");
    let child = sleeper("nap", &pids_file, "    timeout: PT1S\n").replace("\n  ", "\n      ");
    let flow = c
        .kite
        .deploy(&format!(
            "id: wdt\nnamespace: kite.kill\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:{child}"
        ))
        .await;
    let e = c.kite.create(&flow, json!({})).await;
    let pids = pids_in(&pids_file).await;
    gone(&pids).await;
    let e = c.kite.wait_end(&e.id).await;
    assert_eq!(e.state.current, State::Failed);
    assert_eq!(run_of(&e, "nap").state.current, State::Failed);
    let logs = c
        .kite
        .logs_until(&e.id, |l| {
            l.iter().any(|l| l.message.contains("Timeout after"))
        })
        .await;
    assert!(
        logs.iter()
            .any(|l| l.message.contains("Timeout after PT1S")),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_parent_kills_its_subflows_running_shell_task() {
    let c = Case::new().await;
    let pids_file = c.file("pids");
    c.kite
        .deploy(&format!(
            "id: child\nnamespace: kite.kill\ntasks:{}",
            sleeper("nap", &pids_file, "")
        ))
        .await;
    let parent = c
        .kite
        .deploy(
            "id: parent\nnamespace: kite.kill\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: kite.kill\n    flowId: child\n",
        )
        .await;
    let e = c.kite.create(&parent, json!({})).await;
    let pids = pids_in(&pids_file).await;
    c.kill(&e.id, &pids).await;
    let e = c.kite.wait_end(&e.id).await;
    assert_eq!(e.state.current, State::Killed);
    let child_id = run_of(&e, "call")
        .outputs
        .get("executionId")
        .and_then(Value::as_str)
        .expect("child id")
        .to_owned();
    let child = c.kite.wait_end(&child_id).await;
    assert_eq!(child.state.current, State::Killed);
    assert_killed_run(&child, "nap");
    assert_worker_said_killed(&c.kite, &child_id).await;
}
