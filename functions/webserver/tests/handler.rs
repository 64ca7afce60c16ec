//! The webserver app with hand-built API Gateway HTTP API (payload 2.0) requests, decoded
//! by lambda_http as in Lambda: a plain GET, and a base64-encoded YAML body.

use std::sync::Arc;

use tower::ServiceExt;

include!("../../../tests/support/platform.rs");

fn v2(method: &str, path: &str, body: Option<&str>, base64: bool, token: &str) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/x-yaml", "authorization": format!("Bearer {token}")},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
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
    let env = vec![("KITE_API_TOKEN".to_owned(), "t0k".to_owned())];
    let app = kite_fn_webserver::app(Arc::new(p), &env);

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
