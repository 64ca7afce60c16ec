//! S3 event notifications: a file starts its flow within seconds, and idle costs nothing.
//!
//! A watched bucket sends its `ObjectCreated` events to the `trigger-events` queue (an
//! `aws_s3_bucket_notification`, or an EventBridge rule on "Object Created"), which feeds
//! the scheduler Lambda (in emulator mode, an emulated event source mapping). For each
//! object, **one** index query (`trigger_listen` partition `s3|<bucket>`) finds the S3
//! triggers watching the bucket; each whose `prefix`, `regexp` and `filter` accept the key
//! fires the occurrence polling would fire — key `bucket/key/ETag`, the same download and
//! variables — then applies its action. So the notification, the poll, a notification
//! delivered twice, all end in one execution.
//!
//! Accepted message bodies: S3's notification (`Records[].s3`, keys URL-encoded with `+`
//! for spaces), S3's `s3:TestEvent` (ignored), an EventBridge "Object Created" event from
//! `aws.s3` (keys not encoded), and either wrapped in an SNS notification. Anything else is
//! an error: the message is retried, then dead-lettered.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt as _;
use kite_engine::services::{Platform, ServiceError};
use kite_engine::triggers::{EvalContext, FireOutcome, TriggerError, fire};
use kite_flow::plugin::PluginType;
use kite_flow::triggers::aws_s3::S3Trigger;
use serde_json::Value;

use super::s3::{self, Seen, Watch};

/// One created object named by a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    /// The bucket.
    pub bucket: String,
    /// The key (decoded).
    pub key: String,
    /// The ETag (without quotes; may be empty when the event has none).
    pub etag: String,
}

/// What handling notifications did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects named.
    pub objects: usize,
    /// Trigger definitions that accepted an object.
    pub matched: usize,
    /// Executions created.
    pub created: usize,
    /// Executions that existed already (polling, or an earlier delivery, was first).
    pub existed: usize,
}

impl std::ops::AddAssign for Report {
    fn add_assign(&mut self, o: Self) {
        self.objects += o.objects;
        self.matched += o.matched;
        self.created += o.created;
        self.existed += o.existed;
    }
}

/// Decodes a key of an S3 notification (URL-encoded, `+` for a space).
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The created objects a message body names (none for a test event).
pub fn parse_message(body: &str) -> Result<Vec<ObjectCreated>, String> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| format!("not an S3 event notification (not JSON: {e})"))?;
    parse_value(&v, 0)
}

fn parse_value(v: &Value, depth: usize) -> Result<Vec<ObjectCreated>, String> {
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    // SNS fan-out: the S3 event is the notification's message.
    if depth == 0
        && v.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(inner) = v.get("Message").and_then(Value::as_str)
    {
        let inner: Value = serde_json::from_str(inner)
            .map_err(|e| format!("SNS notification whose message is not JSON: {e}"))?;
        return parse_value(&inner, depth + 1);
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let mut out = Vec::new();
        for r in records {
            if r.get("eventSource").and_then(Value::as_str) != Some("aws:s3") {
                return Err("a record that is not an S3 event (eventSource is not aws:s3)".into());
            }
            let name = r
                .get("eventName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !name.starts_with("ObjectCreated") && !name.starts_with("s3:ObjectCreated") {
                continue;
            }
            let bucket = str_at(r, &["s3", "bucket", "name"])
                .ok_or("an S3 record without s3.bucket.name")?;
            let key =
                str_at(r, &["s3", "object", "key"]).ok_or("an S3 record without s3.object.key")?;
            out.push(ObjectCreated {
                bucket: bucket.to_owned(),
                key: decode_key(key),
                etag: str_at(r, &["s3", "object", "eTag"])
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned(),
            });
        }
        return Ok(out);
    }
    if v.get("source").and_then(Value::as_str) == Some("aws.s3") {
        if v.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
            return Ok(Vec::new());
        }
        let d = v
            .get("detail")
            .ok_or("an EventBridge S3 event without detail")?;
        let bucket = str_at(d, &["bucket", "name"])
            .ok_or("an EventBridge S3 event without detail.bucket.name")?;
        let key = str_at(d, &["object", "key"])
            .ok_or("an EventBridge S3 event without detail.object.key")?;
        return Ok(vec![ObjectCreated {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag: str_at(d, &["object", "etag"])
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned(),
        }]);
    }
    Err(format!(
        "not an S3 event notification or an EventBridge \"Object Created\" event: {}",
        v.to_string().chars().take(200).collect::<String>()
    ))
}

/// Whether an SQS batch comes from the trigger-events queue: by the queue of its records
/// (`eventSourceARN` ending in `events_queue`), else by what its first message looks like.
pub fn is_trigger_events(event: &SqsEvent, events_queue: &str) -> bool {
    let Some(first) = event.records.first() else {
        return false;
    };
    if let Some(arn) = &first.event_source_arn
        && arn
            .rsplit(':')
            .next()
            .is_some_and(|q| q.ends_with(events_queue))
    {
        return true;
    }
    let Some(body) = first.body.as_deref() else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
        || v.get("source").and_then(Value::as_str) == Some("aws.s3")
        || v.pointer("/Records/0/eventSource").and_then(Value::as_str) == Some("aws:s3")
}

