//! `io.kestra.plugin.core.trigger.Webhook`: executions started by an HTTP call to
//! `/api/v1/executions/webhook/{namespace}/{flowId}/{key}` (GET, POST or PUT).
//!
//! The `key` is the secret part of the URL: a literal (`[a-zA-Z0-9_-]`, at most 256
//! characters, so it fits one path segment without escaping) or an expression rendered
//! when a call arrives (`{{ flow.id }}`, `{{ secret('WEBHOOK_KEY') }}`). The webserver
//! (`kite_webserver`'s `webhook` module) matches calls to triggers and starts executions
//! with the variables `trigger.body`, `trigger.headers` and `trigger.parameters`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::{Category, PluginType};
use crate::property::is_expression;
use crate::validate::Validator;

/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 256;

/// Starts an execution on `/api/v1/executions/webhook/{namespace}/{flowId}/{key}`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// The secret part of the URL (≤ 256 characters of `[a-zA-Z0-9_-]`; may be an
    /// expression, rendered when a call arrives).
    pub key: String,
    /// Wait for the execution to end before answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
    /// With `wait`, answer with the flow outputs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub return_outputs: bool,
}

impl Webhook {
    /// Whether the key is an expression (rendered before it is compared).
    pub fn key_is_expression(&self) -> bool {
        is_expression(&self.key)
    }
}

/// Whether `key` only has the characters a key may have (`[a-zA-Z0-9_-]`, not empty).
pub fn is_literal_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl PluginType for Webhook {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.Webhook";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.models.triggers.types.Webhook"];
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        let chars = self.key.chars().count();
        if chars > MAX_KEY_CHARS {
            v.trigger_error(
                "key",
                format!(
                    "the webhook key is limited to {MAX_KEY_CHARS} characters (it has {chars})"
                ),
            );
        } else if !self.key_is_expression() && !is_literal_key(&self.key) {
            let bad: String = self
                .key
                .chars()
                .filter(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
                .take(5)
                .map(|c| format!("`{}`", c.escape_default()))
                .collect::<Vec<_>>()
                .join(", ");
            let why = if self.key.is_empty() {
                "the webhook key must not be empty".to_owned()
            } else {
                format!("the webhook key has characters outside [a-zA-Z0-9_-] ({bad})")
            };
            v.trigger_error(
                "key",
                format!("{why}: use letters, digits, `_` and `-`, or an expression such as {{{{ secret('WEBHOOK_KEY') }}}}"),
            );
        }
        let multiple = v.trigger().is_some_and(|t| {
            t.common
                .conditions
                .iter()
                .any(|c| c.type_name == crate::conditions::multiple::MultipleCondition::TYPE)
        });
        if multiple {
            v.trigger_error(
                "conditions",
                "conditions of type MultipleCondition are not supported on a Webhook trigger",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(key: &str) -> Vec<crate::Diagnostic> {
        let source = format!(
            "id: hook\nnamespace: kite.test\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: other\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: fine\n  - id: call\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: {key}\n"
        );
        crate::parse_flow(&source)
            .diagnostics
            .into_iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .collect()
    }

    #[test]
    fn literal_keys_of_the_allowed_characters_pass() {
        assert!(errors("a-Secret_key-09").is_empty());
        assert!(errors(&"k".repeat(MAX_KEY_CHARS)).is_empty());
    }

    #[test]
    fn expressions_pass_whatever_their_characters() {
        assert!(errors("\"{{ secret('WEBHOOK_KEY') }}\"").is_empty());
        assert!(errors("\"{{ flow.id }}.{{ flow.namespace }}\"").is_empty());
    }

    #[test]
    fn a_long_key_is_refused_at_its_location() {
        let e = errors(&"k".repeat(MAX_KEY_CHARS + 1));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].path, "triggers[1].key");
        assert_eq!((e[0].loc.line, e[0].loc.col), (13, 5));
        assert!(e[0].message.contains("256 characters"), "{}", e[0].message);
        assert!(
            e[0].message.starts_with("triggers[1].key: "),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn a_long_expression_is_refused_too() {
        let key = format!("\"{{{{ flow.id }}}}{}\"", "x".repeat(MAX_KEY_CHARS));
        let e = errors(&key);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].path, "triggers[1].key");
    }

    #[test]
    fn foreign_characters_are_refused_and_named() {
        for (key, shown) in [
            ("a/b", "`/`"),
            ("\"a b\"", "` `"),
            ("a.b", "`.`"),
            ("\"clé\"", "`\\u{e9}`"),
            ("a?x=1", "`?`"),
        ] {
            let e = errors(key);
            assert_eq!(e.len(), 1, "{key}: {e:?}");
            assert_eq!(e[0].path, "triggers[1].key", "{key}");
            assert_eq!(e[0].loc.line, 13, "{key}");
            assert!(e[0].message.contains("[a-zA-Z0-9_-]"), "{}", e[0].message);
            assert!(e[0].message.contains(shown), "{key}: {}", e[0].message);
        }
    }

    #[test]
    fn an_empty_key_is_refused() {
        let e = errors("\"\"");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].message.contains("must not be empty"),
            "{}",
            e[0].message
        );
    }
}
