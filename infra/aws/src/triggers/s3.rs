//! `io.kestra.plugin.aws.s3.Trigger`: one execution per object found in a bucket.
//!
//! **Detection.** The tick lists the bucket every `interval` (`ListObjectsV2`: `prefix`,
//! `maxKeys`, `delimiter`, `marker` as `StartAfter`); a bucket notification does the same for
//! one object within seconds ([`super::events`]). Either way an object passes when its key
//! starts with `prefix`, fully matches `regexp` (Java's `matches`), passes `filter`, and is
//! not already in the `MOVE` destination folder of the same bucket (so archived files are
//! never detected again).
//!
//! **One execution per object version.** The occurrence key is `bucket/key/ETag`, so the
//! execution id derives from it: the polling path and the notification path, a redelivered
//! notification, a second scheduler, or a poll that sees the object again because its
//! `MOVE` failed, all find the same execution and create nothing new. A new upload to the
//! same key (a new ETag) is a new detection.
//!
//! **Variables** (Kestra's shape): `trigger.objects` is a list holding the one object:
//! `uri` (the object downloaded into internal storage, under the execution's folder
//! `…/executions/<id>/trigger/<triggerId>/<file name>`, as Kestra does), `key`, `etag`
//! (quoted, as S3 sends it), `size` and `lastModified` (ISO-8601), all read from the one
//! `GetObject` (conditional on the ETag), so both paths give the same values.
//!
//! **Action**, once the execution exists: `MOVE` copies the object to `moveTo.bucket`
//! (default: the same bucket) under `moveTo.key/<file name>` (only the detected version:
//! `CopySourceIfMatch`), then deletes it; `DELETE` deletes it; `NONE` leaves it. A source
//! that has changed since (another upload) or is gone (already moved) is left alone.

use std::sync::Arc;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt as _;
use kite_engine::triggers::fire;
use kite_engine::triggers::{
    EvalContext, Evaluation, Occurrence, TickTrigger, TriggerError, conditions_hold,
};
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_flow::triggers::aws_s3::{S3Action, S3Trigger};
use kite_ports::StorageKey;
use serde_json::{Map, Value, json};

use super::clients::{ConnectionClients, shared};
use super::{Settings, describe, render, render_connection, render_count, render_opt};

/// The S3 trigger on the tick.
#[derive(Debug, Clone, Copy)]
pub struct S3Poller {
    pub(crate) settings: Settings,
}

/// The `trigger_listen` partition of S3 triggers watching `bucket`.
pub fn partition(bucket: &str) -> String {
    format!("s3|{bucket}")
}

/// What an S3 trigger listens to: its bucket, when the bucket is written literally (a
/// bucket given by an expression is only polled).
pub fn listens_to(t: &Trigger) -> Option<String> {
    let s = t.spec::<S3Trigger>()?;
    if kite_flow::property::is_expression(&s.bucket) {
        return None;
    }
    Some(partition(&s.bucket))
}

/// The occurrence key of an object version: `bucket/key/ETag` (the ETag without quotes).
pub fn occurrence_key(bucket: &str, key: &str, etag: &str) -> String {
    format!("{bucket}/{key}/{}", unquote(etag))
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// An object version seen by a listing or a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The key.
    pub key: String,
    /// Its ETag (with or without quotes).
    pub etag: String,
}

/// A trigger's definition, rendered, with its clients.
pub(crate) struct Watch {
    pub(crate) bucket: String,
    prefix: Option<String>,
    regexp: Option<fancy_regex::Regex>,
    max_keys: i32,
    delimiter: Option<String>,
    start_after: Option<String>,
    expected_owner: Option<String>,
    request_payer: Option<aws_sdk_s3::types::RequestPayer>,
    action: S3Action,
    /// MOVE: destination bucket and folder (no trailing `/`).
    move_to: Option<(String, String)>,
    clients: Arc<ConnectionClients>,
}

pub(crate) fn spec<'a>(cx: &EvalContext<'a>) -> Result<&'a S3Trigger, TriggerError> {
    cx.trigger
        .spec::<S3Trigger>()
        .ok_or_else(|| cx.definition_error("not an io.kestra.plugin.aws.s3.Trigger"))
}