/// Fires the S3 triggers watching `object`'s bucket that accept its key, and applies their
/// action. A transient failure of one trigger (the store, S3) is returned after the others
/// were handled, so the notification is retried; a trigger whose definition cannot be
/// evaluated is logged and skipped.
pub async fn handle_object(
    platform: &Platform,
    object: &ObjectCreated,
) -> Result<Report, TriggerError> {
    let mut report = Report {
        objects: 1,
        ..Report::default()
    };
    let Some(imp) = platform.triggers.get(S3Trigger::TYPE).cloned() else {
        return Ok(report);
    };
    let listeners = platform
        .repos
        .triggers
        .listening(&s3::partition(&object.bucket))
        .await?;
    let mut failure = None;
    for (stored, _) in listeners {
        if stored.is_disabled() || stored.state.kind != S3Trigger::TYPE {
            continue;
        }
        let st = &stored.state;
        let flow = match platform.load_flow(&st.namespace, &st.flow_id, None).await {
            Ok(f) => f,
            Err(ServiceError::FlowNotFound { .. }) => continue,
            Err(e) => {
                failure = Some(TriggerError::from(e));
                continue;
            }
        };
        if flow.disabled {
            continue;
        }
        let Some(trigger) = flow
            .triggers
            .iter()
            .find(|t| t.id == st.trigger_id && t.type_name == S3Trigger::TYPE)
        else {
            continue;
        };
        let cx = EvalContext {
            platform,
            flow: &flow,
            trigger,
            state: st,
            now: platform.clock.now(),
            config: platform.tick_config,
        };
        let result = async {
            let w = Watch::resolve(&cx).await?;
            let spec = s3::spec(&cx)?;
            if w.bucket != object.bucket || !w.accepts(spec, &object.key) {
                return Ok(None);
            }
            let seen = Seen {
                key: object.key.clone(),
                etag: object.etag.clone(),
            };
            let Some(occ) = s3::occurrence(&cx, &w, &seen).await? else {
                return Ok(Some(None));
            };
            let outcome = fire(platform, &flow, trigger, &occ).await?;
            if !matches!(outcome, FireOutcome::Refused(_)) {
                imp.acknowledge(&cx, &occ).await?;
            }
            Ok::<_, TriggerError>(Some(Some(outcome)))
        }
        .await;
        match result {
            Ok(None) => {}
            Ok(Some(outcome)) => {
                report.matched += 1;
                match outcome {
                    Some(FireOutcome::Created(e)) => {
                        report.created += 1;
                        let id = e.id.clone();
                        if let Err(err) = kite_engine::triggers::sync::update_state(
                            platform,
                            &st.namespace,
                            &st.flow_id,
                            &st.trigger_id,
                            |s| s.state.execution_id = Some(id.clone()),
                        )
                        .await
                        {
                            tracing::warn!(trigger = %st.key(), "trigger state not updated: {err}");
                        }
                    }
                    Some(FireOutcome::Existed(_)) => report.existed += 1,
                    _ => {}
                }
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(trigger = %st.key(), bucket = %object.bucket, key = %object.key,
                    "S3 notification not handled, retried: {e}");
                failure = Some(e);
            }
            Err(e) => {
                tracing::error!(trigger = %st.key(), bucket = %object.bucket, key = %object.key,
                    "S3 notification skipped for this trigger: {e}");
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Handles one message of the trigger-events queue.
pub async fn handle_message(platform: &Platform, body: &str) -> Result<Report, TriggerError> {
    let objects = parse_message(body).map_err(|m| {
        TriggerError::Service(Box::new(ServiceError::Other(format!(
            "trigger-events message: {m}"
        ))))
    })?;
    let mut report = Report::default();
    for o in &objects {
        report += handle_object(platform, o).await?;
    }
    Ok(report)
}

/// Handles a batch of the trigger-events queue; the failed messages are reported (to be
/// retried, then dead-lettered), the others deleted.
pub async fn handle_sqs_event(platform: &Platform, event: &SqsEvent) -> SqsBatchResponse {
    let messages: Vec<(String, String)> = event
        .records
        .iter()
        .map(|m| {
            (
                m.message_id.clone().unwrap_or_default(),
                m.body.clone().unwrap_or_default(),
            )
        })
        .collect();
    let results: Vec<(String, Result<Report, TriggerError>)> = futures::stream::iter(messages)
        .map(|(id, body)| async move {
            let r = handle_message(platform, &body).await;
            (id, r)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (id, r) in results {
        if let Err(e) = r {
            tracing::warn!(message = %id, "trigger event failed: {e}");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_notifications_are_decoded() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"in"},"object":{"key":"dir/my+file%C3%A9%2B1.csv","size":3,"eTag":"abc"}}},
            {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"in"},"object":{"key":"x"}}}]}"#;
        assert_eq!(
            parse_message(body).unwrap(),
            vec![ObjectCreated {
                bucket: "in".into(),
                key: "dir/my fileé+1.csv".into(),
                etag: "abc".into()
            }]
        );
        assert!(
            parse_message(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"in"}"#)
                .unwrap()
                .is_empty()
        );
        let eb = r#"{"version":"0","detail-type":"Object Created","source":"aws.s3",
            "detail":{"bucket":{"name":"in"},"object":{"key":"a b.csv","etag":"e1","size":1}}}"#;
        assert_eq!(parse_message(eb).unwrap()[0].key, "a b.csv");
        let sns = serde_json::json!({"Type": "Notification", "Message": body}).to_string();
        assert_eq!(parse_message(&sns).unwrap().len(), 1);
        assert!(
            parse_message("{\"hello\":1}")
                .unwrap_err()
                .contains("not an S3 event")
        );
        assert!(parse_message("nope").is_err());
    }
}
