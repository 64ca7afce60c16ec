//! `http.Request`: one HTTP request; the response as outputs `uri` (the request URI), `code`,
//! `headers` (name → list of values) and `body` (the body as text, not parsed; `null` when
//! empty), plus `formData` when form data was sent.
//!
//! Every string property is rendered: `uri` (spaces become `%20`), `method` (default GET),
//! `headers` (keys and values; a list gives several values), `body`, `contentType`
//! (`application/json` by default for a `body`), `formData` (URL-encoded, or multipart with
//! `contentType: multipart/form-data`, where a `kestra://` value or a `{name, content}` map
//! sends a file of internal storage), the `options` (`connectTimeout`, `readTimeout`,
//! `followRedirects` (default true), `basicAuthUser`/`basicAuthPassword`, and Kestra's newer
//! `auth: {type: BASIC|BEARER, ...}` and `allowFailed`). A response code of 400 or more fails
//! the task unless `allowFailed`. `sslOptions.insecureTrustAllCertificates` disables TLS
//! certificate checks. TLS is rustls; there is no HTTP/2, no proxy configuration beyond the
//! `HTTP(S)_PROXY` variables.

use async_trait::async_trait;
use kite_flow::tasks::http_request::HttpRequest;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::{Render, value_text};
use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// Largest body kept in the outputs (use `http.Download` for more).
const MAX_BODY: usize = 128 * 1024 * 1024;

/// The runner.
#[derive(Debug)]
pub struct Runner;

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<HttpRequest>()
            .ok_or_else(|| TaskError::new("not an http.Request task"))?;
        if spec.encrypt_body {
            return Err(TaskError::new(
                "`encryptBody: true` needs an encryption key, which this worker does not have: the body would be stored in clear",
            ));
        }
        let prepared = prepare(ctx, spec).await?;
        let mut response = prepared.send().await?;
        let code = response.status().as_u16();
        let headers = headers_output(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| http_error(&prepared.uri, e))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TaskError::new(format!(
                    "the response body of {} is over {} MiB: use io.kestra.plugin.core.http.Download to store it as a file",
                    prepared.uri,
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        check_status(code, prepared.allow_failed, Some(&text))?;
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(prepared.uri.clone()));
        out.insert("code".into(), Value::from(code));
        out.insert("headers".into(), headers);
        out.insert(
            "body".into(),
            if body.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            },
        );
        if let Some(form) = prepared.form_data {
            out.insert("formData".into(), Value::Object(form));
        }
        Ok(Output::success(out))
    }
}

/// A request ready to send.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The rendered request URI.
    pub uri: String,
    /// Whether 4xx/5xx responses are accepted.
    pub allow_failed: bool,
    /// The rendered form data, if any.
    pub form_data: Option<Map<String, Value>>,
    client: reqwest::Client,
    request: reqwest::Request,
}

impl Prepared {
    /// Sends the request.
    pub(crate) async fn send(&self) -> Result<reqwest::Response, TaskError> {
        let request = self
            .request
            .try_clone()
            .ok_or_else(|| TaskError::new("the request body cannot be replayed"))?;
        self.client
            .execute(request)
            .await
            .map_err(|e| http_error(&self.uri, e))
    }
}

/// Renders the HTTP properties shared by Request and Download into a client and a request.
pub(crate) async fn prepare(ctx: &RunContext, spec: &HttpRequest) -> Result<Prepared, TaskError> {
    prepare_with(ctx, Some(ctx), spec).await
}

