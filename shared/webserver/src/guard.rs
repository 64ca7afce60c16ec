//! Browser protections, checked on every request before authentication and before any
//! handler, so that a web page open in the user's browser cannot drive the API (cross-site
//! request forgery) nor read it through another name (DNS rebinding):
//!
//! 1. **Host.** The `Host` header (or the URI authority) must name the server: a loopback
//!    name (`localhost`, `127.0.0.1`, `[::1]`, any port) or one of
//!    [`Options::public_hosts`](crate::Options::public_hosts) (`name`, `name:port` or
//!    `*.suffix`). Otherwise 421 Misdirected Request. A request without any host (not a
//!    browser: browsers always send one) passes, and so do the liveness probes (`GET
//!    /health`, `/ready`, `/ping`: they tell nothing), reached by any name.
//! 2. **Origin.** An `Origin` header must be the server's own (`scheme://` + the request's
//!    `Host`) or one of [`Options::allowed_origins`](crate::Options::allowed_origins);
//!    `Origin: null` is foreign. `Sec-Fetch-Site: cross-site` is refused unless the origin is
//!    allow-listed. Otherwise 403. Requests without `Origin` (CLI, curl) pass; they still
//!    need the token. Routes documented [`cross_site`](crate::openapi::Route::cross_site)
//!    (webhooks) skip this rule: it protects the credentials a browser attaches by itself,
//!    and they use none (their key, in the URL, is their only credential; other sites call
//!    them by design).
//! 3. **Content types.** A state-changing request (POST, PUT, PATCH, DELETE) with a
//!    `Content-Type` must use one the route documents in [`openapi::ROUTES`] (YAML for flow
//!    sources, JSON, multipart only where inputs need files); a body without a
//!    `Content-Type` is refused too. Otherwise 415, naming the types the route accepts.
//!    The types a browser may send cross-site without a preflight (`text/plain`,
//!    `application/x-www-form-urlencoded`) are accepted by no route but the webhooks,
//!    which document `*/*` (any type, or none).

use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::openapi::{self, Route};
use crate::{AppState, Options};

/// What a state-changing route not listed in [`openapi::ROUTES`] accepts.
const DEFAULT_BODY: &[&str] = &["application/json"];

/// The middleware.
pub(crate) async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match inspect(state.options(), &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Checks `req` against the three rules (see the module documentation).
pub(crate) fn inspect(options: &Options, req: &Request) -> Result<(), ApiError> {
    let host = request_host(req);
    // Liveness probes (which tell nothing) answer whatever name they are reached by.
    let probe =
        req.method() == Method::GET && crate::auth::PUBLIC_PATHS.contains(&req.uri().path());
    if let Some(h) = &host
        && !probe
    {
        check_host(options, h)?;
    }
    let route = find_route(req.method(), req.uri().path());
    if !route.is_some_and(|r| r.cross_site) {
        check_origin(options, req.headers(), host.as_deref())?;
    }
    if is_state_changing(req.method()) {
        check_content_type(req, route)?;
    }
    Ok(())
}

fn is_state_changing(m: &Method) -> bool {
    !matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The `Host` header, or the URI's authority (HTTP/2), lower-cased.
fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .map(|h| h.trim().to_ascii_lowercase())
}

/// `name[:port]` → (name without brackets, port).
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((name, tail)) => (name, tail.strip_prefix(':')),
            None => (rest, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (authority, None),
    }
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `authority` (`name[:port]`, lower-case) names the server.
pub(crate) fn host_allowed(options: &Options, authority: &str) -> bool {
    let (name, port) = split_authority(authority);
    if name.is_empty() {
        return false;
    }
    if is_loopback_name(name) {
        return true;
    }
    options.public_hosts.iter().any(|allowed| {
        let allowed = allowed.trim().to_ascii_lowercase();
        if let Some(suffix) = allowed.strip_prefix("*.") {
            return name.len() > suffix.len() + 1
                && name.ends_with(suffix)
                && name.as_bytes()[name.len() - suffix.len() - 1] == b'.';
        }
        let (a_name, a_port) = split_authority(&allowed);
        a_name == name && (a_port.is_none() || a_port == port)
    })
}

fn check_host(options: &Options, authority: &str) -> Result<(), ApiError> {
    if host_allowed(options, authority) {
        return Ok(());
    }
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    names.extend(options.public_hosts.iter().cloned());
    Err(ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!(
            "Host `{authority}` is not a name of this server (allowed: {}, any port); \
             add it with --public-host (KITE_PUBLIC_HOSTS)",
            names.join(", ")
        ),
    ))
}

fn origin_listed(options: &Options, origin: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    options
        .allowed_origins
        .iter()
        .any(|o| o.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
}

fn forbidden(why: String) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Cross-origin request refused: {why}; the API answers only its own origin and \
             the origins added with --allow-origin (KITE_ALLOWED_ORIGINS)"
        ),
    )
}

