//! `storage.LocalFiles` (deprecated in Kestra for `WorkingDirectory` `inputFiles`/`outputFiles`):
//! writes `inputs` (name → content, rendered; a `kestra://` content is copied from internal
//! storage; or a string rendering to a JSON object) into the working directory, then uploads
//! the files matching the `outputs` globs. Output `uris`: relative path → `kestra:///` URI.

use async_trait::async_trait;
use kite_flow::tasks::local_files::LocalFiles;
use serde_json::{Map, Value};

use super::files;
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<LocalFiles>()
            .ok_or_else(|| TaskError::new("not a storage.LocalFiles task"))?;
        tokio::fs::create_dir_all(&ctx.workdir).await?;
        let mut extra = Map::new();
        extra.insert(
            "workingDir".into(),
            Value::String(ctx.workdir.to_string_lossy().into_owned()),
        );
        let inputs = files::render_input_files(ctx, spec.inputs.as_ref(), &extra)?;
        files::write_input_files(ctx, &ctx.workdir, &inputs).await?;
        let globs = spec
            .outputs
            .iter()
            .map(|g| ctx.render_with(g, &extra))
            .collect::<Result<Vec<_>, _>>()?;
        let uris = files::upload_matching(ctx, &ctx.workdir, &globs).await?;
        let mut out = Map::new();
        out.insert("uris".into(), Value::Object(uris));
        Ok(Output::success(out))
    }
}
