//! The webserver Lambda: API Gateway HTTP API requests (payload format 2.0) through the same
//! axum router as `kite server local` ([`kite_webserver::router`]), served by `lambda_http`,
//! which decodes base64 bodies (binary uploads, multipart) and encodes binary responses.
//!
//! Configuration from the environment:
//! - `KITE_API_TOKEN` requires `Authorization: Bearer <token>` on the API (set but empty: an
//!   error at start, never "no auth").
//! - `KITE_PUBLIC_HOSTS` (comma-separated `name`, `name:port` or `*.suffix`): the names the
//!   `Host` header may carry besides the loopback names. Default: the API Gateway names of
//!   the function's region, `*.execute-api.<AWS_REGION>.amazonaws.com`; set it to a custom
//!   domain (it then replaces the default).
//! - `KITE_ALLOWED_ORIGINS` (comma-separated `https://ui.example.com`): origins allowed to
//!   call the API from a browser besides the API's own. Default: none.
//!
//! `main` only wires; the app is built here.

use std::sync::Arc;

use kite_engine::services::Platform;
use kite_webserver::AppState;

fn var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The names the `Host` header may carry (see the module documentation).
pub fn public_hosts(env: &[(String, String)]) -> Vec<String> {
    match var(env, "KITE_PUBLIC_HOSTS") {
        Some(v) if !v.trim().is_empty() => list(v),
        _ => var(env, "AWS_REGION")
            .filter(|r| !r.trim().is_empty())
            .map(|r| vec![format!("*.execute-api.{}.amazonaws.com", r.trim())])
            .unwrap_or_default(),
    }
}

/// The router with the options from `env`; an error names a wrong setting.
pub fn app(platform: Arc<Platform>, env: &[(String, String)]) -> Result<axum::Router, String> {
    let mut state = AppState::new(platform)
        .with_public_hosts(public_hosts(env))
        .with_allowed_origins(
            var(env, "KITE_ALLOWED_ORIGINS")
                .map(list)
                .unwrap_or_default(),
        );
    if let Some(token) = var(env, "KITE_API_TOKEN") {
        if token.trim().is_empty() {
            return Err(
                "KITE_API_TOKEN is set but empty: set a token, or remove the variable".to_owned(),
            );
        }
        state = state.with_token(token.trim());
    }
    Ok(kite_webserver::router(state))
}
