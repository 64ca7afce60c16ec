//! The AWS triggers of Kestra's AWS plugin, on the engine's trigger core.
//!
//! # Layout
//! - [`clients`]: SDK clients for a trigger's connection properties, cached per connection.
//! - [`s3`]: `io.kestra.plugin.aws.s3.Trigger` — polls a bucket; one execution per object
//!   (key + ETag), the object moved or deleted once its execution exists.
//! - [`sqs`]: `io.kestra.plugin.aws.sqs.Trigger` (a batch of messages → one execution,
//!   the messages in internal storage) and `io.kestra.plugin.aws.sqs.RealtimeTrigger` (one
//!   execution per message); messages are deleted once their execution exists.
//! - [`events`]: S3 event notifications (ObjectCreated, via the `trigger-events` queue or an
//!   EventBridge rule) fire the S3 triggers listening on the bucket within seconds, with the
//!   same executions polling would start.
//!
//! [`registry`] is the engine's core registry plus these three; every platform built by
//! this crate (the Lambdas, `kite --aws-endpoint`) and `kite server local` use it.

pub mod clients;
pub mod events;
pub mod s3;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use kite_engine::triggers::{EvalContext, TriggerError, TriggerRegistry};
use kite_flow::plugin::PluginType;
use kite_flow::triggers::aws_connection::AwsConnection;
use kite_flow::triggers::aws_s3::S3Trigger;
use kite_flow::triggers::aws_sqs::SqsTrigger;
use kite_flow::triggers::aws_sqs_realtime::SqsRealtimeTrigger;
use serde_json::Map;

/// How the AWS triggers receive (defaults suit both homes; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Visibility timeout of the messages an SQS trigger receives: a message whose
    /// execution could not be created comes back after it.
    pub visibility: Duration,
    /// Longest time one evaluation of an SQS trigger spends receiving (a batch trigger's
    /// `maxDuration` is capped by it, so a tick is never held for long).
    pub receive_budget: Duration,
    /// Objects an S3 trigger downloads at the same time.
    pub downloads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            visibility: Duration::from_secs(60),
            receive_budget: Duration::from_secs(20),
            downloads: 4,
        }
    }
}

/// The core triggers plus the S3 and SQS ones, with the default [`Settings`].
pub fn registry() -> TriggerRegistry {
    registry_with(Settings::default())
}

/// The core triggers plus the S3 and SQS ones.
pub fn registry_with(settings: Settings) -> TriggerRegistry {
    let mut r = TriggerRegistry::core();
    r.register(S3Trigger::TYPE, Arc::new(s3::S3Poller { settings }));
    r.register(SqsTrigger::TYPE, Arc::new(sqs::SqsBatchPoller { settings }));
    r.register(
        SqsRealtimeTrigger::TYPE,
        Arc::new(sqs::SqsRealtimePoller { settings }),
    );
    r.listen_with(S3Trigger::TYPE, s3::listens_to);
    r
}

/// Renders a string property with `flow` (and `secret()`, `kv()`...).
pub(crate) fn render(cx: &EvalContext<'_>, name: &str, text: &str) -> Result<String, TriggerError> {
    if !kite_flow::property::is_expression(text) {
        return Ok(text.to_owned());
    }
    let ctx = kite_engine::triggers::fire::render_context(cx.platform, cx.flow, &Map::new());
    cx.platform
        .rt
        .engine
        .render(text, &ctx)
        .map_err(|e| cx.definition_error(format!("`{name}`: {e}")))
}

/// Renders an optional string property (an empty result counts as unset).
pub(crate) fn render_opt(
    cx: &EvalContext<'_>,
    name: &str,
    text: Option<&String>,
) -> Result<Option<String>, TriggerError> {
    match text {
        None => Ok(None),
        Some(t) => Ok(Some(render(cx, name, t)?).filter(|s| !s.trim().is_empty())),
    }
}

/// The connection properties rendered.
pub(crate) fn render_connection(
    cx: &EvalContext<'_>,
    c: &AwsConnection,
) -> Result<AwsConnection, TriggerError> {
    Ok(AwsConnection {
        region: render_opt(cx, "region", c.region.as_ref())?,
        endpoint_override: render_opt(cx, "endpointOverride", c.endpoint_override.as_ref())?,
        access_key_id: render_opt(cx, "accessKeyId", c.access_key_id.as_ref())?,
        secret_key_id: render_opt(cx, "secretKeyId", c.secret_key_id.as_ref())?,
        session_token: render_opt(cx, "sessionToken", c.session_token.as_ref())?,
        sts_role_arn: render_opt(cx, "stsRoleArn", c.sts_role_arn.as_ref())?,
        sts_role_external_id: render_opt(cx, "stsRoleExternalId", c.sts_role_external_id.as_ref())?,
        sts_role_session_name: render_opt(
            cx,
            "stsRoleSessionName",
            c.sts_role_session_name.as_ref(),
        )?,
        sts_role_session_duration: c.sts_role_session_duration,
        sts_endpoint_override: render_opt(
            cx,
            "stsEndpointOverride",
            c.sts_endpoint_override.as_ref(),
        )?,
        force_path_style: c.force_path_style,
    })
}

/// Renders a count property (`maxKeys`, `maxRecords`): a literal, or an expression giving
/// a whole number of at least 1.
pub(crate) fn render_count(
    cx: &EvalContext<'_>,
    name: &str,
    value: Option<&kite_flow::property::Dyn<i64>>,
) -> Result<Option<i64>, TriggerError> {
    use kite_flow::property::Dyn;
    let n = match value {
        None => return Ok(None),
        Some(Dyn::Value(n)) => *n,
        Some(Dyn::Expr(e)) => {
            let text = render(cx, name, e)?;
            text.trim().parse::<i64>().map_err(|_| {
                cx.definition_error(format!("`{name}` renders to `{text}`, not a whole number"))
            })?
        }
    };
    if n < 1 {
        return Err(cx.definition_error(format!("`{name}` must be at least 1, is {n}")));
    }
    Ok(Some(n))
}

/// An SDK error with its whole chain of causes.
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(err).to_string()
}
