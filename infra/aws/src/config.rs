//! Where Kite's AWS resources are and the SDK clients that reach them.
//!
//! [`AwsConfig`] names an installation: an optional endpoint (an emulator such as moto or
//! LocalStack; none in AWS itself), the region, and the prefix every resource name carries.
//! [`Clients`] holds one client per service, built once per process (in a Lambda, during
//! init) and cheap to clone. Every client counts its requests in the shared [`Metrics`].

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;

use crate::metrics::Metrics;

/// Default resource prefix.
pub const DEFAULT_PREFIX: &str = "kite-";

/// One installation of Kite's AWS resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Emulator endpoint (`http://127.0.0.1:5000`); `None` in AWS.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when unset).
    pub region: String,
    /// Prefix of every resource name (`kite-`).
    pub prefix: String,
}

impl AwsConfig {
    /// An installation on an emulator at `endpoint` with resource names starting with `prefix`.
    pub fn emulator(endpoint: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            prefix: prefix.into(),
        }
    }

    /// From the environment: `KITE_AWS_ENDPOINT` (or `AWS_ENDPOINT_URL`), `AWS_REGION`
    /// (`us-east-1`), `KITE_PREFIX` (`kite-`).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            endpoint: var("KITE_AWS_ENDPOINT").or_else(|| var("AWS_ENDPOINT_URL")),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            prefix: var("KITE_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.into()),
        }
    }

    /// The full name of resource `name` (`kite-` + `worker`).
    pub fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// The SDK clients of one process.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Amazon SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// Amazon DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Amazon S3.
    pub s3: aws_sdk_s3::Client,
    /// AWS Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Requests made through these clients.
    pub metrics: Metrics,
    /// The installation.
    pub config: AwsConfig,
}

impl Clients {
    /// Builds the clients. On an emulator endpoint without credentials in the environment,
    /// fixed test credentials are used (emulators accept any).
    pub async fn connect(config: &AwsConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(config.region.clone()))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "kite-emulator",
                ));
            }
        }
        let shared = loader.load().await;
        let metrics = Metrics::default();
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&shared)
                .interceptor(metrics.interceptor())
                .build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&shared)
                .interceptor(metrics.interceptor())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(config.endpoint.is_some())
                .interceptor(metrics.interceptor())
                .build(),
        );
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&shared)
                .interceptor(metrics.interceptor())
                .build(),
        );
        Self {
            sqs,
            dynamodb,
            s3,
            secrets,
            metrics,
            config: config.clone(),
        }
    }
}
