//! The webserver app with hand-built API Gateway HTTP API (payload 2.0) requests, decoded
//! by lambda_http as in Lambda: a plain GET, and a base64-encoded YAML body; a foreign host
//! name and a foreign origin are refused by default.

use std::sync::Arc;

use tower::ServiceExt;

use kite_test_support::platform;

const DOMAIN: &str = "abc123.execute-api.eu-west-1.amazonaws.com";

fn v2(method: &str, path: &str, body: Option<&str>, base64: bool, token: &str) -> String {
    v2_at(DOMAIN, None, method, path, body, base64, token)
}

fn v2_at(
    domain: &str,
    origin: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
    base64: bool,
    token: &str,
) -> String {
    let mut headers = serde_json::json!({"content-type": "application/x-yaml", "authorization": format!("Bearer {token}"), "host": domain});
    if let Some(o) = origin {
        headers["origin"] = serde_json::json!(o);
    }
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": domain,
            "domainPrefix": "api", "requestId": "r1", "routeKey": "$default", "stage": "$default",
            "time": "21/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"}
        },
        "body": body, "isBase64Encoded": base64
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_requests_reach_the_router() {
    use base64::Engine as _;
    let (p, _work) = platform();
    let env = vec![
        ("KITE_API_TOKEN".to_owned(), "t0k".to_owned()),
        ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
    ];
    let app = kite_fn_webserver::app(Arc::new(p), &env).unwrap();

    let req =
        lambda_http::request::from_str(&v2("GET", "/api/v1/flows/search", None, false, "bad"))
            .unwrap();
    let resp = app
        .clone()
        .oneshot(req.map(|b| axum::body::Body::from(b.to_vec())))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the token is required");

    let yaml = "id: hello\nnamespace: kite.lambda\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let encoded = base64::engine::general_purpose::STANDARD.encode(yaml);
    let req =
        lambda_http::request::from_str(&v2("POST", "/api/v1/flows", Some(&encoded), true, "t0k"))
            .unwrap();
    let resp = app
        .oneshot(req.map(|b| axum::body::Body::from(b.to_vec())))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_origins_are_refused_and_an_empty_token_is_an_error() {
    let (p, _work) = platform();
    let p = Arc::new(p);
    let empty = vec![("KITE_API_TOKEN".to_owned(), String::new())];
    assert!(kite_fn_webserver::app(p.clone(), &empty).is_err());
    let env = vec![
        ("KITE_API_TOKEN".to_owned(), "t0k".to_owned()),
        ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
    ];
    let app = kite_fn_webserver::app(p.clone(), &env).unwrap();
    let yaml = "id: evil\nnamespace: kite.lambda\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let send = |raw: String| {
        let app = app.clone();
        async move {
            let req = lambda_http::request::from_str(&raw).unwrap();
            app.oneshot(req.map(|b| axum::body::Body::from(b.to_vec())))
                .await
                .unwrap()
                .status()
        }
    };
    let rebound = v2_at(
        "evil.example.com",
        None,
        "POST",
        "/api/v1/flows",
        Some(yaml),
        false,
        "t0k",
    );
    assert_eq!(send(rebound).await, 421, "a foreign Host is refused");
    let foreign = v2_at(
        DOMAIN,
        Some("https://evil.example.com"),
        "POST",
        "/api/v1/flows",
        Some(yaml),
        false,
        "t0k",
    );
    assert_eq!(send(foreign).await, 403, "a foreign Origin is refused");
    let own = format!("https://{DOMAIN}");
    let same = v2_at(
        DOMAIN,
        Some(&own),
        "GET",
        "/api/v1/flows/search",
        None,
        false,
        "t0k",
    );
    assert_eq!(send(same).await, 200, "the API's own origin is served");
    let custom = vec![
        ("KITE_API_TOKEN".to_owned(), "t0k".to_owned()),
        ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
        ("KITE_PUBLIC_HOSTS".to_owned(), "api.example.com".to_owned()),
        (
            "KITE_ALLOWED_ORIGINS".to_owned(),
            "https://ui.example.com".to_owned(),
        ),
    ];
    let app = kite_fn_webserver::app(p, &custom).unwrap();
    for (domain, origin, status) in [
        ("api.example.com", Some("https://ui.example.com"), 200),
        ("api.example.com", None, 200),
        (DOMAIN, None, 421),
    ] {
        let raw = v2_at(
            domain,
            origin,
            "GET",
            "/api/v1/flows/search",
            None,
            false,
            "t0k",
        );
        let req = lambda_http::request::from_str(&raw).unwrap();
        let got = app
            .clone()
            .oneshot(req.map(|b| axum::body::Body::from(b.to_vec())))
            .await
            .unwrap()
            .status();
        assert_eq!(got, status, "{domain} {origin:?}");
    }
}
