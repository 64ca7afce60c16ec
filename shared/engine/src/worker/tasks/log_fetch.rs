//! `log.Fetch`: writes the log lines of an execution to a file of internal storage.
//!
//! The execution is the current one unless `executionId` is set; `namespace` and `flowId`
//! go together and only with `executionId` (they default to the current flow's), like
//! Kestra. Lines are kept when their level is at least `level` (default INFO) and, with
//! `tasksId`, when they come from one of those tasks. The file holds one JSON object per
//! line (Kestra's `LogEntry` shape, which is also valid Ion text) in `.ion`; outputs `uri`
//! and `size` (the number of lines).

use async_trait::async_trait;
use kite_flow::plugin::LogLevel;
use kite_flow::tasks::fetch::Fetch;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<Fetch>()
            .ok_or_else(|| TaskError::new("not a log.Fetch task"))?;
        let render = |s: &Option<String>| {
            s.as_ref()
                .map(|v| ctx.render(v).map(|r| r.trim().to_owned()))
                .transpose()
        };
        let (execution_id, namespace, flow_id) = match (
            render(&spec.execution_id)?,
            render(&spec.namespace)?,
            render(&spec.flow_id)?,
        ) {
            (Some(e), Some(n), Some(f)) => (e, n, f),
            (Some(e), None, None) => (e, ctx.job.namespace.clone(), ctx.job.flow_id.clone()),
            (Some(_), _, _) => {
                return Err(TaskError::new(
                    "Both `namespace` and `flowId` must be set when `executionId` is set.",
                ));
            }
            (None, None, None) => (
                ctx.job.execution_id.clone(),
                ctx.job.namespace.clone(),
                ctx.job.flow_id.clone(),
            ),
            (None, _, _) => {
                return Err(TaskError::new(
                    "`namespace` and `flowId` should only be set when `executionId` is set.",
                ));
            }
        };
        let min_level = spec.level.unwrap_or(LogLevel::Info);
        let mut tasks = Vec::with_capacity(spec.tasks_id.len());
        for t in &spec.tasks_id {
            tasks.push(ctx.render(t)?);
        }
        let entries = ctx.repos.logs.of_execution(&execution_id).await?;
        tokio::fs::create_dir_all(&ctx.workdir).await?;
        let local = ctx
            .workdir
            .join(format!(".kite-logs-{}.ion", ctx.job.task_run_id));
        let result = async {
            let file = tokio::fs::File::create(&local).await?;
            let mut w = tokio::io::BufWriter::new(file);
            let mut count: u64 = 0;
            for e in entries.iter().filter(|e| {
                e.level >= min_level
                    && e.namespace == namespace
                    && e.flow_id == flow_id
                    && (tasks.is_empty() || e.task_id.as_ref().is_some_and(|t| tasks.contains(t)))
            }) {
                let line =
                    serde_json::to_string(e).map_err(|err| TaskError::new(err.to_string()))?;
                w.write_all(line.as_bytes()).await?;
                w.write_all(b"\n").await?;
                count += 1;
            }
            w.flush().await?;
            drop(w);
            let uri = ctx
                .put_output_file(&local, &format!("{}.ion", ctx.job.task_run_id))
                .await?;
            Ok::<_, TaskError>((uri, count))
        }
        .await;
        let _ = tokio::fs::remove_file(&local).await;
        let (uri, count) = result?;
        let mut out = Map::new();
        out.insert("size".into(), Value::from(count));
        out.insert("uri".into(), Value::String(uri));
        Ok(Output::success(out))
    }
}
