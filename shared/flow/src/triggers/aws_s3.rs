//! `io.kestra.plugin.aws.s3.Trigger`: an execution for each object found in a bucket.
//!
//! Polls `bucket` (under `prefix`, at most `maxKeys` keys, keys fully matching `regexp`)
//! every `interval`; on AWS, the bucket's event notifications reach the scheduler within
//! seconds too (both paths start the same execution for an object: its id derives from
//! bucket, key and ETag). Once the execution exists, `action` moves the object under
//! `moveTo` (`MOVE`), deletes it (`DELETE`) or leaves it (`NONE`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, PluginType};
use crate::property::Dyn;
use crate::triggers::aws_connection::{self, AwsConnection};
use crate::validate::Validator;

/// What happens to a detected object once its execution exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum S3Action {
    /// Copy it to `moveTo.bucket` (default: the same bucket) under `moveTo.key/<file name>`,
    /// then delete it.
    Move,
    /// Delete it.
    Delete,
    /// Leave it (the flow must remove it, or it is detected again with each change).
    None,
}

/// Which keys count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum S3Filter {
    /// Files only (keys not ending in `/`).
    Files,
    /// "Directories" only (keys ending in `/`).
    Directory,
    /// Both.
    #[default]
    Both,
}

/// Where `MOVE` puts an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveTo {
    /// Destination bucket (default: the watched bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Destination folder: the object goes to `<key>/<its file name>`.
    pub key: String,
}

/// Waits for files in an S3 bucket.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Trigger {
    /// The watched bucket.
    pub bucket: String,
    /// Only keys starting with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Only keys matching this regular expression (the whole key, as Java's `matches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
    /// Keys listed per poll (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_keys: Option<Dyn<i64>>,
    /// Polling interval (default PT60S, at least PT1S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
    /// What to do with a detected object once its execution exists.
    pub action: S3Action,
    /// Destination of `MOVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to: Option<MoveTo>,
    /// Files, directories or both (default BOTH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<S3Filter>,
    /// List delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Start listing after this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// List encoding type (`url`; accepted: keys always reach the flow decoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    /// The account expected to own the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_bucket_owner: Option<String>,
    /// `requester` for requester-pays buckets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_payer: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An S3-compatible endpoint.
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
    /// Path-style requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    /// Path-style requests (the S3 tasks' name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style_access: Option<bool>,
}

impl S3Trigger {
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
            force_path_style: self.force_path_style.unwrap_or(false)
                || self.path_style_access.unwrap_or(false),
        }
    }

    /// The polling interval.
    pub fn interval(&self) -> IsoDuration {
        self.interval.unwrap_or(aws_connection::DEFAULT_INTERVAL)
    }

    /// Whether `key` passes `filter` (the regular expression is the runtime's).
    pub fn filter_accepts(&self, key: &str) -> bool {
        match self.filter.unwrap_or_default() {
            S3Filter::Both => true,
            S3Filter::Files => !key.ends_with('/'),
            S3Filter::Directory => key.ends_with('/'),
        }
    }
}

impl PluginType for S3Trigger {
    const TYPE: &'static str = "io.kestra.plugin.aws.s3.Trigger";
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        aws_connection::check_interval(v, self.interval);
        aws_connection::check_positive(v, "maxKeys", self.max_keys.as_ref());
        aws_connection::check_connection(v, &self.connection());
        if self.encoding_type.is_some() {
            v.trigger_warning(
                "encodingType",
                "`encodingType` is ignored: object keys always reach the flow decoded",
            );
        }
        if self.compatibility_mode.is_some() {
            v.trigger_warning(
                "compatibilityMode",
                "`compatibilityMode` is ignored: Kite has one AWS client",
            );
        }
        match (&self.action, &self.move_to) {
            (S3Action::Move, None) => v.trigger_error(
                "moveTo",
                "`action: MOVE` needs `moveTo` (`key`, and optionally `bucket`): where detected \
                 objects go",
            ),
            (S3Action::Move, Some(m)) if m.key.trim().trim_matches('/').is_empty() => v
                .trigger_error(
                    "moveTo",
                    "`moveTo.key` is empty: objects would be moved onto themselves",
                ),
            _ => {}
        }
        if self.bucket.trim().is_empty() {
            v.trigger_error("bucket", "must not be empty");
        }
        if let Some(re) = &self.regexp
            && !crate::property::is_expression(re)
            && let Err(e) = fancy_regex::Regex::new(re)
        {
            v.trigger_error(
                "regexp",
                format!("`{re}` is not a valid regular expression: {e}"),
            );
        }
    }
}