impl Watch {
    /// Renders the definition of `cx`'s trigger.
    pub(crate) async fn resolve(cx: &EvalContext<'_>) -> Result<Self, TriggerError> {
        let s = spec(cx)?;
        let bucket = render(cx, "bucket", &s.bucket)?;
        if bucket.trim().is_empty() {
            return Err(cx.definition_error("`bucket` renders to an empty name"));
        }
        let regexp = match render_opt(cx, "regexp", s.regexp.as_ref())? {
            None => None,
            Some(re) => Some(
                fancy_regex::Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                    cx.definition_error(format!(
                        "`regexp` `{re}` is not a valid regular expression: {e}"
                    ))
                })?,
            ),
        };
        let max_keys = render_count(cx, "maxKeys", s.max_keys.as_ref())?
            .unwrap_or(1000)
            .min(1000) as i32;
        let move_to = match (&s.action, &s.move_to) {
            (S3Action::Move, Some(m)) => {
                let b = render_opt(cx, "moveTo.bucket", m.bucket.as_ref())?
                    .unwrap_or_else(|| bucket.clone());
                let k = render(cx, "moveTo.key", &m.key)?;
                let k = k.trim().trim_end_matches('/').to_owned();
                if k.is_empty() {
                    return Err(cx.definition_error("`moveTo.key` renders to an empty folder"));
                }
                Some((b, k))
            }
            (S3Action::Move, None) => {
                return Err(cx.definition_error("`action: MOVE` needs `moveTo`"));
            }
            _ => None,
        };
        let request_payer = render_opt(cx, "requestPayer", s.request_payer.as_ref())?
            .map(|p| aws_sdk_s3::types::RequestPayer::from(p.to_lowercase().as_str()));
        let connection = render_connection(cx, &s.connection())?;
        Ok(Self {
            prefix: render_opt(cx, "prefix", s.prefix.as_ref())?,
            regexp,
            max_keys,
            delimiter: render_opt(cx, "delimiter", s.delimiter.as_ref())?,
            start_after: render_opt(cx, "marker", s.marker.as_ref())?,
            expected_owner: render_opt(
                cx,
                "expectedBucketOwner",
                s.expected_bucket_owner.as_ref(),
            )?,
            request_payer,
            action: s.action,
            move_to,
            clients: shared().get(&connection).await,
            bucket,
        })
    }

    /// Whether the object `key` counts as detected.
    pub(crate) fn accepts(&self, spec: &S3Trigger, key: &str) -> bool {
        if key.is_empty() || !spec.filter_accepts(key) {
            return false;
        }
        if let Some(p) = &self.prefix
            && !key.starts_with(p.as_str())
        {
            return false;
        }
        if let Some((b, folder)) = &self.move_to
            && *b == self.bucket
            && key.starts_with(&format!("{folder}/"))
        {
            return false;
        }
        match &self.regexp {
            None => true,
            Some(re) => re.is_match(key).unwrap_or(false),
        }
    }

    /// Where MOVE puts `key`: `moveTo.key/<file name>` (Kestra's rule).
    fn destination(&self, key: &str) -> Option<(String, String)> {
        let (b, folder) = self.move_to.as_ref()?;
        let name = key.rsplit('/').next().unwrap_or(key);
        Some((b.clone(), format!("{folder}/{name}")))
    }

    /// One page of the bucket (`maxKeys` keys).
    async fn list(&self, cx: &EvalContext<'_>) -> Result<Vec<Seen>, TriggerError> {
        let out = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .max_keys(self.max_keys)
            .set_prefix(self.prefix.clone())
            .set_delimiter(self.delimiter.clone())
            .set_start_after(self.start_after.clone())
            .set_expected_bucket_owner(self.expected_owner.clone())
            .set_request_payer(self.request_payer.clone())
            .send()
            .await
            .map_err(|e| {
                cx.source_error(format!(
                    "cannot list s3://{}/{}: {}",
                    self.bucket,
                    self.prefix.as_deref().unwrap_or(""),
                    describe(&e)
                ))
            })?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(Seen {
                    key: o.key()?.to_owned(),
                    etag: o.e_tag().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }
}

/// Whether an S3 error means "not there (any more)" or "changed since": both mean this
/// version needs nothing more.
fn gone_or_changed<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    if matches!(
        err.code(),
        Some("NoSuchKey" | "NotFound" | "PreconditionFailed" | "NoSuchBucket")
    ) {
        return true;
    }
    err.raw_response()
        .is_some_and(|r| matches!(r.status().as_u16(), 404 | 412))
}

