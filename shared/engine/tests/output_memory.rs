//! A script task flooding stdout runs with bounded memory: its output is read line by line
//! (a line holds at most 1 MiB) and the attempt keeps at most 10,000 lines / 10 MiB of logs.
//!
//! Alone in its test binary so that the process's peak RSS (`VmHWM`, reset through
//! `/proc/self/clear_refs` where allowed) measures this task only. Memory, unlike time, does
//! not depend on the machine's load.

use std::sync::Arc;

use kite_engine::executor::{Expressions, WorkerJob};
use kite_engine::model::State;
use kite_engine::repo::Repos;
use kite_engine::worker::{Runners, run_job};
use kite_ports::{MemoryDocuments, MemoryStorage, SystemClock};
use serde_json::{Map, Value};

/// Most the process may grow while the task runs.
const MAX_GROWTH_KB: u64 = 64 * 1024;

/// `VmRSS` or `VmHWM` of this process, in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resets the peak (`VmHWM`) to the current RSS when the kernel allows it; the RSS now.
fn reset_peak() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kb("VmRSS")
}

async fn run_shell(command: &str) -> (kite_engine::executor::WorkerResult, usize, u64) {
    let storage = Arc::new(MemoryStorage::new());
    let repos = Repos::new(
        Arc::new(MemoryDocuments::new(Arc::new(SystemClock))),
        storage.clone(),
    );
    let source = format!(
        "id: flood\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - {}\n",
        serde_json::to_string(command).unwrap()
    );
    let flow = kite_flow::parse_flow(&source).flow.expect("valid flow");
    let task = flow.find_task("t").cloned().unwrap();
    let job = WorkerJob {
        execution_id: "exec1".into(),
        namespace: "company.team".into(),
        flow_id: "flood".into(),
        flow_revision: 1,
        task_id: "t".into(),
        task_run_id: "tr-t".into(),
        attempt: 0,
        vars: Map::new(),
        working_directory: None,
        extra: Default::default(),
    };
    let root = tempfile::tempdir().unwrap();
    let rt = Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]);
    let before = reset_peak();
    let (result, logs) = run_job(
        job,
        task,
        &Runners::core(),
        rt,
        storage,
        repos.clone(),
        Arc::new(SystemClock),
        root.path(),
        None,
    )
    .await;
    // The logs are stored too, as the worker does.
    repos.logs.append(&logs).await.expect("logs stored");
    let growth = status_kb("VmHWM").saturating_sub(before);
    (result, logs.len(), growth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_megabytes_of_stdout_grow_memory_by_less_than_64_mb() {
    // Warm up (runtime, first process spawn), then measure.
    run_shell("echo warm").await;

    // 200 MiB in lines of 100 bytes (2 million lines).
    let line = "a".repeat(99);
    let (result, kept, growth) = run_shell(&format!("yes {line} | head -c 209715200")).await;
    assert_eq!(result.state, State::Success, "{:?}", result.outputs);
    assert_eq!(result.outputs["stdOutLineCount"], Value::from(2_097_152));
    assert!(kept <= 10_001, "{kept} lines kept");
    eprintln!("200 MiB of 100-byte lines: peak RSS growth {growth} kB");
    assert!(
        growth < MAX_GROWTH_KB,
        "RSS grew by {growth} kB for 200 MiB of stdout lines"
    );

    // 200 MiB without a single newline.
    let (result, kept, growth) = run_shell("head -c 209715200 /dev/zero | tr '\\0' b").await;
    assert_eq!(result.state, State::Success, "{:?}", result.outputs);
    assert_eq!(kept, 2, "the DEBUG line and the cut line");
    eprintln!("200 MiB in one line: peak RSS growth {growth} kB");
    assert!(
        growth < MAX_GROWTH_KB,
        "RSS grew by {growth} kB for one 200 MiB line"
    );
}
