//! `io.kestra.plugin.aws.sqs.Trigger` and `io.kestra.plugin.aws.sqs.RealtimeTrigger`.
//!
//! Both receive with a visibility timeout ([`Settings::visibility`]) and delete a message
//! only once the execution it belongs to exists (the tick's `acknowledge`): a message
//! whose execution could not be created comes back after the timeout and is tried again.
//!
//! **Batch** (`sqs.Trigger`, every `interval`): receives until `maxRecords` messages, until
//! `maxDuration` (capped by [`Settings::receive_budget`]) or until a receive comes back
//! empty; writes the bodies to internal storage, one value per line (a JSON string with
//! `serdeType: STRING`, the parsed value with `JSON`; Ion text, as Kestra's `.ion` files),
//! under the execution's folder (`…/executions/<id>/trigger/<triggerId>/messages.ion`), and
//! starts one execution with `trigger.uri` and `trigger.count`. Its occurrence key is a
//! digest of the message ids, so the same batch received again (its deletion failed) finds
//! its execution.
//!
//! **Realtime** (`sqs.RealtimeTrigger`, every tick): one execution per message, with
//! `trigger.data` (the body; parsed when `serdeType` is JSON and the body is JSON), under an
//! id derived from the message id: a message delivered twice starts one execution.
//! Kestra keeps a consumer open; Kite receives on the scheduler's tick (every second
//! locally, every minute on AWS), for at most [`Settings::receive_budget`] each time.

use std::time::Instant;

use chrono::{DateTime, Utc};
use kite_engine::model::ids;
use kite_engine::triggers::{
    EvalContext, Evaluation, Occurrence, TickTrigger, TriggerError, conditions_hold,
};
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_flow::triggers::aws_connection::{AwsConnection, SerdeType};
use kite_flow::triggers::aws_sqs::SqsTrigger;
use kite_flow::triggers::aws_sqs_realtime::SqsRealtimeTrigger;
use kite_ports::StorageKey;
use serde_json::{Map, Value, json};

use super::clients::shared;
use super::{Settings, describe, render, render_connection, render_count};

/// The batch trigger on the tick.
#[derive(Debug, Clone, Copy)]
pub struct SqsBatchPoller {
    pub(crate) settings: Settings,
}

/// The realtime trigger on the tick.
#[derive(Debug, Clone, Copy)]
pub struct SqsRealtimePoller {
    pub(crate) settings: Settings,
}

/// One received message.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    receipt: String,
    body: String,
}

/// A message body as a value.
fn decode(serde: SerdeType, body: &str) -> Value {
    match serde {
        SerdeType::String => Value::String(body.to_owned()),
        // A body that is not JSON stays a string rather than blocking the queue.
        SerdeType::Json => {
            serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
        }
    }
}

/// The queue and its client.
struct Source {
    url: String,
    sqs: aws_sdk_sqs::Client,
}

async fn source(
    cx: &EvalContext<'_>,
    queue_url: &str,
    connection: &AwsConnection,
) -> Result<Source, TriggerError> {
    let url = render(cx, "queueUrl", queue_url)?;
    if url.trim().is_empty() {
        return Err(cx.definition_error("`queueUrl` renders to an empty URL"));
    }
    let connection = render_connection(cx, connection)?;
    Ok(Source {
        url,
        sqs: shared().get(&connection).await.sqs.clone(),
    })
}

