//! Retry policies: `constant`, `exponential`, `random`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;

/// A retry policy (task, flowable or flow level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// The policy.
    #[serde(rename = "type")]
    pub kind: RetryType,
    /// Stop once this many attempts were made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempt: Option<u32>,
    /// Stop once retrying would go past the first attempt's start plus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<IsoDuration>,
    /// A success after retries ends WARNING.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warning_on_retry: bool,
    /// Retry the task run, or create a new execution.
    #[serde(default)]
    pub behavior: RetryBehavior,
    /// Delay between attempts (constant, exponential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
    /// Upper bound of the delay (exponential, random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_interval: Option<IsoDuration>,
    /// Lower bound of the delay (random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<IsoDuration>,
    /// Growth factor (exponential, default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_factor: Option<f64>,
}

/// Retry policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryType {
    /// A fixed `interval`.
    Constant,
    /// `interval` growing by `delayFactor` up to `maxInterval`.
    Exponential,
    /// Uniform between `minInterval` and `maxInterval`.
    Random,
}

/// Retry behaviours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryBehavior {
    /// A new attempt of the same task run.
    #[default]
    RetryFailedTask,
    /// The execution ends RETRIED and a new one is created.
    CreateNewExecution,
}

impl Retry {
    /// Which properties each policy requires, and the problems of this one.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let need = |name: &str, v: bool, out: &mut Vec<String>| {
            if !v {
                out.push(format!(
                    "a `{}` retry needs `{name}`",
                    serde_json::to_value(self.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ));
            }
        };
        match self.kind {
            RetryType::Constant => need("interval", self.interval.is_some(), &mut out),
            RetryType::Exponential => {
                need("interval", self.interval.is_some(), &mut out);
                need("maxInterval", self.max_interval.is_some(), &mut out);
            }
            RetryType::Random => {
                need("minInterval", self.min_interval.is_some(), &mut out);
                need("maxInterval", self.max_interval.is_some(), &mut out);
            }
        }
        if self.max_attempt == Some(0) {
            out.push("`maxAttempt` must be at least 1".into());
        }
        if let (Some(i), Some(d)) = (self.interval, self.max_duration)
            && i >= d
        {
            out.push("'interval' must be less than 'maxDuration'".into());
        }
        if self.kind == RetryType::Exponential
            && let (Some(i), Some(m)) = (self.interval, self.max_interval)
            && i >= m
        {
            out.push("'interval' must be less than 'maxInterval'".into());
        }
        if let (Some(a), Some(b)) = (self.min_interval, self.max_interval)
            && a >= b
        {
            out.push("'minInterval' must be less than 'maxInterval'".into());
        }
        out
    }
}
