//! ForEachItem's hidden `<id>_merge` step: the flow outputs of every child execution, one
//! JSON line per child, in a stored file; output `subflowOutputs`.

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let children: Vec<String> = ctx
            .job
            .extra
            .get("children")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        tokio::fs::create_dir_all(&ctx.workdir).await?;
        let path = ctx
            .workdir
            .join(format!(".kite-merge-{}.ion", ctx.job.task_run_id));
        let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&path).await?);
        for id in &children {
            let outputs = match ctx.repos.executions.get(id).await? {
                Some((rec, _)) => Value::Object(rec.execution.outputs),
                None => Value::Null,
            };
            file.write_all(outputs.to_string().as_bytes()).await?;
            file.write_all(b"\n").await?;
        }
        file.flush().await?;
        drop(file);
        let uri = ctx.put_output_file(&path, "subflowOutputs.ion").await;
        let _ = tokio::fs::remove_file(&path).await;
        let mut out = Map::new();
        out.insert("subflowOutputs".into(), Value::String(uri?));
        Ok(Output::success(out))
    }
}
