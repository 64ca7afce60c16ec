//! `WorkingDirectory`: runnable children in sequence, in one directory, as ONE unit of work
//! on ONE worker (as Kestra runs it).
//!
//! The executor starts the run with one attempt and one [`Action::Dispatch`] of the
//! WorkingDirectory itself ([`start`]); the worker (`crate::worker::working_directory`)
//! runs the children in one directory, deciding them with this same module on its private
//! copy of the record (where `internal.unit` names the run, [`next`] resolves the children
//! as a sequential branch: `runIf`, `allowFailure`, retries, `errors` and `finally` behave
//! as anywhere else), and reports an [`Event::UnitResult`](crate::executor::Event) with the
//! children's task runs; [`apply_unit`] adds them to the execution, once. A run started
//! before units existed (RUNNING, no attempt) goes on child by child (`is_legacy`).

use kite_flow::Task;
use kite_flow::plugin::PluginType;
use kite_flow::tasks::working_directory::WorkingDirectory;

use crate::executor::branch::{self, Decision, Lists};
use crate::executor::{Action, Cx, UnitResult};
use crate::model::State;

/// Whether `task` is a WorkingDirectory.
pub fn is(task: &Task) -> bool {
    task.type_name == WorkingDirectory::TYPE
}

/// Whether WorkingDirectory run `wd` predates units (RUNNING without an attempt): its
/// children are then run one job each, as before.
pub fn is_legacy(cx: &Cx<'_>, wd: &str) -> bool {
    cx.run(wd).is_some_and(|r| r.attempts.is_empty())
}

/// Starts the unit: one attempt, one job for the whole WorkingDirectory (its `inputFiles`,
/// `outputFiles` and `cache` in the job's `extra`).
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    cx.push_attempt(id);
    let mut extra = serde_json::Map::new();
    job_extra(cx, id, &mut extra);
    let job = cx.worker_job(task, id, extra);
    cx.actions.push(Action::Dispatch(job));
    Ok(())
}

/// Next children: on the worker running the unit, the sequential resolution of the
/// children; in the executor, wait for the unit's attempt, then end as it ended.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = task.spec::<WorkingDirectory>() else {
        return Decision::Done(State::Failed);
    };
    let here = cx.rec.internal.unit.as_deref() == Some(id);
    if !here && let Some(a) = cx.run(id).and_then(|r| r.attempts.last()) {
        let state = a.state.current;
        return if state.is_terminated() {
            Decision::Done(state)
        } else {
            Decision::Wait
        };
    }
    branch::sequential(
        cx,
        Some(id),
        Lists {
            tasks: &s.tasks,
            errors: &s.errors,
            finally: &s.finally,
        },
        None,
    )
}

/// Applies a unit's result: its children's task runs join the execution and the unit's
/// attempt ends in the reported state ([`next`] then ends the run). A result for an attempt
/// that already ended (a unit run twice under at-least-once delivery, or killed) is ignored.
pub fn apply_unit(cx: &mut Cx<'_>, u: &UnitResult) {
    let r = &u.result;
    let Some(run) = cx.run(&r.task_run_id) else {
        return;
    };
    let current = run.attempts.len().saturating_sub(1) as u32;
    let live = run
        .attempts
        .last()
        .is_some_and(|a| !a.state.current.is_terminated());
    if run.current() != State::Running || !live || current != r.attempt {
        return; // late or duplicate result
    }
    let wd = r.task_run_id.clone();
    let task_id = run.task_id.clone();
    for child in &u.task_runs {
        if child.parent_task_run_id.as_deref() != Some(wd.as_str()) || cx.run(&child.id).is_some() {
            continue;
        }
        cx.rec.execution.task_run_list.push(child.clone());
    }
    cx.rec
        .internal
        .error_logs
        .extend(u.error_logs.iter().cloned());
    cx.rec.internal.seq = cx.rec.internal.seq.max(u.seq);
    for m in &r.error_logs {
        cx.rec.internal.error_logs.push(serde_json::json!({
            "taskId": task_id,
            "taskRunId": wd,
            "message": m,
            "level": "ERROR",
        }));
    }
    cx.set_outputs(&wd, r.outputs.clone());
    let now = cx.now;
    if let Some(a) = cx.run_mut(&wd).and_then(|run| run.attempts.last_mut()) {
        a.state.set(r.state, now);
    }
}

/// What the job of WorkingDirectory run `wd` needs: its `inputFiles` (rendered),
/// `outputFiles` globs and `cache`; the worker writes the inputs and restores the cache
/// before the first child, uploads the outputs and saves the cache after the last.
pub fn job_extra(cx: &Cx<'_>, wd: &str, extra: &mut serde_json::Map<String, serde_json::Value>) {
    let Some(spec) = cx
        .run(wd)
        .and_then(|r| cx.task(&r.task_id))
        .and_then(|t| t.spec::<WorkingDirectory>())
    else {
        return;
    };
    if let Some(files) = &spec.input_files {
        match cx.render_value(wd, files) {
            Ok(v) => {
                extra.insert(crate::worker::WD_INPUT_FILES.into(), v);
            }
            Err(e) => {
                extra.insert(
                    crate::worker::WD_INPUT_FILES.into(),
                    serde_json::Value::String(format!("error: {e}")),
                );
            }
        }
    }
    if let Some(cache) = &spec.cache {
        let e = &cx.rec.execution;
        let wd_task = cx.run(wd).map(|r| r.task_id.clone()).unwrap_or_default();
        let key = format!(
            "{}/{}/cache/{}/cache.json",
            e.namespace.replace('.', "/"),
            e.flow_id,
            wd_task
        );
        extra.insert(
            crate::worker::WD_CACHE.into(),
            serde_json::json!({
                "key": key,
                "patterns": cache.patterns,
                "ttlMillis": cache.ttl.map(|t| t.as_millis()).unwrap_or(i64::MAX),
            }),
        );
    }
    if !spec.output_files.is_empty() {
        extra.insert(
            crate::worker::WD_OUTPUT_FILES.into(),
            serde_json::Value::Array(
                spec.output_files
                    .iter()
                    .map(|g| serde_json::Value::String(g.clone()))
                    .collect(),
            ),
        );
    }
}

/// Merges files uploaded by a child (of a run started before units) into the WorkingDirectory run's `outputFiles`.
pub fn merge_output_files(cx: &mut Cx<'_>, wd: &str, files: serde_json::Value) {
    let serde_json::Value::Object(files) = files else {
        return;
    };
    if let Some(run) = cx.rec.execution.task_run_mut(wd) {
        let entry = run
            .outputs
            .entry("outputFiles")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(m) = entry {
            m.extend(files);
        }
    }
}
