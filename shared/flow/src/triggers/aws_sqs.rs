//! `io.kestra.plugin.aws.sqs.Trigger`: one execution for a batch of SQS messages.
//!
//! Every `interval`, receives from `queueUrl` until `maxRecords` messages or `maxDuration`
//! (or the queue is empty), stores them in internal storage (one value per line) and
//! starts one execution with `trigger.uri` and `trigger.count`. The messages are deleted
//! once that execution exists.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, PluginType};
use crate::property::Dyn;
use crate::triggers::aws_connection::{self, AwsConnection, SerdeType};
use crate::validate::Validator;

/// Waits for messages in an SQS queue.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqsTrigger {
    /// The queue URL.
    pub queue_url: String,
    /// Most messages per execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_records: Option<Dyn<i64>>,
    /// Longest time spent receiving one batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<IsoDuration>,
    /// Polling interval (default PT60S, at least PT1S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
    /// How message bodies are read (default STRING).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serde_type: Option<SerdeType>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An SQS-compatible endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
    /// Access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_id: Option<String>,
    /// Session token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// A role to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_role_arn: Option<String>,
    /// External id of the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_role_external_id: Option<String>,
    /// Session name of the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_role_session_name: Option<String>,
    /// Session duration of the role (default PT15M).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_role_session_duration: Option<IsoDuration>,
    /// STS endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_endpoint_override: Option<String>,
    /// Kestra's transport switch (accepted; Kite has one client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_mode: Option<bool>,
    /// Path-style requests (S3 only; accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
}

impl SqsTrigger {
    /// The connection properties.
    pub fn connection(&self) -> AwsConnection {
        AwsConnection {
            region: self.region.clone(),
            endpoint_override: self.endpoint_override.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_key_id: self.secret_key_id.clone(),
            session_token: self.session_token.clone(),
            sts_role_arn: self.sts_role_arn.clone(),
            sts_role_external_id: self.sts_role_external_id.clone(),
            sts_role_session_name: self.sts_role_session_name.clone(),
            sts_role_session_duration: self.sts_role_session_duration,
            sts_endpoint_override: self.sts_endpoint_override.clone(),
            force_path_style: self.force_path_style.unwrap_or(false),
        }
    }

    /// The polling interval.
    pub fn interval(&self) -> IsoDuration {
        self.interval.unwrap_or(aws_connection::DEFAULT_INTERVAL)
    }
}

impl PluginType for SqsTrigger {
    const TYPE: &'static str = "io.kestra.plugin.aws.sqs.Trigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        aws_connection::check_interval(v, self.interval);
        aws_connection::check_positive(v, "maxRecords", self.max_records.as_ref());
        aws_connection::check_connection(v, &self.connection());
        if self.compatibility_mode.is_some() {
            v.trigger_warning(
                "compatibilityMode",
                "`compatibilityMode` is ignored: Kite has one AWS client",
            );
        }
        if let Some(d) = self.max_duration
            && d.as_millis() <= 0
        {
            v.trigger_error("maxDuration", format!("must be positive, is `{d}`"));
        }
        if self.max_records.is_none() && self.max_duration.is_none() {
            v.trigger_error(
                "maxRecords",
                "`maxRecords` or `maxDuration` must be set: a batch needs an end",
            );
        }
        if self.queue_url.trim().is_empty() {
            v.trigger_error("queueUrl", "must not be empty");
        }
    }
}
