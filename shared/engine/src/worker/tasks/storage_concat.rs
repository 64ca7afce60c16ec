//! `storage.Concat`: concatenates files of internal storage, in order, into a new file
//! (output `uri`). `files` is a list of URIs or a string rendering to a JSON list; each
//! element is rendered. `separator` (rendered) is written after every file, the last one
//! included, like Kestra. `extension` (default `.tmp`) ends the new file's name. The files
//! are streamed, never held in memory.

use async_trait::async_trait;
use kite_flow::tasks::storage_concat::StorageConcat;
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
            .spec::<StorageConcat>()
            .ok_or_else(|| TaskError::new("not a storage.Concat task"))?;
        let files = uri_list(ctx, &spec.files)?;
        let separator = spec.separator.as_ref().map(|s| ctx.render(s)).transpose()?;
        let extension = match &spec.extension {
            Some(e) => ctx.render(e)?,
            None => ".tmp".to_owned(),
        };
        let name = format!("concat{extension}");
        // Validate the name before doing any work.
        ctx.output_key(&name)?;
        tokio::fs::create_dir_all(&ctx.workdir).await?;
        let local = ctx
            .workdir
            .join(format!(".kite-concat-{}{extension}", ctx.job.task_run_id));
        let result = async {
            let file = tokio::fs::File::create(&local).await?;
            let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
            for uri in &files {
                let key = ctx.input_key(uri)?;
                let mut reader = ctx.storage.open(&key).await?;
                tokio::io::copy(&mut reader, &mut writer).await?;
                if let Some(sep) = &separator {
                    writer.write_all(sep.as_bytes()).await?;
                }
            }
            writer.flush().await?;
            drop(writer);
            ctx.put_output_file(&local, &name).await
        }
        .await;
        let _ = tokio::fs::remove_file(&local).await;
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(result?));
        Ok(Output::success(out))
    }
}

/// A list of URIs: a JSON list (elements rendered) or a string rendering to a JSON list.
fn uri_list(ctx: &RunContext, files: &Value) -> Result<Vec<String>, TaskError> {
    let list = match files {
        Value::Array(items) => items.clone(),
        Value::String(s) => {
            let rendered = ctx.render(s)?;
            match serde_json::from_str::<Value>(&rendered) {
                Ok(Value::Array(items)) => items,
                _ => {
                    return Err(TaskError::new(format!(
                        "`files` must be a list of kestra:// URIs or a JSON string of one, got `{rendered}`"
                    )));
                }
            }
        }
        other => {
            return Err(TaskError::new(format!(
                "`files` must be a list of kestra:// URIs, got {other}"
            )));
        }
    };
    list.iter()
        .map(|v| match v {
            Value::String(s) => Ok(ctx.render(s)?.trim().to_owned()),
            other => Err(TaskError::new(format!(
                "`files` must only hold kestra:// URIs, got {other}"
            ))),
        })
        .collect()
}