fn check_origin(
    options: &Options,
    headers: &HeaderMap,
    host: Option<&str>,
) -> Result<(), ApiError> {
    let origin = match headers.get(header::ORIGIN) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| forbidden("the Origin header is not ASCII".into()))?
                .trim()
                .to_owned(),
        ),
    };
    let listed = origin.as_deref().is_some_and(|o| origin_listed(options, o));
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase());
    if site.as_deref() == Some("cross-site") && !listed {
        return Err(forbidden("`Sec-Fetch-Site: cross-site`".into()));
    }
    let Some(origin) = origin else {
        return Ok(());
    };
    if listed {
        return Ok(());
    }
    let own = origin
        .split_once("://")
        .filter(|(scheme, _)| matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https"))
        .map(|(_, authority)| authority.to_ascii_lowercase())
        .is_some_and(|authority| host == Some(authority.as_str()));
    if own {
        Ok(())
    } else {
        Err(forbidden(format!(
            "origin `{origin}` is not this server's{}",
            host.map(|h| format!(" (`{h}`)")).unwrap_or_default()
        )))
    }
}

/// The media type of a `Content-Type` value: lower-case, without parameters.
fn essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// How well `template` (`/a/{x}/c`) matches `path`: the number of literal segments, or
/// `None` when it does not match.
fn match_score(template: &str, path: &str) -> Option<usize> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut score = 0;
    for (ts, ps) in t.iter().zip(&p) {
        if ts.starts_with('{') && ts.ends_with('}') {
            if ps.is_empty() {
                return None;
            }
        } else if ts == ps {
            score += 1;
        } else {
            return None;
        }
    }
    Some(score)
}

/// The documented route `method path` resolves to (the most specific template).
pub(crate) fn find_route(method: &Method, path: &str) -> Option<&'static Route> {
    let m = method.as_str().to_ascii_lowercase();
    openapi::ROUTES
        .iter()
        .filter(|r| r.method == m)
        .filter_map(|r| match_score(r.path, path).map(|s| (s, r)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, r)| r)
}

fn accepted_list(accepted: &[&str]) -> String {
    if accepted.is_empty() {
        "no body".to_owned()
    } else {
        accepted.join(", ")
    }
}

fn check_content_type(req: &Request, route: Option<&Route>) -> Result<(), ApiError> {
    let accepted = route.map_or(DEFAULT_BODY, |r| r.body);
    if accepted.contains(&openapi::ANY_BODY) {
        return Ok(());
    }
    let what = format!(
        "{} {}",
        req.method(),
        route.map_or(req.uri().path(), |r| r.path)
    );
    match req.headers().get(header::CONTENT_TYPE) {
        Some(v) => {
            let ct = essence(v.to_str().unwrap_or("?"));
            if accepted.contains(&ct.as_str()) {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "Unsupported content type `{ct}`: {what} accepts {}",
                        accepted_list(accepted)
                    ),
                ))
            }
        }
        None if has_body(req) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "A request body needs a Content-Type: {what} accepts {}",
                accepted_list(accepted)
            ),
        )),
        None => Ok(()),
    }
}

/// Whether the request may carry a body (a length over 0, or a body of unknown length).
fn has_body(req: &Request) -> bool {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return len > 0;
    }
    req.body().size_hint().exact() != Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(hosts: &[&str]) -> Options {
        Options {
            public_hosts: hosts.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn hosts() {
        let o = opts(&[
            "kite.example.com",
            "lan:9000",
            "*.execute-api.eu-west-1.amazonaws.com",
        ]);
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:8080",
            "[::1]",
            "kite.example.com",
            "kite.example.com:443",
            "lan:9000",
            "abc.execute-api.eu-west-1.amazonaws.com",
        ] {
            assert!(host_allowed(&o, ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "localhost.evil.com",
            "evil.localhost",
            "lan:9001",
            "execute-api.eu-west-1.amazonaws.com",
            "x.execute-api.eu-west-1.amazonaws.com.evil.com",
            "",
            "0.0.0.0:8080",
        ] {
            assert!(!host_allowed(&o, bad), "{bad}");
        }
    }

    #[test]
    fn routes_resolve_to_the_most_specific_template() {
        let r = find_route(&Method::POST, "/api/v1/executions/x1/restart").unwrap();
        assert_eq!(r.path, "/api/v1/executions/{executionId}/restart");
        let r = find_route(&Method::POST, "/api/v1/executions/ns/flow").unwrap();
        assert_eq!(r.path, "/api/v1/executions/{namespace}/{id}");
        assert!(find_route(&Method::POST, "/api/v1/nothing").is_none());
    }
}
