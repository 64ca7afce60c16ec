//! `io.kestra.plugin.aws.sqs.RealtimeTrigger`: one execution per SQS message.
//!
//! Kestra keeps a consumer open; Kite receives on every scheduler tick (every second
//! locally, every minute on AWS), starts one execution per message with `trigger.data`
//! (the body, parsed when `serdeType` is JSON) under an id derived from the message id, and
//! deletes the message once that execution exists.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, PluginType};
use crate::triggers::aws_connection::{self, AwsConnection, SerdeType};
use crate::validate::Validator;

/// Starts an execution for each message of an SQS queue.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqsRealtimeTrigger {
    /// The queue URL.
    pub queue_url: String,
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

impl SqsRealtimeTrigger {
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
}

impl PluginType for SqsRealtimeTrigger {
    const TYPE: &'static str = "io.kestra.plugin.aws.sqs.RealtimeTrigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        aws_connection::check_connection(v, &self.connection());
        if self.compatibility_mode.is_some() {
            v.trigger_warning(
                "compatibilityMode",
                "`compatibilityMode` is ignored: Kite has one AWS client",
            );
        }
        if self.queue_url.trim().is_empty() {
            v.trigger_error("queueUrl", "must not be empty");
        }
    }
}
