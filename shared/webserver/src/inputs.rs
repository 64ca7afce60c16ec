//! Reading execution inputs (and `onResume` inputs) from a request body.
//!
//! - `multipart/form-data` (Kestra's way): text parts are values; a file part for a
//!   declared FILE input is streamed straight into internal storage under
//!   `<namespace path>/<flow>/executions/<execution>/inputs/<input>/<file name>` (never held
//!   in memory) and its `kestra:///` URI becomes the value. File parts for other inputs are
//!   read as text (up to [`MAX_TEXT_BYTES`]); parts for undeclared inputs are skipped.
//! - `application/json`: an object of values (dotted ids may also be nested objects).
//! - JSON bodies are at most [`MAX_JSON_BODY_BYTES`] and each value at most
//!   [`MAX_TEXT_BYTES`], like a multipart text part; over either, a 413 names the limit.
//! - an empty body: no inputs.
//!
//! Nothing else: `application/x-www-form-urlencoded` and `text/plain` are what a page of
//! another site can make a browser send without asking, so no input comes that way.
//!
//! A FILE input given as text must be a `kestra:///` URI of a file of the same flow: an
//! execution must not be able to point `read(inputs.file)` at another flow's files.
//! When reading fails, files already uploaded are deleted.

use std::io;

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use futures::TryStreamExt;
use kite_flow::model::input::{Input, InputType};
use kite_ports::StorageKey;
use serde_json::{Map, Value};
use tokio_util::io::StreamReader;

use crate::AppState;
use crate::error::ApiError;

/// Largest text value (a text part, or a file part for a non-FILE input).
pub(crate) const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Largest JSON body (each value in it is at most [`MAX_TEXT_BYTES`], as a text
/// part of a multipart body): a bigger body gets a 413 before it is parsed.
pub const MAX_JSON_BODY_BYTES: usize = 4 * MAX_TEXT_BYTES;

/// Where the inputs go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The declared inputs.
    pub declared: &'a [Input],
    /// The execution's storage folder (uploads go below it).
    pub execution_key: &'a StorageKey,
    /// The flow's storage folder (FILE URIs given as text must be below it).
    pub flow_key: &'a StorageKey,
}

/// The values read, and the files stored for them.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Values by input id.
    pub values: Map<String, Value>,
    /// Storage keys written.
    pub uploaded: Vec<StorageKey>,
}

/// Reads the inputs of `req`.
pub(crate) async fn read(
    state: &AppState,
    req: Request,
    target: Target<'_>,
) -> Result<Received, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let mut received = Received::default();
    let result = match content_type.as_str() {
        "multipart/form-data" => match Multipart::from_request(req, state).await {
            Ok(mp) => read_multipart(state, mp, target, &mut received).await,
            Err(r) => Err(ApiError::new(r.status(), r.body_text())),
        },
        "application/json" => read_json(req, target, &mut received).await,
        "" => {
            let body = body_bytes(req).await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                Ok(())
            } else {
                Err(unsupported(""))
            }
        }
        other => Err(unsupported(other)),
    };
    match result {
        Ok(()) => Ok(received),
        Err(e) => {
            discard(state, &received.uploaded).await;
            Err(e)
        }
    }
}

/// Deletes uploaded files (after a failure).
pub(crate) async fn discard(state: &AppState, keys: &[StorageKey]) {
    for k in keys {
        if let Err(e) = state.platform().storage.delete(k).await {
            tracing::warn!("cannot delete the upload {k}: {e}");
        }
    }
}

fn unsupported(ct: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "unsupported content type `{ct}`: send inputs as multipart/form-data or application/json"
        ),
    )
}

async fn body_bytes(req: Request) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_JSON_BODY_BYTES)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "cannot read the body ({e}): a JSON body of inputs is at most \
                     {MAX_JSON_BODY_BYTES} bytes and each value at most {MAX_TEXT_BYTES} bytes; \
                     send big content as a FILE input (multipart/form-data)"
                ),
            )
        })
}

/// A value over [`MAX_TEXT_BYTES`] (as JSON text; a string counts its own bytes), refused as a
/// multipart text part would be.
fn check_value_size(name: &str, value: &Value) -> Result<(), ApiError> {
    let size = match value {
        Value::String(s) => s.len(),
        other => serde_json::to_string(other).map_or(usize::MAX, |j| j.len()),
    };
    if size > MAX_TEXT_BYTES {
        return Err(too_big(name));
    }
    Ok(())
}

fn too_big(name: &str) -> ApiError {
    ApiError::invalid(
        format!("inputs.{name}"),
        format!(
            "Invalid input for `{name}`: over {MAX_TEXT_BYTES} bytes (declare it as a FILE input to send big content)"
        ),
    )
    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

fn declared<'a>(target: Target<'a>, name: &str) -> Option<&'a Input> {
    target.declared.iter().find(|i| i.key() == name)
}