/// [`prepare`] with any renderer; `files` reads the internal-storage files a multipart form
/// sends (none: such a form is refused).
pub(crate) async fn prepare_with<R: Render + ?Sized>(
    ctx: &R,
    files: Option<&RunContext>,
    spec: &HttpRequest,
) -> Result<Prepared, TaskError> {
    let uri = ctx.render(&spec.uri)?.trim().replace(' ', "%20");
    let url = reqwest::Url::parse(&uri)
        .map_err(|e| TaskError::new(format!("invalid uri `{uri}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TaskError::new(format!(
            "invalid uri `{uri}`: only http and https are supported"
        )));
    }
    let method = match &spec.method {
        Some(m) => ctx.render(m)?.trim().to_ascii_uppercase(),
        None => "GET".to_owned(),
    };
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| TaskError::new(format!("invalid HTTP method `{method}`")))?;

    let mut builder = {
        crate::tls::ensure_crypto_provider();
        reqwest::Client::builder().user_agent(concat!("Kite/", env!("CARGO_PKG_VERSION")))
    };
    let mut allow_failed = spec.allow_failed;
    let mut auth: Option<Auth> = None;
    if let Some(o) = &spec.options {
        if let Some(d) = &o.connect_timeout {
            builder =
                builder.connect_timeout(super::render_duration(ctx, d, "options.connectTimeout")?);
        }
        if let Some(d) = &o.read_timeout {
            builder = builder.read_timeout(super::render_duration(ctx, d, "options.readTimeout")?);
        }
        if o.follow_redirects == Some(false) {
            builder = builder.redirect(reqwest::redirect::Policy::none());
        }
        if let Some(user) = &o.basic_auth_user {
            let password = o
                .basic_auth_password
                .as_ref()
                .map(|p| ctx.render(p))
                .transpose()?;
            auth = Some(Auth::Basic(ctx.render(user)?, password));
        }
        if let Some(v) = o.other.get("allowFailed") {
            allow_failed |= super::render_bool(ctx, v, "options.allowFailed")?;
        }
        if let Some(Value::Object(a)) = o.other.get("auth") {
            auth = Some(auth_option(ctx, a)?.unwrap_or(Auth::None));
        }
        if let Some(Value::Object(ssl)) = o.other.get("ssl")
            && let Some(v) = ssl.get("insecureTrustAllCertificates")
            && super::render_bool(ctx, v, "options.ssl.insecureTrustAllCertificates")?
        {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
    }
    if let Some(Value::Object(ssl)) = &spec.ssl_options
        && let Some(v) = ssl.get("insecureTrustAllCertificates")
        && super::render_bool(ctx, v, "sslOptions.insecureTrustAllCertificates")?
    {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    let client = builder
        .build()
        .map_err(|e| TaskError::new(format!("cannot build the HTTP client: {e}")))?;

    let content_type = spec
        .content_type
        .as_ref()
        .map(|c| ctx.render(c))
        .transpose()?;
    let mut headers = HeaderMap::new();
    let mut request = client.request(method, url);
    let mut form_out = None;
    match &spec.form_data {
        Some(form) if !form.is_empty() => {
            let mut rendered = Map::new();
            for (k, v) in form {
                rendered.insert(ctx.render(k)?, ctx.render_value(v)?);
            }
            if content_type
                .as_deref()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("multipart/form-data"))
            {
                let files = files.ok_or_else(|| {
                    TaskError::new("a multipart form is not available here (no internal storage)")
                })?;
                let (boundary, body) = multipart_body(files, &rendered).await?;
                insert_header(
                    &mut headers,
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                    false,
                )?;
                request = request.body(body);
            } else {
                let pairs: Vec<(String, String)> = rendered
                    .iter()
                    .map(|(k, v)| (k.clone(), value_text(v)))
                    .collect();
                request = request.form(&pairs);
            }
            form_out = Some(rendered);
        }
        _ => {
            if let Some(body) = &spec.body {
                let body = ctx.render(body)?;
                let ct = content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".to_owned());
                insert_header(&mut headers, "Content-Type", &ct, false)?;
                request = request.body(body);
            } else if let Some(ct) = &content_type {
                insert_header(&mut headers, "Content-Type", ct, false)?;
            }
        }
    }
    if let Some(h) = &spec.headers {
        for (k, v) in h {
            let name = ctx.render(k)?;
            match v {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        insert_header(&mut headers, &name, &render_text(ctx, item)?, i > 0)?;
                    }
                }
                Value::Null => {}
                other => insert_header(&mut headers, &name, &render_text(ctx, other)?, false)?,
            }
        }
    }
    request = request.headers(headers);
    request = match auth {
        Some(Auth::Basic(user, password)) => request.basic_auth(user, password),
        Some(Auth::Bearer(token)) => request.bearer_auth(token),
        Some(Auth::None) | None => request,
    };
    let request = request
        .build()
        .map_err(|e| TaskError::new(format!("invalid request to `{uri}`: {e}")))?;
    Ok(Prepared {
        uri,
        allow_failed,
        form_data: form_out,
        client,
        request,
    })
}