impl Source {
    /// Receives up to `max` (≤ 10) messages without waiting.
    async fn receive(
        &self,
        cx: &EvalContext<'_>,
        max: usize,
        settings: Settings,
    ) -> Result<Vec<Received>, TriggerError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(settings.visibility.as_secs().clamp(1, 43_200) as i32)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| {
                cx.source_error(format!(
                    "cannot receive from {}: {}",
                    self.url,
                    describe(&e)
                ))
            })?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Received {
                    id: m.message_id()?.to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    /// Deletes messages by receipt handle (batches of 10). A handle that expired (the
    /// message was received again elsewhere) is logged: that delivery deletes it.
    async fn delete(&self, cx: &EvalContext<'_>, receipts: &[&str]) -> Result<(), TriggerError> {
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*r)
                        .build()
                        .map_err(|e| cx.source_error(format!("delete request: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    cx.source_error(format!(
                        "cannot delete messages of {}: {}",
                        self.url,
                        describe(&e)
                    ))
                })?;
            for f in out.failed() {
                tracing::warn!(
                    queue = %self.url, code = %f.code(),
                    "a consumed message was not deleted: {}",
                    f.message().unwrap_or_default()
                );
            }
        }
        Ok(())
    }
}

fn receipts(ack: &Value) -> Vec<&str> {
    ack.get("receipts")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl TickTrigger for SqsBatchPoller {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        trigger
            .spec::<SqsTrigger>()
            .ok_or("not an io.kestra.plugin.aws.sqs.Trigger")?;
        Ok(Some(now))
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let s = cx
            .trigger
            .spec::<SqsTrigger>()
            .ok_or_else(|| cx.definition_error("not an io.kestra.plugin.aws.sqs.Trigger"))?;
        let max_records = render_count(cx, "maxRecords", s.max_records.as_ref())?;
        if max_records.is_none() && s.max_duration.is_none() {
            return Err(cx.definition_error(
                "`maxRecords` or `maxDuration` must be set (a batch needs an end)",
            ));
        }
        let src = source(cx, &s.queue_url, &s.connection()).await?;
        let budget = s
            .max_duration
            .map(|d| d.to_std())
            .unwrap_or(self.settings.receive_budget)
            .min(self.settings.receive_budget);
        let limit = max_records
            .map(|n| n as usize)
            .unwrap_or(usize::MAX)
            .min(cx.config.max_per_trigger.max(1) * 10);
        let started = Instant::now();
        let mut messages: Vec<Received> = Vec::new();
        while messages.len() < limit && started.elapsed() < budget {
            let got = src
                .receive(cx, limit - messages.len(), self.settings)
                .await?;
            if got.is_empty() {
                break;
            }
            for m in got {
                // A message received twice within one batch (visibility expired) counts once.
                if !messages.iter().any(|x| x.id == m.id) {
                    messages.push(m);
                }
            }
        }
        let mut eval = Evaluation {
            date: Some(cx.now),
            next: Some(cx.now + s.interval().to_chrono()),
            ..Evaluation::default()
        };
        if messages.is_empty() {
            return Ok(eval);
        }
        let mut sorted: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        sorted.sort_unstable();
        let mut parts = vec!["sqs-batch"];
        parts.extend(sorted);
        let key = format!("sqs|{}", ids::derived_id(&parts));
        let execution_id = kite_engine::triggers::fire::execution_id(cx.flow, &cx.trigger.id, &key);
        let serde = s.serde_type.unwrap_or_default();
        let mut lines = String::new();
        for m in &messages {
            lines.push_str(&decode(serde, &m.body).to_string());
            lines.push('\n');
        }
        let target = StorageKey::for_execution(&cx.flow.namespace, &cx.flow.id, &execution_id)
            .and_then(|k| k.join("trigger"))
            .and_then(|k| k.join(&cx.trigger.id))
            .and_then(|k| k.join("messages.ion"))
            .map_err(|e| {
                cx.definition_error(format!("no internal-storage path for the messages: {e}"))
            })?;
        cx.platform
            .storage
            .put(&target, bytes::Bytes::from(lines))
            .await
            .map_err(|e| cx.source_error(format!("cannot store the received messages: {e}")))?;
        let mut vars = Map::new();
        vars.insert("uri".into(), Value::String(target.to_uri()));
        vars.insert("count".into(), json!(messages.len()));
        if !conditions_hold(cx, &vars)? {
            return Ok(eval);
        }
        let mut occ = Occurrence::new(key, vars);
        occ.ack = Some(json!({
            "receipts": messages.iter().map(|m| m.receipt.as_str()).collect::<Vec<_>>(),
        }));
        eval.occurrences.push(occ);
        Ok(eval)
    }

    fn retry_after(&self, trigger: &Trigger) -> std::time::Duration {
        trigger
            .spec::<SqsTrigger>()
            .map(|s| s.interval().to_std())
            .unwrap_or(std::time::Duration::from_secs(60))
    }

    async fn acknowledge(
        &self,
        cx: &EvalContext<'_>,
        occurrence: &Occurrence,
    ) -> Result<(), TriggerError> {
        let Some(ack) = &occurrence.ack else {
            return Ok(());
        };
        let s = cx
            .trigger
            .spec::<SqsTrigger>()
            .ok_or_else(|| cx.definition_error("not an io.kestra.plugin.aws.sqs.Trigger"))?;
        let src = source(cx, &s.queue_url, &s.connection()).await?;
        src.delete(cx, &receipts(ack)).await
    }
}

