//! `kite infra up|down [--aws-endpoint URL] [--prefix NAME]`: creates or removes an
//! installation's queues, table and bucket from the resource definitions Terraform uses
//! (`terraform/resources.json`). With `--aws-endpoint`, on an emulator (moto, LocalStack);
//! without, in the AWS account of the environment's credentials. `up --watch-bucket NAME`
//! also sends the uploads of an existing bucket to the trigger-events queue (S3 triggers).

use std::process::ExitCode;

use anyhow::Context as _;
use kite_aws::resources::Resources;
use kite_aws::{AwsConfig, Clients};

/// Runs `up` (`create = true`) or `down`.
pub fn run(
    endpoint: Option<String>,
    prefix: String,
    create: bool,
    watch_buckets: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let mut config = AwsConfig::from_env();
        config.endpoint = endpoint.or(config.endpoint);
        config.prefix = prefix;
        let clients = Clients::connect(&config).await;
        let where_ = config.endpoint.clone().unwrap_or_else(|| "AWS".into());
        let res = Resources::load();
        let report = if create {
            kite_aws::infra::up(&clients, &res).await
        } else {
            kite_aws::infra::down(&clients, &res).await
        }
        .with_context(|| format!("infra {} on {where_}", if create { "up" } else { "down" }))?;
        let verb = if create { "ready" } else { "removed" };
        for q in &report.queues {
            println!("queue  {q} {verb}");
        }
        for t in &report.tables {
            println!("table  {t} {verb}");
        }
        for b in &report.buckets {
            println!("bucket {b} {verb}");
        }
        if create && !watch_buckets.is_empty() {
            let arn = kite_aws::infra::watch_buckets(&clients, &res, &watch_buckets)
                .await
                .with_context(|| format!("watching buckets on {where_}"))?;
            for b in &watch_buckets {
                println!("bucket {b} watched: its uploads notify {arn}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
