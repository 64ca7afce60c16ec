//! Optional authentication: when a token or a basic-auth pair is configured, every request
//! except the health endpoints and the routes documented `public` (webhooks, which their
//! key authenticates: see `webhook`) must carry `Authorization: Bearer <token>` or
//! `Authorization: Basic <base64(user:password)>`; anything else gets a 401.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::AppState;
use crate::error::ApiError;

/// Paths open without credentials (liveness probes).
pub(crate) const PUBLIC_PATHS: &[&str] = &[
    "/health",
    "/api/v1/health",
    "/ready",
    "/api/v1/ready",
    "/ping",
];

/// The middleware.
pub(crate) async fn require(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let options = state.options();
    if !options.auth_required()
        || PUBLIC_PATHS.contains(&req.uri().path())
        || crate::guard::find_route(req.method(), req.uri().path()).is_some_and(|r| r.public)
    {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if header.is_some_and(|h| authorized(h, options.token.as_deref(), options.basic_auth.as_ref()))
    {
        return next.run(req).await;
    }
    let mut resp = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized: send `Authorization: Bearer <token>` or basic auth",
    )
    .into_response();
    let challenge = if options.basic_auth.is_some() {
        "Basic realm=\"kite\""
    } else {
        "Bearer"
    };
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    resp
}

fn authorized(header: &str, token: Option<&str>, basic: Option<&(String, String)>) -> bool {
    let (scheme, credentials) = header.trim().split_once(' ').unwrap_or((header, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        // An empty token matches nothing (it must not admit `Bearer ` with no credentials).
        return token.is_some_and(|t| {
            !t.is_empty() && constant_time_eq(t.as_bytes(), credentials.as_bytes())
        });
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Some((user, password)) = basic.filter(|(_, p)| !p.is_empty()) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
            return false;
        };
        let expected = format!("{user}:{password}");
        return constant_time_eq(expected.as_bytes(), &decoded);
    }
    false
}

/// Compares without stopping at the first difference (the length still shows).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let basic = ("admin".to_owned(), "pw".to_owned());
        assert!(authorized("Bearer t0k", Some("t0k"), None));
        assert!(authorized("bearer  t0k ", Some("t0k"), None));
        assert!(!authorized("Bearer t0", Some("t0k"), None));
        assert!(!authorized("Bearer ", None, None));
        let b64 = base64::engine::general_purpose::STANDARD.encode("admin:pw");
        assert!(authorized(&format!("Basic {b64}"), None, Some(&basic)));
        assert!(!authorized(&format!("Basic {b64}"), Some("x"), None));
        assert!(!authorized("Basic !!!", None, Some(&basic)));
    }

    #[test]
    fn empty_secrets_admit_nobody() {
        assert!(!authorized("Bearer ", Some(""), None));
        assert!(!authorized("Bearer", Some(""), None));
        let empty = ("kite".to_owned(), String::new());
        let b64 = base64::engine::general_purpose::STANDARD.encode("kite:");
        assert!(!authorized(&format!("Basic {b64}"), None, Some(&empty)));
    }
}
