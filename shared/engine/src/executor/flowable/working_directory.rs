//! `WorkingDirectory`: runnable children in sequence, sharing one directory on the worker
//! (the worker keys the directory by this run's id).

use kite_flow::Task;
use kite_flow::tasks::working_directory::WorkingDirectory;

use crate::executor::Cx;
use crate::executor::branch::{self, Decision, Lists};
use crate::model::State;

/// Next children.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    let Some(s) = task.spec::<WorkingDirectory>() else {
        return Decision::Done(State::Failed);
    };
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

/// What a child job of WorkingDirectory run `wd` needs: its `inputFiles` (rendered) and
/// `outputFiles` globs; the worker writes the former once and uploads the latter after
/// each child.
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

/// Merges files uploaded by a child into the WorkingDirectory run's `outputFiles`.
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
