//! `kite infra up` / `kite infra down`: creates (idempotently) and removes an
//! installation's queues, table and bucket from [`Resources`], the definitions Terraform
//! creates from too. Functions, the API and the schedule rule are Terraform's alone (an
//! emulator cannot run them; `kite server local --aws-endpoint` plays them).
//! [`watch_buckets`] attaches existing buckets to the S3 notification queue, as Terraform's
//! `watched_buckets` does.

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

/// Sends the `ObjectCreated` events of each of `buckets` (existing buckets) to the
/// installation's notification queue (`trigger-events`), so the S3 triggers watching them
/// fire within seconds: the queue's policy lets these buckets send (replacing its policy),
/// and each bucket's notification configuration becomes that one queue (replacing the
/// bucket's own, as Terraform's `aws_s3_bucket_notification` does). Returns the queue ARN.
pub async fn watch_buckets(
    clients: &Clients,
    res: &Resources,
    buckets: &[String],
) -> Result<String, InfraError> {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    use aws_sdk_sqs::types::QueueAttributeName;
    let Some(queue) = res.notification_queue() else {
        return Err(err(
            "resources.json",
            "no function has a notification_queue",
        ));
    };
    let name = clients.config.name(&queue.name);
    let url = SqsQueue::new(clients)
        .url(&queue.name)
        .await
        .map_err(|e| err(&name, e))?;
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| err(&name, crate::triggers::describe(&e)))?;
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| err(&name, "no QueueArn attribute"))?;
    if buckets.is_empty() {
        return Ok(arn);
    }
    let sources: Vec<String> = buckets
        .iter()
        .map(|b| format!("arn:aws:s3:::{b}"))
        .collect();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "WatchedBuckets",
            "Effect": "Allow",
            "Principal": { "Service": "s3.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": { "ArnLike": { "aws:SourceArn": sources } }
        }]
    });
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| err(&name, crate::triggers::describe(&e)))?;
    for bucket in buckets {
        let config = QueueConfiguration::builder()
            .id(&name)
            .queue_arn(&arn)
            .events(Event::S3ObjectCreated)
            .build()
            .map_err(|e| err(bucket, e))?;
        clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(config)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| err(bucket, crate::triggers::describe(&e)))?;
    }
    Ok(arn)
}
