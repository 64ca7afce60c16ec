//! The API's error shape: `{"message": ..., "field": ..., "errors": [{message, path}]}`.
//!
//! Handlers return [`ApiError`]; engine, repository and storage errors convert into it
//! with the status a client can act on (404 for unknown things, 422 for invalid content,
//! 409 for a state that forbids the operation). The [`normalize`] layer rewrites every
//! other error response (axum's own rejections, 405, 413) into the same JSON shape, so
//! no client ever has to parse plain text.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kite_engine::repo::RepoError;
use kite_engine::services::ServiceError;
use kite_ports::{DocumentError, QueueError, StorageError};
use serde::Serialize;
use serde_json::{Map, Value};

/// One violation of a constraint, Kestra-style.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// What is wrong.
    pub message: String,
    /// Where (`tasks[0].type`, `inputs.name`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for humans.
    pub message: String,
    /// The request field at fault, if one is.
    pub field: Option<String>,
    /// Every violation, for validation errors.
    pub errors: Vec<Violation>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 422 about `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: vec![Violation {
                message: message.clone(),
                path: Some(field.clone()),
            }],
            message,
            field: Some(field),
        }
    }

    /// Sets the field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Sets the violations.
    pub fn with_errors(mut self, errors: Vec<Violation>) -> Self {
        self.errors = errors;
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("message".into(), Value::String(self.message.clone()));
        if let Some(f) = &self.field {
            m.insert("field".into(), Value::String(f.clone()));
        }
        if !self.errors.is_empty() {
            m.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or(Value::Null),
            );
        }
        Value::Object(m)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{}", self.message);
        }
        (self.status, Json(self.body())).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::FlowNotFound { namespace, id } => {
                Self::not_found(format!("Unable to find flow {namespace}.{id}"))
            }
            ServiceError::Inputs(errs) => inputs_error(&errs),
            ServiceError::Repo(r) => r.into(),
            ServiceError::Queue(q) => q.into(),
            ServiceError::Concurrency(ref c) if c.is_retryable() => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            ServiceError::Malformed { .. }
            | ServiceError::Concurrency(_)
            | ServiceError::Decision { .. } => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            ServiceError::Other(m) if m.contains("is disabled") => Self::conflict(m),
            ServiceError::Other(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        }
    }
}

/// 422 naming every invalid input (`field` is the first one, as `inputs.<id>`).
pub fn inputs_error(errs: &[kite_flow::inputs::InputError]) -> ApiError {
    let message = errs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let violations: Vec<Violation> = errs
        .iter()
        .map(|e| Violation {
            message: e.to_string(),
            path: Some(format!("inputs.{}", e.input)),
        })
        .collect();
    let field = violations.first().and_then(|v| v.path.clone());
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message,
        field,
        errors: violations,
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound { .. } => Self::not_found(e.to_string()),
            RepoError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            RepoError::Store(d) => d.into(),
            RepoError::Corrupt { .. } => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> Self {
        let status = match &e {
            DocumentError::Conflict { .. } => StatusCode::CONFLICT,
            DocumentError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            DocumentError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        let status = match &e {
            StorageError::NotFound { .. } => StatusCode::NOT_FOUND,
            StorageError::InvalidKey { .. } | StorageError::KeyConflict { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            StorageError::Source { source, .. } if source.to_string().contains("limit") => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            StorageError::Source { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

/// The fallback: no route matches.
pub(crate) async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("No route for {}", uri.path()))
}

/// Rewrites error responses that are not JSON (axum rejections, 405, 413...) into the
/// JSON error shape, keeping their status and headers.
pub(crate) async fn normalize(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    let body = ApiError::new(status, message).body().to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
