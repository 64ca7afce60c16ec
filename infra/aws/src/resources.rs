//! Kite's AWS resources, read from `terraform/resources.json`: the one definition that
//! Terraform (`terraform/main.tf`, through `jsondecode(file(...))`) and `kite infra up`
//! both create from. Names here are unprefixed; each installation prepends its prefix.

use serde::Deserialize;

/// The JSON text of `terraform/resources.json`, compiled in.
pub const RESOURCES_JSON: &str = include_str!("../../../terraform/resources.json");

/// Every resource of an installation.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// A comment.
    #[serde(rename = "//", default)]
    pub comment: String,
    /// SQS queues, dead-letter queues first.
    pub queues: Vec<QueueDef>,
    /// The DynamoDB table.
    pub table: TableDef,
    /// The S3 bucket.
    pub bucket: BucketDef,
    /// The Lambda functions.
    pub functions: Vec<FunctionDef>,
}

/// One SQS queue.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueueDef {
    /// Name (FIFO names end in `.fifo`).
    pub name: String,
    /// FIFO queue.
    pub fifo: bool,
    /// Default visibility timeout.
    pub visibility_timeout_seconds: u32,
    /// Message retention.
    pub retention_seconds: u32,
    /// Dead-letter queue (unprefixed name).
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// Receives before a message moves to the dead-letter queue.
    #[serde(default)]
    pub max_receive_count: Option<u32>,
    /// FIFO high-throughput mode (deduplication and throughput per message group).
    #[serde(default)]
    pub high_throughput: bool,
}

/// The DynamoDB table (single-table design, see [`crate::dynamo`]).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    /// Name.
    pub name: String,
    /// Partition key attribute (string).
    pub hash_key: String,
    /// TTL attribute (epoch seconds).
    pub ttl_attribute: String,
    /// Global secondary indexes (string keys, projecting [`INDEX_PROJECTION`]).
    pub indexes: Vec<IndexDef>,
}

/// What every GSI projects (Terraform's `projection_type`): the keys only, so rewriting
/// a document without changing its index keys writes nothing to the indexes.
pub const INDEX_PROJECTION: &str = "KEYS_ONLY";

/// One global secondary index.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IndexDef {
    /// Name.
    pub name: String,
    /// Partition key attribute.
    pub hash_key: String,
    /// Sort key attribute.
    pub range_key: String,
}

/// The S3 bucket.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BucketDef {
    /// Name.
    pub name: String,
}

/// One Lambda function.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FunctionDef {
    /// Name (`executor`, `worker`, `scheduler`, `webserver`).
    pub name: String,
    /// The cargo binary packaged as its `bootstrap`.
    pub binary: String,
    /// Memory.
    pub memory_mb: u32,
    /// Timeout.
    pub timeout_seconds: u32,
    /// The SQS queue feeding it (event source mapping).
    #[serde(default)]
    pub source_queue: Option<String>,
    /// A second queue feeding it, where S3 event notifications and EventBridge rules send
    /// (the scheduler's `trigger-events`): a standard queue with a dead-letter queue, fed
    /// through its own event source mapping (`batch_size` messages per invocation).
    #[serde(default)]
    pub notification_queue: Option<String>,
    /// Event source mapping batch size.
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// EventBridge schedule expression.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Behind the API Gateway HTTP API.
    #[serde(default)]
    pub http_api: bool,
}

impl Resources {
    /// The compiled-in definitions.
    pub fn load() -> Self {
        match serde_json::from_str(RESOURCES_JSON) {
            Ok(r) => r,
            // Checked by a unit test, so a broken file never ships.
            Err(e) => panic!("terraform/resources.json is invalid: {e}"),
        }
    }

    /// The queue named `name` (unprefixed).
    pub fn queue(&self, name: &str) -> Option<&QueueDef> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionDef> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The queue S3 event notifications go to (the first function's `notification_queue`).
    pub fn notification_queue(&self) -> Option<&QueueDef> {
        self.functions
            .iter()
            .find_map(|f| f.notification_queue.as_deref())
            .and_then(|q| self.queue(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_and_are_consistent() {
        let r: Resources = serde_json::from_str(RESOURCES_JSON).expect("valid resources.json");
        for q in &r.queues {
            assert_eq!(q.fifo, q.name.ends_with(".fifo"), "{}", q.name);
            if let Some(d) = &q.dead_letter {
                let dlq = r.queue(d).expect("dead-letter queue declared");
                assert_eq!(dlq.fifo, q.fifo, "{} and its DLQ are of one kind", q.name);
                assert!(q.max_receive_count.is_some());
            }
        }
        for f in &r.functions {
            if let Some(q) = &f.notification_queue {
                let q = r.queue(q).expect("notification queue declared");
                assert!(!q.fifo, "S3 cannot notify a FIFO queue");
                assert!(q.dead_letter.is_some());
                assert!(q.visibility_timeout_seconds >= f.timeout_seconds);
            }
            if let Some(q) = &f.source_queue {
                let q = r.queue(q).expect("source queue declared");
                assert!(
                    q.visibility_timeout_seconds >= f.timeout_seconds,
                    "queue {} must hide messages at least as long as {} runs",
                    q.name,
                    f.name
                );
            }
        }
    }
}
