//! What the AWS triggers (`io.kestra.plugin.aws.s3.Trigger`, `io.kestra.plugin.aws.sqs.Trigger`,
//! `io.kestra.plugin.aws.sqs.RealtimeTrigger`) share: the connection properties of Kestra's
//! AWS plugin as one plain view ([`AwsConnection`]), the message deserialisation
//! ([`SerdeType`]) and the checks of a polling `interval`.
//!
//! Not a plugin type itself: each trigger declares the connection properties among its own
//! (serde's `flatten` does not combine with `deny_unknown_fields`) and hands them out with
//! its `connection()`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::validate::Validator;

/// The connection properties of Kestra's AWS plugin, every one an expression rendered
/// when the trigger is evaluated. No credentials: the default chain (environment, profile,
/// instance or Lambda role); `stsRoleArn`: that role is assumed with them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AwsConnection {
    /// `region` (default: `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// `endpointOverride`: an S3- or SQS-compatible endpoint (moto, LocalStack, MinIO).
    pub endpoint_override: Option<String>,
    /// `accessKeyId`.
    pub access_key_id: Option<String>,
    /// `secretKeyId`.
    pub secret_key_id: Option<String>,
    /// `sessionToken`.
    pub session_token: Option<String>,
    /// `stsRoleArn`: a role to assume.
    pub sts_role_arn: Option<String>,
    /// `stsRoleExternalId`.
    pub sts_role_external_id: Option<String>,
    /// `stsRoleSessionName`.
    pub sts_role_session_name: Option<String>,
    /// `stsRoleSessionDuration` (default PT15M).
    pub sts_role_session_duration: Option<IsoDuration>,
    /// `stsEndpointOverride`.
    pub sts_endpoint_override: Option<String>,
    /// `forcePathStyle` / `pathStyleAccess`: path-style S3 requests (always on with an
    /// `endpointOverride`).
    pub force_path_style: bool,
}

/// How an SQS message body becomes a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SerdeType {
    /// The body as a string.
    #[default]
    String,
    /// The body parsed as JSON.
    Json,
}

/// The polling interval when none is given (Kestra's `PT60S`).
pub const DEFAULT_INTERVAL: IsoDuration = IsoDuration::from_secs(60);

/// Rejects an `interval` under one second (a poll every few milliseconds would hammer the
/// source and the store).
pub(crate) fn check_interval(v: &mut Validator<'_>, interval: Option<IsoDuration>) {
    if let Some(i) = interval
        && i.as_millis() < 1000
    {
        v.trigger_error(
            "interval",
            format!("`{i}` is too short: the interval must be at least one second (PT1S)"),
        );
    }
}

/// Rejects a non-positive count property (`maxKeys`, `maxRecords`) given as a literal.
pub(crate) fn check_positive(
    v: &mut Validator<'_>,
    name: &str,
    value: Option<&crate::property::Dyn<i64>>,
) {
    if let Some(n) = value.and_then(|d| d.value())
        && *n < 1
    {
        v.trigger_error(name, format!("must be at least 1, is {n}"));
    }
}

/// Rejects `stsRoleSessionDuration` outside STS's bounds (15 minutes to 12 hours) and half a
/// pair of keys.
pub(crate) fn check_connection(v: &mut Validator<'_>, c: &AwsConnection) {
    if let Some(d) = c.sts_role_session_duration
        && !(900_000..=43_200_000).contains(&d.as_millis())
    {
        v.trigger_error(
            "stsRoleSessionDuration",
            format!("`{d}` is outside what STS accepts (PT15M to PT12H)"),
        );
    }
    if c.access_key_id.is_some() != c.secret_key_id.is_some() {
        let missing = if c.access_key_id.is_some() {
            "secretKeyId"
        } else {
            "accessKeyId"
        };
        let given = if missing == "accessKeyId" {
            "secretKeyId"
        } else {
            "accessKeyId"
        };
        v.trigger_error(
            given,
            format!("`accessKeyId` and `secretKeyId` go together: `{missing}` is missing"),
        );
    }
}
