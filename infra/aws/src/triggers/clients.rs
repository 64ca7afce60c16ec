//! SDK clients for the connection properties of a trigger, built once per distinct
//! connection (endpoint, region, credentials, role) and kept for the life of the process:
//! a tick every second does not load credentials or open TLS connections again.
//!
//! * Region: `region`, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
//! * `endpointOverride` (moto, LocalStack, MinIO): S3 requests are path-style there.
//! * Credentials: `accessKeyId` + `secretKeyId` (+ `sessionToken`); none given: the default
//!   chain (environment, profile, the Lambda's role) — except against an `endpointOverride`
//!   with no `AWS_ACCESS_KEY_ID` in the environment, where fixed test credentials are used
//!   (emulators accept any), as [`Clients::connect`](crate::Clients::connect) does.
//! * `stsRoleArn`: that role is assumed with the credentials above (`stsRoleExternalId`,
//!   `stsRoleSessionName`, `stsRoleSessionDuration`, `stsEndpointOverride`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use kite_flow::triggers::aws_connection::AwsConnection;
use tokio::sync::Mutex;

/// The clients of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionClients {
    /// Amazon S3 (path-style with an endpoint override).
    pub s3: aws_sdk_s3::Client,
    /// Amazon SQS.
    pub sqs: aws_sdk_sqs::Client,
}

/// Clients by connection, built on first use.
#[derive(Debug, Default)]
pub struct TriggerClients {
    by_connection: Mutex<HashMap<AwsConnection, Arc<ConnectionClients>>>,
}

/// The process's clients (shared by the tick and the notification handler).
pub fn shared() -> &'static TriggerClients {
    static CLIENTS: OnceLock<TriggerClients> = OnceLock::new();
    CLIENTS.get_or_init(TriggerClients::default)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The region a connection uses.
pub fn region_of(c: &AwsConnection) -> String {
    c.region
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into())
}

impl TriggerClients {
    /// The clients of `connection` (its properties rendered).
    pub async fn get(&self, connection: &AwsConnection) -> Arc<ConnectionClients> {
        let mut map = self.by_connection.lock().await;
        if let Some(c) = map.get(connection) {
            return c.clone();
        }
        let built = Arc::new(build(connection).await);
        map.insert(connection.clone(), built.clone());
        built
    }
}

async fn build(c: &AwsConnection) -> ConnectionClients {
    let endpoint = c.endpoint_override.clone().filter(|e| !e.trim().is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region_of(c)))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(e) = &endpoint {
        loader = loader.endpoint_url(e.clone());
    }
    match (&c.access_key_id, &c.secret_key_id) {
        (Some(id), Some(secret)) => {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                c.session_token.clone(),
                None,
                "kite-trigger",
            ));
        }
        _ if endpoint.is_some() && env("AWS_ACCESS_KEY_ID").is_none() => {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "kite-emulator",
            ));
        }
        _ => {}
    }
    let mut shared = loader.load().await;
    if let Some(role) = c.sts_role_arn.clone().filter(|r| !r.trim().is_empty()) {
        // STS is reached at its own endpoint, never at the S3/SQS override.
        let mut sts = shared.to_builder();
        sts.set_endpoint_url(c.sts_endpoint_override.clone());
        let sts_conf = sts.build();
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name(
                c.sts_role_session_name
                    .clone()
                    .unwrap_or_else(|| "kite-trigger".into()),
            )
            .session_length(
                c.sts_role_session_duration
                    .map(|d| d.to_std())
                    .unwrap_or(Duration::from_secs(900)),
            );
        if let Some(ext) = &c.sts_role_external_id {
            builder = builder.external_id(ext.clone());
        }
        let provider = builder.configure(&sts_conf).build().await;
        shared = shared
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(endpoint.is_some() || c.force_path_style)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&shared);
    ConnectionClients { s3, sqs }
}
