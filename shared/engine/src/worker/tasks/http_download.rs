//! `http.Download`: streams an HTTP response body to a file of the working directory, then
//! stores it in internal storage. Outputs `uri`, `code`, `length` (bytes) and `headers`.
//!
//! Takes the same properties as `http.Request` (see [`super::http_request`]). A response code
//! of 400 or more fails unless `allowFailed`; an empty body fails when `failOnEmptyResponse`
//! (default true) unless `allowFailed`, and is only a warning otherwise. A body shorter than
//! its `Content-Length` fails. The stored file is named after the `Content-Disposition`
//! file name, else the last segment of the URI path.

use async_trait::async_trait;
use kite_flow::plugin::LogLevel;
use kite_flow::tasks::http_download::HttpDownload;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::http_request::{check_status, headers_output, http_error, prepare};
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = &ctx
            .task
            .spec::<HttpDownload>()
            .ok_or_else(|| TaskError::new("not an http.Download task"))?
            .0;
        let prepared = prepare(ctx, spec).await?;
        let mut response = prepared.send().await?;
        let code = response.status().as_u16();
        check_status(code, prepared.allow_failed, None)?;
        let headers = response.headers().clone();
        let expected = response.content_length();

        let url_name = reqwest::Url::parse(&prepared.uri)
            .ok()
            .and_then(|u| {
                u.path_segments()
                    .and_then(|mut s| s.next_back().map(str::to_owned))
            })
            .filter(|s| !s.is_empty());
        let extension = url_name
            .as_deref()
            .and_then(|n| n.rfind('.').map(|i| n[i..].to_owned()))
            .filter(|e| sanitize(e).is_some_and(|s| s == *e))
            .unwrap_or_else(|| ".tmp".to_owned());

        tokio::fs::create_dir_all(&ctx.workdir).await?;
        let local = ctx
            .workdir
            .join(format!(".kite-download-{}{extension}", ctx.job.task_run_id));
        let result = async {
            let file = tokio::fs::File::create(&local).await?;
            let mut w = tokio::io::BufWriter::with_capacity(1 << 20, file);
            let mut size: u64 = 0;
            while let Some(chunk) = response.chunk().await.map_err(|e| http_error(&prepared.uri, e))? {
                w.write_all(&chunk).await?;
                size += chunk.len() as u64;
            }
            w.flush().await?;
            drop(w);
            if let Some(expected) = expected
                && expected != size
            {
                return Err(TaskError::new(format!("Invalid size, got {size}, expected {expected}")));
            }
            let fail_on_empty = spec.fail_on_empty_response.unwrap_or(true);
            if size == 0 {
                if fail_on_empty && !prepared.allow_failed {
                    return Err(TaskError::new(format!(
                        "No response from server: `{}` returned an empty body (set `failOnEmptyResponse: false` to accept it)",
                        prepared.uri
                    )));
                }
                ctx.log(LogLevel::Warn, format!("File '{}' is empty", prepared.uri));
            }
            let name = headers
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(filename_from_disposition)
                .or_else(|| url_name.as_deref().and_then(sanitize))
                .unwrap_or_else(|| format!("download{extension}"));
            let uri = ctx.put_output_file(&local, &name).await?;
            ctx.log(LogLevel::Debug, format!("File '{}' downloaded with size '{size}'", prepared.uri));
            Ok((uri, size))
        }
        .await;
        let _ = tokio::fs::remove_file(&local).await;
        let (uri, size) = result?;
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("code".into(), Value::from(code));
        out.insert("length".into(), Value::from(size));
        out.insert("headers".into(), headers_output(&headers));
        Ok(Output::success(out))
    }
}

/// The file name of a `Content-Disposition` header (`filename*=` preferred), sanitised.
fn filename_from_disposition(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in header.split(';') {
        let part = part.trim();
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "filename" => plain = Some(v.trim().trim_matches('"').to_owned()),
            "filename*" => {
                // RFC 5987: charset'lang'percent-encoded
                let v = v.trim().trim_matches('"');
                let encoded = v.rsplit('\'').next().unwrap_or(v);
                extended = percent_decode(encoded);
            }
            _ => {}
        }
    }
    extended.or(plain).and_then(|n| sanitize(&n))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A safe single file name: the last path component, no control characters, not `.`/`..`.
fn sanitize(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." || clean.len() > 200 {
        return None;
    }
    Some(clean.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(
            filename_from_disposition("attachment; filename=\"a.csv\"").as_deref(),
            Some("a.csv")
        );
        assert_eq!(
            filename_from_disposition("attachment; filename=../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            filename_from_disposition(
                "attachment; filename=\"x\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
            )
            .as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(filename_from_disposition("inline"), None);
        assert_eq!(sanitize(".."), None);
    }
}
