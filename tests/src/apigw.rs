//! API Gateway HTTP API requests and responses as a Lambda sees them (payload format 2.0,
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>),
//! and a `multipart/form-data` body builder.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// An HTTP request to send through API Gateway.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// The path (`/api/v1/flows`).
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Headers (names are lowercased, as API Gateway does).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Send the body base64-encoded (API Gateway does for binary media).
    pub base64: bool,
}

impl HttpRequest {
    /// A request without body.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets a text body.
    pub fn text(mut self, content_type: &str, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self.base64 = false;
        self.header("content-type", content_type)
    }

    /// Sets a binary body, sent base64-encoded.
    pub fn binary(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = body;
        self.base64 = true;
        self.header("content-type", content_type)
    }

    /// The Lambda event (payload format 2.0).
    pub fn event(&self) -> Value {
        let now = chrono::Utc::now();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let mut headers = Map::new();
        headers.insert("accept".into(), "*/*".into());
        headers.insert(
            "host".into(),
            "abcdef1234.execute-api.us-east-1.amazonaws.com".into(),
        );
        headers.insert("user-agent".into(), "kite-tests/1".into());
        headers.insert(
            "x-amzn-trace-id".into(),
            format!("Root=1-{:08x}-{}", now.timestamp(), &request_id[..24]).into(),
        );
        headers.insert("x-forwarded-for".into(), "127.0.0.1".into());
        headers.insert("x-forwarded-port".into(), "443".into());
        headers.insert("x-forwarded-proto".into(), "https".into());
        if !self.body.is_empty() {
            headers.insert("content-length".into(), self.body.len().to_string().into());
        }
        for (k, v) in &self.headers {
            // Repeated headers are joined with commas.
            let joined = match headers.get(k).and_then(Value::as_str) {
                Some(old) if !matches!(k.as_str(), "content-type" | "user-agent" | "accept") => {
                    format!("{old},{v}")
                }
                _ => v.clone(),
            };
            headers.insert(k.clone(), Value::String(joined));
        }
        let mut query = Map::new();
        for (k, v) in form_urlencoded::parse(self.query.as_bytes()) {
            let v = match query.get(k.as_ref()).and_then(Value::as_str) {
                Some(old) => format!("{old},{v}"),
                None => v.into_owned(),
            };
            query.insert(k.into_owned(), Value::String(v));
        }
        let body = if self.body.is_empty() {
            Value::Null
        } else if self.base64 {
            Value::String(BASE64.encode(&self.body))
        } else {
            Value::String(String::from_utf8_lossy(&self.body).into_owned())
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abcdef1234",
                "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abcdef1234",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "kite-tests/1"
                },
                "requestId": request_id,
                "routeKey": "$default",
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                "timeEpoch": now.timestamp_millis()
            },
            "isBase64Encoded": self.base64 && !self.body.is_empty()
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !body.is_null() {
            event["body"] = body;
        }
        event
    }
}

/// The response a function returned to API Gateway.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (lowercased names).
    pub headers: Vec<(String, String)>,
    /// The body, decoded.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Reads the function's response (`statusCode`, `headers`, `multiValueHeaders`, `body`,
    /// `isBase64Encoded`).
    pub fn from_lambda(v: &Value) -> Result<Self, String> {
        let status =
            v.get("statusCode")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("no statusCode in the response {v}"))? as u16;
        let mut headers = Vec::new();
        if let Some(h) = v.get("headers").and_then(Value::as_object) {
            for (k, val) in h {
                if let Some(s) = val.as_str() {
                    headers.push((k.to_ascii_lowercase(), s.to_owned()));
                }
            }
        }
        if let Some(h) = v.get("multiValueHeaders").and_then(Value::as_object) {
            for (k, vals) in h {
                let k = k.to_ascii_lowercase();
                if headers.iter().any(|(name, _)| *name == k) {
                    continue;
                }
                for s in vals
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    headers.push((k.clone(), s.to_owned()));
                }
            }
        }
        let text = v.get("body").and_then(Value::as_str).unwrap_or("");
        let body = if v.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            BASE64
                .decode(text)
                .map_err(|e| format!("the base64 body does not decode: {e}"))?
        } else {
            text.as_bytes().to_vec()
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }
}

/// A `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form.
    pub fn new() -> Self {
        Self {
            boundary: format!("----kite{}", uuid::Uuid::new_v4().simple()),
            body: Vec::new(),
        }
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.start(name, None, "text/plain; charset=utf-8");
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// Adds a file field.
    pub fn file(mut self, name: &str, file_name: &str, content: &[u8]) -> Self {
        self.start(name, Some(file_name), "application/octet-stream");
        self.body.extend_from_slice(content);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    fn start(&mut self, name: &str, file_name: Option<&str>, content_type: &str) {
        let disposition = match file_name {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
    }

    /// The `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (self.content_type(), self.body)
    }
}
