//! The webserver Lambda: API Gateway HTTP API requests (payload format 2.0) through the same
//! axum router as `kite server local` ([`kite_webserver::router`]), served by `lambda_http`,
//! which decodes base64 bodies (binary uploads, multipart) and encodes binary responses.
//!
//! `KITE_API_TOKEN` (optional) requires `Authorization: Bearer <token>` on the API.
//! `main` only wires; the app is built here.

use std::sync::Arc;

use kite_engine::services::Platform;
use kite_webserver::AppState;

/// The router with the options from `env`.
pub fn app(platform: Arc<Platform>, env: &[(String, String)]) -> axum::Router {
    let mut state = AppState::new(platform);
    if let Some((_, token)) = env
        .iter()
        .find(|(k, v)| k == "KITE_API_TOKEN" && !v.is_empty())
    {
        state = state.with_token(token.clone());
    }
    kite_webserver::router(state)
}