fn is_file(input: Option<&Input>) -> bool {
    input.is_some_and(|i| i.kind == InputType::File)
}

/// Checks a FILE input given as text: a `kestra:///` URI of a file of the flow.
fn check_file_uri(target: Target<'_>, name: &str, value: &Value) -> Result<(), ApiError> {
    let Value::String(s) = value else {
        return Ok(());
    };
    let field = format!("inputs.{name}");
    let key = StorageKey::parse_uri(s).map_err(|e| {
        ApiError::invalid(
            &field,
            format!("Invalid input for `{name}`: upload a file or give a kestra:/// URI ({e})"),
        )
    })?;
    if !key.is_under(target.flow_key) {
        return Err(ApiError::invalid(
            &field,
            format!(
                "Invalid input for `{name}`: {s} is not a file of flow {}",
                target.flow_key
            ),
        ));
    }
    Ok(())
}

fn insert_checked(
    target: Target<'_>,
    out: &mut Received,
    name: String,
    value: Value,
) -> Result<(), ApiError> {
    check_value_size(&name, &value)?;
    if is_file(declared(target, &name)) {
        check_file_uri(target, &name, &value)?;
    }
    out.values.insert(name, value);
    Ok(())
}

async fn read_json(req: Request, target: Target<'_>, out: &mut Received) -> Result<(), ApiError> {
    let body = body_bytes(req).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("malformed JSON body: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::invalid(
            "body",
            "the JSON body must be an object of input values",
        ));
    };
    // Dotted ids may arrive nested: {"a": {"b": 1}} for input `a.b`.
    for input in target.declared {
        let key = input.key();
        if key.contains('.') && !map.contains_key(key) {
            let mut cur = Some(&Value::Object(map.clone()));
            for part in key.split('.') {
                cur = cur.and_then(|v| v.get(part));
            }
            if let Some(v) = cur {
                insert_checked(target, out, key.to_owned(), v.clone())?;
            }
        }
    }
    for (k, v) in map {
        insert_checked(target, out, k, v)?;
    }
    Ok(())
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::new(
        e.status(),
        format!("malformed multipart body: {}", e.body_text()),
    )
}

async fn read_multipart(
    state: &AppState,
    mut mp: Multipart,
    target: Target<'_>,
    out: &mut Received,
) -> Result<(), ApiError> {
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let Some(name) = field.name().map(str::to_owned).filter(|n| !n.is_empty()) else {
            continue;
        };
        let decl = declared(target, &name);
        if decl.is_none() {
            continue; // undeclared inputs are dropped, as Kestra does
        }
        match field.file_name().map(str::to_owned) {
            Some(file_name) if is_file(decl) => {
                let key = upload(state, field, target, &name, &file_name).await?;
                out.values.insert(name, Value::String(key.to_uri()));
                out.uploaded.push(key);
            }
            _ => {
                let text = read_text(field, &name).await?;
                insert_checked(target, out, name, Value::String(text))?;
            }
        }
    }
    Ok(())
}

async fn read_text(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > MAX_TEXT_BYTES {
            return Err(too_big(name));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| {
        ApiError::invalid(
            format!("inputs.{name}"),
            format!("Invalid input for `{name}`: not UTF-8 text"),
        )
    })
}

/// The last component of a client file name, if it is a usable storage segment.
fn file_name_segment(raw: &str) -> Option<&str> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw).trim();
    (!base.is_empty() && base != "." && base != "..").then_some(base)
}

async fn upload(
    state: &AppState,
    field: Field<'_>,
    target: Target<'_>,
    name: &str,
    file_name: &str,
) -> Result<StorageKey, ApiError> {
    let field_name = format!("inputs.{name}");
    let segment = file_name_segment(file_name).unwrap_or("upload.bin");
    let key = target
        .execution_key
        .join("inputs")
        .and_then(|k| k.join(name))
        .and_then(|k| k.join(segment))
        .map_err(|e| {
            ApiError::invalid(
                &field_name,
                format!("Invalid input for `{name}`: unusable file name `{file_name}` ({e})"),
            )
        })?;
    let stream = field.map_err(|e| io::Error::other(e.body_text()));
    let mut reader = StreamReader::new(Box::pin(stream));
    state
        .platform()
        .storage
        .put_stream(&key, &mut reader)
        .await
        .map_err(|e| ApiError::from(e).with_field(field_name))?;
    Ok(key)
}

impl ApiError {
    /// Changes the status.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            file_name_segment("C:\\Users\\me\\data.csv"),
            Some("data.csv")
        );
        assert_eq!(file_name_segment("../../etc/passwd"), Some("passwd"));
        assert_eq!(file_name_segment(".."), None);
        assert_eq!(file_name_segment("dir/"), None);
    }
}