#[async_trait::async_trait]
impl TickTrigger for SqsRealtimePoller {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        trigger
            .spec::<SqsRealtimeTrigger>()
            .ok_or("not an io.kestra.plugin.aws.sqs.RealtimeTrigger")?;
        Ok(Some(now))
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let s = cx.trigger.spec::<SqsRealtimeTrigger>().ok_or_else(|| {
            cx.definition_error("not an io.kestra.plugin.aws.sqs.RealtimeTrigger")
        })?;
        let src = source(cx, &s.queue_url, &s.connection()).await?;
        let serde = s.serde_type.unwrap_or_default();
        let limit = cx.config.max_per_trigger.max(1);
        let started = Instant::now();
        let mut eval = Evaluation {
            date: Some(cx.now),
            // Due again at the next tick.
            next: Some(cx.now),
            ..Evaluation::default()
        };
        let mut seen = std::collections::HashSet::new();
        while eval.occurrences.len() < limit && started.elapsed() < self.settings.receive_budget {
            let got = src
                .receive(cx, limit - eval.occurrences.len(), self.settings)
                .await?;
            if got.is_empty() {
                break;
            }
            for m in got {
                if !seen.insert(m.id.clone()) {
                    continue;
                }
                let mut vars = Map::new();
                vars.insert("data".into(), decode(serde, &m.body));
                if !conditions_hold(cx, &vars)? {
                    // Conditions said no: the message is consumed without an execution.
                    src.delete(cx, &[m.receipt.as_str()]).await?;
                    continue;
                }
                let mut occ = Occurrence::new(format!("sqs|{}", m.id), vars);
                occ.ack = Some(json!({ "receipts": [m.receipt] }));
                eval.occurrences.push(occ);
            }
        }
        Ok(eval)
    }

    fn retry_after(&self, _trigger: &Trigger) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    async fn acknowledge(
        &self,
        cx: &EvalContext<'_>,
        occurrence: &Occurrence,
    ) -> Result<(), TriggerError> {
        let Some(ack) = &occurrence.ack else {
            return Ok(());
        };
        let s = cx.trigger.spec::<SqsRealtimeTrigger>().ok_or_else(|| {
            cx.definition_error("not an io.kestra.plugin.aws.sqs.RealtimeTrigger")
        })?;
        let src = source(cx, &s.queue_url, &s.connection()).await?;
        src.delete(cx, &receipts(ack)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_by_serde_type() {
        assert_eq!(decode(SerdeType::String, "{\"a\":1}"), json!("{\"a\":1}"));
        assert_eq!(decode(SerdeType::Json, "{\"a\":1}"), json!({"a": 1}));
        assert_eq!(decode(SerdeType::Json, "plain"), json!("plain"));
    }
}
