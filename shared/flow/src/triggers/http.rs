//! `io.kestra.plugin.core.http.Trigger`: executions started when polling an HTTP endpoint
//! matches a condition. Validation: `interval` is at least one second.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::plugin::{Category, PluginType};
use crate::validate::Validator;

/// Polls `uri` every `interval`; fires when `responseCondition` is truthy.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpTrigger {
    /// The URI.
    pub uri: String,
    /// Method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Headers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Fire when this renders truthy (default: status < 400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_condition: Option<String>,
    /// Polling interval (default PT60S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IsoDuration>,
    /// Encrypt the body in trigger variables.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypt_body: bool,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Client options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
}

impl PluginType for HttpTrigger {
    const TYPE: &'static str = "io.kestra.plugin.core.http.Trigger";
    const ALIASES: &'static [&'static str] = &["io.kestra.plugin.fs.http.Trigger"];
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        if let Some(i) = self.interval
            && i.to_std() < MIN_INTERVAL
        {
            v.trigger_error(
                "interval",
                format!("`interval` must be at least 1 second (PT1S), not {i}"),
            );
        }
    }
}

/// The shortest polling interval.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The polling interval when none is given (Kestra's PT60S).
pub const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use crate::diagnostic::Severity;

    fn source(interval: &str) -> String {
        format!(
            "id: poll\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\ntriggers:\n  - id: watch\n    type: io.kestra.plugin.core.http.Trigger\n    uri: http://localhost/health\n    interval: {interval}\n"
        )
    }

    #[test]
    fn an_interval_under_one_second_is_rejected_with_its_location() {
        let parsed = crate::parse_flow(&source("PT0.5S"));
        let errors: Vec<_> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let d = errors[0];
        assert_eq!(d.path, "triggers[0].interval");
        assert!(d.message.contains("at least 1 second"), "{}", d.message);
        assert_eq!((d.loc.line, d.loc.col), (11, 5), "the `interval:` line");
        for ok in ["PT1S", "PT30S", "PT1M"] {
            let parsed = crate::parse_flow(&source(ok));
            assert!(
                parsed
                    .diagnostics
                    .iter()
                    .all(|d| d.severity != Severity::Error),
                "{ok}: {:?}",
                parsed.diagnostics
            );
        }
    }
}