enum Auth {
    None,
    Basic(String, Option<String>),
    Bearer(String),
}

fn auth_option<R: Render + ?Sized>(
    ctx: &R,
    a: &Map<String, Value>,
) -> Result<Option<Auth>, TaskError> {
    let get = |k: &str| a.get(k).map(|v| render_text(ctx, v)).transpose();
    let kind = get("type")?.unwrap_or_default().to_ascii_uppercase();
    Ok(match kind.as_str() {
        "BASIC" => Some(Auth::Basic(
            get("username")?.unwrap_or_default(),
            get("password")?,
        )),
        "BEARER" => Some(Auth::Bearer(get("token")?.unwrap_or_default())),
        "" => None,
        other => {
            return Err(TaskError::new(format!(
                "unsupported `options.auth.type` `{other}` (BASIC or BEARER)"
            )));
        }
    })
}

fn render_text<R: Render + ?Sized>(ctx: &R, v: &Value) -> Result<String, TaskError> {
    match v {
        Value::String(s) => ctx.render(s),
        other => Ok(value_text(other)),
    }
}

fn insert_header(
    headers: &mut HeaderMap,
    name: &str,
    value: &str,
    append: bool,
) -> Result<(), TaskError> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| TaskError::new(format!("invalid header name `{name}`")))?;
    let v = HeaderValue::from_str(value)
        .map_err(|_| TaskError::new(format!("invalid value for header `{name}`")))?;
    if append {
        headers.append(n, v);
    } else {
        headers.insert(n, v);
    }
    Ok(())
}

async fn multipart_body(
    ctx: &RunContext,
    form: &Map<String, Value>,
) -> Result<(String, Vec<u8>), TaskError> {
    let boundary = format!("----KiteFormBoundary{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    let quote = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace(['\r', '\n'], " ")
    };
    for (name, value) in form {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let file = match value {
            Value::String(s) if s.starts_with("kestra://") => {
                let key = ctx.input_key(s)?;
                Some((key.file_name().to_owned(), key))
            }
            Value::Object(m) if m.contains_key("name") && m.contains_key("content") => {
                let file_name = value_text(&m["name"]);
                let key = ctx.input_key(&value_text(&m["content"]))?;
                Some((file_name, key))
            }
            _ => None,
        };
        match file {
            Some((file_name, key)) => {
                let bytes = ctx.storage.get(&key).await?;
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                        quote(name),
                        quote(&file_name)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&bytes);
            }
            None => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        quote(name)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(value_text(value).as_bytes());
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((boundary, body))
}

/// Fails on a response code of 400 or more unless allowed.
pub(crate) fn check_status(
    code: u16,
    allow_failed: bool,
    body: Option<&str>,
) -> Result<(), TaskError> {
    if code < 400 || allow_failed {
        return Ok(());
    }
    let mut msg = format!("Failed http request with response code '{code}'");
    if let Some(b) = body.map(str::trim).filter(|b| !b.is_empty()) {
        let snippet: String = b.chars().take(300).collect();
        msg.push_str(&format!(": {snippet}"));
    }
    Err(TaskError::new(msg))
}

/// Response headers as `Name → [values]`, names in canonical `Title-Case` (the HTTP/1.1 client
/// receives them lower-cased; servers send them capitalised this way almost always).
pub(crate) fn headers_output(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let entry = out
            .entry(title_case(name.as_str()))
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    Value::Object(out)
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub(crate) fn http_error(uri: &str, e: reqwest::Error) -> TaskError {
    let mut msg = format!("HTTP request to `{uri}` failed: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    if e.is_timeout() {
        msg.push_str(" (timeout)");
    }
    TaskError::new(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_cases() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-request-id"), "X-Request-Id");
        assert_eq!(title_case("etag"), "Etag");
    }

    #[test]
    fn status_check() {
        assert!(check_status(200, false, None).is_ok());
        assert!(check_status(302, false, None).is_ok());
        assert!(check_status(404, true, None).is_ok());
        let e = check_status(500, false, Some("boom")).unwrap_err();
        assert!(e.0.contains("500") && e.0.contains("boom"), "{e}");
    }
}
