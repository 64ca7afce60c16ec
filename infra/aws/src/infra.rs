//! `kite infra up` / `kite infra down`: creates (idempotently) and removes an
//! installation's queues, table and bucket from [`Resources`], the definitions Terraform
//! creates from too. Functions, the API and the schedule rule are Terraform's alone (an
//! emulator cannot run them; `kite server local --aws-endpoint` plays them).

use crate::config::Clients;
use crate::resources::Resources;
use crate::{S3Storage, SqsQueue, dynamo};

/// What `up` or `down` touched, by full name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Queues.
    pub queues: Vec<String>,
    /// Tables.
    pub tables: Vec<String>,
    /// Buckets.
    pub buckets: Vec<String>,
}

/// A failure, naming the resource.
#[derive(Debug, thiserror::Error)]
#[error("{resource}: {message}")]
pub struct InfraError {
    /// The resource's full name.
    pub resource: String,
    /// What went wrong.
    pub message: String,
}

fn err(resource: &str, e: impl std::fmt::Display) -> InfraError {
    InfraError {
        resource: resource.to_owned(),
        message: e.to_string(),
    }
}

/// Creates every resource (dead-letter queues first); existing ones are updated or kept.
pub async fn up(clients: &Clients, res: &Resources) -> Result<Report, InfraError> {
    let cfg = &clients.config;
    let mut report = Report::default();
    let sqs = SqsQueue::new(clients);
    for q in &res.queues {
        let name = cfg.name(&q.name);
        sqs.create(q).await.map_err(|e| err(&name, e))?;
        report.queues.push(name);
    }
    let table = cfg.name(&res.table.name);
    dynamo::create_table(clients, &res.table, &table)
        .await
        .map_err(|e| err(&table, e))?;
    report.tables.push(table);
    let bucket = cfg.name(&res.bucket.name);
    S3Storage::create_bucket(clients, &bucket)
        .await
        .map_err(|e| err(&bucket, e))?;
    report.buckets.push(bucket);
    Ok(report)
}

/// Removes every resource (missing ones are fine).
pub async fn down(clients: &Clients, res: &Resources) -> Result<Report, InfraError> {
    let cfg = &clients.config;
    let mut report = Report::default();
    let sqs = SqsQueue::new(clients);
    for q in res.queues.iter().rev() {
        let name = cfg.name(&q.name);
        sqs.delete_queue(&q.name).await.map_err(|e| err(&name, e))?;
        report.queues.push(name);
    }
    let table = cfg.name(&res.table.name);
    dynamo::delete_table(clients, &table)
        .await
        .map_err(|e| err(&table, e))?;
    report.tables.push(table);
    let bucket = cfg.name(&res.bucket.name);
    S3Storage::delete_bucket(clients, &bucket)
        .await
        .map_err(|e| err(&bucket, e))?;
    report.buckets.push(bucket);
    Ok(report)
}
