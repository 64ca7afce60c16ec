//! Liveness and readiness: `/health` and `/api/v1/health` answer `{"status":"UP"}` while the
//! process serves; `/ready` also checks that the queue answers (503 `DOWN` otherwise);
//! `/ping` answers `pong`. None of them needs credentials.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// `GET /health`.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

/// `GET /ready`.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let platform = state.platform();
    match platform
        .queue
        .approximate_len(&platform.names.executor)
        .await
    {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "UP" }))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "DOWN", "message": e.to_string() })),
        ),
    }
}

/// `GET /ping`.
pub(crate) async fn ping() -> &'static str {
    "pong"
}
