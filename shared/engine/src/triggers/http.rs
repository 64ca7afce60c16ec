//! `io.kestra.plugin.core.http.Trigger`: polls an HTTP endpoint every `interval` (default
//! PT60S) and starts an execution when `responseCondition` (default
//! `{{ response.statusCode < 400 }}`) is truthy.
//!
//! Each evaluation renders `uri`, `method`, `headers`, `body`, `contentType` and `options`
//! (with `flow.*` and the namespace's functions: `secret()`, `kv()`...), sends the request
//! with the engine's HTTP client (the one of `http.Request`: rustls, the same `options`:
//! timeouts, redirects, basic/bearer auth, `ssl.insecureTrustAllCertificates`), then renders
//! the condition with `response.statusCode`, `response.body` (text) and `response.headers`
//! (name → values). A truthy result (anything but `false`, `0`, `-0`, `null` and the empty
//! text, as Kestra coerces) and the trigger's `conditions` start one execution with the
//! variables `trigger.uri`, `trigger.code`, `trigger.headers` and `trigger.body`; with
//! `encryptBody: true` the body is `trigger.encryptedBody` instead, stored encrypted
//! (Kestra's `EncryptedString`, as SECRET outputs are) and decrypted only into render
//! contexts.
//!
//! Exactly once: the occurrence key is the evaluation's date (the state's due date, the
//! same for two schedulers reading the same state), so a poll that matches starts one
//! execution. A failed request is retried after `interval`.

use chrono::{DateTime, Utc};
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_flow::tasks::http_request::{HttpOptions, HttpRequest};
use kite_flow::triggers::http::{DEFAULT_INTERVAL, HttpTrigger};
use serde_json::{Map, Value};

use super::registry::{EvalContext, Evaluation, TickTrigger};
use super::{Occurrence, TriggerError};
use crate::worker::TaskError;
use crate::worker::tasks::Render;
use crate::worker::tasks::http_request::{headers_output, http_error, prepare_with};

/// The condition when none is given.
pub const DEFAULT_CONDITION: &str = "{{ response.statusCode < 400 }}";

/// Largest response body kept (it travels in the execution's trigger variables).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The HTTP polling trigger.
#[derive(Debug, Clone, Copy)]
pub struct HttpPollTrigger;

fn spec(trigger: &Trigger) -> Option<&HttpTrigger> {
    trigger.spec::<HttpTrigger>()
}

fn interval(spec: &HttpTrigger) -> std::time::Duration {
    spec.interval.map_or(DEFAULT_INTERVAL, |i| i.to_std())
}

/// Renders with a trigger's expression context.
struct TriggerRender<'a>(
    kite_expr::Context,
    &'a crate::executor::context::Expressions,
);

impl Render for TriggerRender<'_> {
    fn render(&self, template: &str) -> Result<String, TaskError> {
        if !kite_flow::property::is_expression(template) {
            return Ok(template.to_owned());
        }
        self.1
            .engine
            .render(template, &self.0)
            .map_err(|e| TaskError::new(e.to_string()))
    }

    fn render_value(&self, value: &Value) -> Result<Value, TaskError> {
        self.1
            .engine
            .render_value(value, &self.0)
            .map_err(|e| TaskError::new(e.to_string()))
    }
}

/// Kestra's boolean coercion of a rendered condition.
fn truthy(text: &str) -> bool {
    !matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "" | "false" | "0" | "-0" | "null"
    )
}

/// The `HttpRequest` properties of the trigger (the task's client builds the request).
fn request_of(s: &HttpTrigger) -> Result<HttpRequest, String> {
    let options = match &s.options {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<HttpOptions>(v.clone())
                .map_err(|e| format!("options: {e}"))?,
        ),
    };
    Ok(HttpRequest {
        uri: s.uri.clone(),
        method: s.method.clone(),
        body: s.body.clone(),
        form_data: None,
        content_type: s.content_type.clone(),
        headers: (!s.headers.is_empty()).then(|| {
            s.headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        }),
        options,
        ssl_options: None,
        allow_failed: true,
        encrypt_body: false,
        fail_on_empty_response: None,
    })
}