/// The occurrence of one object version: its execution exists already (nothing to read),
/// or the object is downloaded into internal storage and described; `None` when it changed
/// or disappeared since it was seen, or when the trigger's conditions say no.
pub(crate) async fn occurrence(
    cx: &EvalContext<'_>,
    w: &Watch,
    seen: &Seen,
) -> Result<Option<Occurrence>, TriggerError> {
    let key = occurrence_key(&w.bucket, &seen.key, &seen.etag);
    let id = fire::execution_id(cx.flow, &cx.trigger.id, &key);
    let ack = json!({ "bucket": w.bucket, "key": seen.key, "etag": unquote(&seen.etag) });
    if cx.platform.repos.executions.get(&id).await?.is_some() {
        // `fire` finds it (and starts it if it never started); the action runs again.
        let mut occ = Occurrence::new(key, Map::new());
        occ.ack = Some(ack);
        return Ok(Some(occ));
    }
    let Some(object) = download(cx, w, seen, &id).await? else {
        return Ok(None);
    };
    let mut vars = Map::new();
    vars.insert("objects".into(), Value::Array(vec![object]));
    if !conditions_hold(cx, &vars)? {
        return Ok(None);
    }
    let mut occ = Occurrence::new(key, vars);
    occ.ack = Some(ack);
    Ok(Some(occ))
}

/// The internal-storage file of a detected object: `<execution folder>/trigger/<trigger
/// id>/<file name of the key>` (`object` when the key has no usable file name).
fn storage_key(flow: &Flow, trigger_id: &str, execution_id: &str, key: &str) -> Option<StorageKey> {
    let folder = StorageKey::for_execution(&flow.namespace, &flow.id, execution_id)
        .ok()?
        .join("trigger")
        .ok()?
        .join(trigger_id)
        .ok()?;
    let name = key.rsplit('/').find(|s| !s.is_empty()).unwrap_or("object");
    folder.join(name).or_else(|_| folder.join("object")).ok()
}

async fn download(
    cx: &EvalContext<'_>,
    w: &Watch,
    seen: &Seen,
    execution_id: &str,
) -> Result<Option<Value>, TriggerError> {
    let etag = unquote(&seen.etag);
    let mut request = w
        .clients
        .s3
        .get_object()
        .bucket(&w.bucket)
        .key(&seen.key)
        .set_expected_bucket_owner(w.expected_owner.clone())
        .set_request_payer(w.request_payer.clone());
    if !etag.is_empty() {
        request = request.if_match(format!("\"{etag}\""));
    }
    let out = match request.send().await {
        Ok(out) => out,
        Err(e) if gone_or_changed(&e) => return Ok(None),
        Err(e) => {
            return Err(cx.source_error(format!(
                "cannot read s3://{}/{}: {}",
                w.bucket,
                seen.key,
                describe(&e)
            )));
        }
    };
    let Some(target) = storage_key(cx.flow, &cx.trigger.id, execution_id, &seen.key) else {
        return Err(cx.definition_error(format!(
            "no internal-storage path for the object `{}` of execution {execution_id}",
            seen.key
        )));
    };
    let size = out.content_length().unwrap_or_default();
    let etag = out
        .e_tag()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("\"{etag}\""));
    let last_modified = out
        .last_modified()
        .and_then(|d| d.to_millis().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    let mut body = Box::pin(out.body.into_async_read());
    let stored = cx
        .platform
        .storage
        .put_stream(&target, &mut body)
        .await
        .map_err(|e| {
            cx.source_error(format!(
                "cannot copy s3://{}/{} into internal storage: {e}",
                w.bucket, seen.key
            ))
        })?;
    let size = if size > 0 { size } else { stored as i64 };
    Ok(Some(json!({
        "uri": target.to_uri(),
        "key": seen.key,
        "etag": etag,
        "size": size,
        "lastModified": last_modified,
    })))
}

/// `bucket/key` as a `CopySource` (the key percent-encoded, `/` kept).
fn copy_source(bucket: &str, key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!(
        "{bucket}/{}",
        percent_encoding::utf8_percent_encode(key, KEEP)
    )
}

