//! Kite on AWS: the adapters behind the engine's ports, and what builds them.
//!
//! # Layout
//!
//! * [`config`]: [`AwsConfig`] (endpoint, region, prefix) and [`Clients`], the SDK clients
//!   built once per process (Lambda init or CLI start).
//! * [`cold_start`]: cold-start measurement of a built function under a minimal Runtime API.
//! * [`resources`]: the resource definitions shared with Terraform (`terraform/resources.json`).
//! * [`sqs`]: [`SqsQueue`], the `Queue` port on Amazon SQS.
//! * [`dynamo`]: [`DynamoDocuments`], the `DocumentStore` port on one DynamoDB table (one
//!   submodule per concern: item encoding, expressions, writes, transactions, queries, the
//!   TTL sweep, table provisioning).
//! * [`s3`]: [`S3Storage`], the `Storage` port on Amazon S3.
//! * [`secrets`]: `secret()` values from AWS Secrets Manager.
//! * [`infra`]: `kite infra up/down`: creates and removes the resources.
//! * [`wiring`]: a [`Platform`](kite_engine::services::Platform) on the AWS adapters, configured from
//!   the environment (what each Lambda's `main` and `kite --aws-endpoint` build).
//! * [`esm`]: the local twin of Lambda's SQS event source mappings and the EventBridge rule.
//! * [`lambda`]: SQS batches in, partial batch failures out; the four functions' shared glue.
//! * [`triggers`]: the S3 and SQS triggers (polling on the tick, S3 notifications through the
//!   `trigger-events` queue) and [`triggers::registry`], the trigger registry every platform
//!   built here uses.
//! * [`metrics`]: counts AWS requests by service and kind (for the cost benchmark).
//! * `testing` (feature `testing`): starts a moto server on a free port for tests.

pub mod cold_start;
pub mod config;
pub mod dynamo;
pub mod esm;
pub mod infra;
pub mod lambda;
pub mod metrics;
pub mod resources;
pub mod s3;
pub mod secrets;
pub mod sqs;
#[cfg(feature = "testing")]
pub mod testing;
pub mod triggers;
pub mod wiring;

pub use config::{AwsConfig, Clients};
pub use dynamo::DynamoDocuments;
pub use s3::S3Storage;
pub use sqs::SqsQueue;