#[async_trait::async_trait]
impl TickTrigger for HttpPollTrigger {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let Some(s) = spec(trigger) else {
            return Err("not an http.Trigger".into());
        };
        request_of(s)?;
        // The first poll at once.
        Ok(Some(now))
    }

    fn retry_after(&self, trigger: &Trigger) -> std::time::Duration {
        spec(trigger).map_or(DEFAULT_INTERVAL, interval)
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let Some(s) = spec(cx.trigger) else {
            return Err(cx.definition_error("not an http.Trigger"));
        };
        let platform = cx.platform;
        let every = chrono::Duration::from_std(interval(s)).unwrap_or_default();
        let key = match (s.encrypt_body, platform.rt.encryption()) {
            (false, _) => None,
            (true, Some(k)) => Some(k),
            (true, None) => {
                return Err(cx.definition_error(format!(
                    "`encryptBody: true` needs an encryption key (set {})",
                    crate::crypto::KEY_VARIABLE
                )));
            }
        };
        let request = request_of(s).map_err(|m| cx.definition_error(m))?;
        let render = TriggerRender(
            super::fire::render_context(platform, cx.flow, &Map::new()),
            &platform.rt,
        );
        let prepared = prepare_with(&render, None, &request)
            .await
            .map_err(|e| cx.definition_error(e.0))?;
        let mut response = prepared.send().await.map_err(|e| cx.source_error(e.0))?;
        let code = response.status().as_u16();
        let headers = headers_output(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| cx.source_error(http_error(&prepared.uri, e).0))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(cx.source_error(format!(
                    "the response body of {} is over {} MiB",
                    prepared.uri,
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body).into_owned();

        let mut vars = Map::new();
        vars.insert(
            "flow".into(),
            serde_json::json!({
                "id": cx.flow.id,
                "namespace": cx.flow.namespace,
                "revision": cx.flow.revision,
            }),
        );
        vars.insert(
            "response".into(),
            serde_json::json!({
                "statusCode": code,
                "body": text,
                "headers": headers,
            }),
        );
        let condition_ctx =
            crate::executor::context::render_context(&platform.rt, vars, &[], cx.now);
        let condition = s.response_condition.as_deref().unwrap_or(DEFAULT_CONDITION);
        let verdict = platform
            .rt
            .engine
            .render(condition, &condition_ctx)
            .map_err(|e| cx.definition_error(format!("responseCondition: {e}")))?;

        let due = cx.state.next_execution_date.unwrap_or(cx.now);
        let mut eval = Evaluation {
            date: Some(cx.now),
            next: Some(cx.now + every),
            ..Evaluation::default()
        };
        if !truthy(&verdict) {
            return Ok(eval);
        }
        let mut variables = Map::new();
        variables.insert("uri".into(), Value::String(prepared.uri.clone()));
        variables.insert("code".into(), Value::from(code));
        variables.insert("headers".into(), headers);
        match key {
            Some(k) => {
                let sealed = k
                    .encrypt(&text)
                    .map_err(|e| cx.source_error(e.to_string()))?;
                variables.insert(
                    "encryptedBody".into(),
                    crate::crypto::EncryptionKey::wrap(sealed),
                );
            }
            None => {
                variables.insert(
                    "body".into(),
                    if body.is_empty() {
                        Value::Null
                    } else {
                        Value::String(text)
                    },
                );
            }
        }
        if !super::conditions_hold(cx, &variables)? {
            return Ok(eval);
        }
        eval.occurrences.push(Occurrence::new(
            format!("http|{}", due.timestamp_millis()),
            variables,
        ));
        Ok(eval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_boolean_coercion() {
        for t in ["true", "1", "yes", "ok", " true "] {
            assert!(truthy(t), "{t}");
        }
        for f in ["false", "FALSE", "0", "-0", "", "  ", "null"] {
            assert!(!truthy(f), "{f:?}");
        }
    }
}