/// Deletes `bucket/key` if it is still the version `etag`.
async fn delete_if_unchanged(
    cx: &EvalContext<'_>,
    w: &Watch,
    key: &str,
    etag: &str,
) -> Result<(), TriggerError> {
    let s3 = &w.clients.s3;
    let mut head = s3.head_object().bucket(&w.bucket).key(key);
    if !etag.is_empty() {
        head = head.if_match(format!("\"{etag}\""));
    }
    match head.send().await {
        Ok(h) => {
            if !etag.is_empty() && h.e_tag().is_some_and(|t| unquote(t) != etag) {
                return Ok(());
            }
        }
        Err(e) if gone_or_changed(&e) => return Ok(()),
        Err(e) => {
            return Err(cx.source_error(format!(
                "cannot read s3://{}/{key}: {}",
                w.bucket,
                describe(&e)
            )));
        }
    }
    s3.delete_object()
        .bucket(&w.bucket)
        .key(key)
        .set_expected_bucket_owner(w.expected_owner.clone())
        .set_request_payer(w.request_payer.clone())
        .send()
        .await
        .map_err(|e| {
            cx.source_error(format!(
                "cannot delete s3://{}/{key}: {}",
                w.bucket,
                describe(&e)
            ))
        })?;
    Ok(())
}

/// MOVE or DELETE the object version of `ack` (`{bucket, key, etag}`).
pub(crate) async fn apply_action(
    cx: &EvalContext<'_>,
    w: &Watch,
    ack: &Value,
) -> Result<(), TriggerError> {
    let key = ack.get("key").and_then(Value::as_str).unwrap_or_default();
    let etag = ack.get("etag").and_then(Value::as_str).unwrap_or_default();
    if key.is_empty() {
        return Ok(());
    }
    match w.action {
        S3Action::None => Ok(()),
        S3Action::Delete => delete_if_unchanged(cx, w, key, etag).await,
        S3Action::Move => {
            let Some((to_bucket, to_key)) = w.destination(key) else {
                return Err(cx.definition_error("`action: MOVE` needs `moveTo`"));
            };
            let mut copy = w
                .clients
                .s3
                .copy_object()
                .bucket(&to_bucket)
                .key(&to_key)
                .copy_source(copy_source(&w.bucket, key))
                .set_request_payer(w.request_payer.clone());
            if !etag.is_empty() {
                copy = copy.copy_source_if_match(format!("\"{etag}\""));
            }
            match copy.send().await {
                Ok(_) => {}
                // Moved already (an earlier acknowledgement), or replaced by a newer upload
                // that is its own detection: leave it.
                Err(e) if gone_or_changed(&e) => return Ok(()),
                Err(e) => {
                    return Err(cx.source_error(format!(
                        "cannot move s3://{}/{key} to s3://{to_bucket}/{to_key}: {}",
                        w.bucket,
                        describe(&e)
                    )));
                }
            }
            delete_if_unchanged(cx, w, key, etag).await
        }
    }
}

#[async_trait::async_trait]
impl TickTrigger for S3Poller {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        trigger
            .spec::<S3Trigger>()
            .ok_or("not an io.kestra.plugin.aws.s3.Trigger")?;
        Ok(Some(now))
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let s = spec(cx)?;
        let w = Watch::resolve(cx).await?;
        let seen: Vec<Seen> = w
            .list(cx)
            .await?
            .into_iter()
            .filter(|o| w.accepts(s, &o.key))
            .take(cx.config.max_per_trigger)
            .collect();
        let w = &w;
        let found: Vec<_> = futures::stream::iter(seen)
            .map(|o| async move { occurrence(cx, w, &o).await })
            .buffered(self.settings.downloads.max(1))
            .collect()
            .await;
        let mut eval = Evaluation::default();
        for o in found {
            if let Some(occ) = o? {
                eval.occurrences.push(occ);
            }
        }
        eval.date = Some(cx.now);
        eval.next = Some(cx.now + s.interval().to_chrono());
        Ok(eval)
    }

    fn retry_after(&self, trigger: &Trigger) -> std::time::Duration {
        trigger
            .spec::<S3Trigger>()
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
        if spec(cx)?.action == S3Action::None {
            return Ok(());
        }
        let w = Watch::resolve(cx).await?;
        apply_action(cx, &w, ack).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_copy_sources() {
        assert_eq!(
            occurrence_key("b", "in/a b.csv", "\"abc-2\""),
            "b/in/a b.csv/abc-2"
        );
        assert_eq!(
            occurrence_key("b", "k", "abc"),
            occurrence_key("b", "k", "\"abc\"")
        );
        assert_eq!(copy_source("b", "in/a b+c.csv"), "b/in/a%20b%2Bc.csv");
        assert_eq!(partition("data"), "s3|data");
    }
}
