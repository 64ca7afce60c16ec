//! Execution searches count every execution (more than one query page of 1,000), and
//! download file names cannot disguise themselves with bidirectional controls, other
//! control characters, quotes or path separators.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use kite_engine::services::{CreateOptions, Platform, QueueNames};
use kite_ports::StorageKey;
use kite_webserver::{AppState, router};
use serde_json::{Map, Value};
use tower::ServiceExt;

const FLOW: &str = "id: many\nnamespace: kite.search\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, Bytes) {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body)
}

/// The platform (no pollers: executions stay CREATED) with the flow saved.
async fn platform(work: &tempfile::TempDir) -> (Arc<Platform>, kite_flow::Flow) {
    let p = Platform::in_memory(
        QueueNames::with_prefix("search-"),
        work.path().to_path_buf(),
    );
    p.ensure_queues().await.unwrap();
    let p = Arc::new(p);
    let flow = kite_flow::parse_flow(FLOW).flow.expect("a valid flow");
    kite_webserver::catalog::save_flow(&p, &flow, FLOW)
        .await
        .unwrap();
    (p, flow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_totals_count_past_one_thousand() {
    let work = tempfile::tempdir().unwrap();
    let (p, flow) = platform(&work).await;
    const N: usize = 1_234;
    for _ in 0..N {
        p.create_execution(&flow, Map::new(), CreateOptions::default())
            .await
            .unwrap();
    }
    let app = router(AppState::new(p.clone()));
    for uri in [
        "/api/v1/executions/search?namespace=kite.search&size=7",
        "/api/v1/executions/search?namespace=kite.search&flowId=many&size=7",
        "/api/v1/executions/search?size=7",
        "/api/v1/executions?namespace=kite.search&size=7",
    ] {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["total"], N, "{uri}");
        assert_eq!(v["results"].as_array().unwrap().len(), 7, "{uri}");
    }
    // The last page holds the oldest ones, and pages do not overlap.
    let (_, _, first) = get(
        &app,
        "/api/v1/executions/search?namespace=kite.search&size=1000",
    )
    .await;
    let (_, _, last) = get(
        &app,
        "/api/v1/executions/search?namespace=kite.search&size=1000&page=2",
    )
    .await;
    let first: Value = serde_json::from_slice(&first).unwrap();
    let last: Value = serde_json::from_slice(&last).unwrap();
    let ids = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&last));
    assert_eq!(a.len(), 1000);
    assert_eq!(b.len(), N - 1000);
    let mut all: Vec<String> = a.into_iter().chain(b).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), N, "every execution on exactly one page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_names_are_sanitised() {
    let work = tempfile::tempdir().unwrap();
    let (p, flow) = platform(&work).await;
    let e = p
        .create_execution(&flow, Map::new(), CreateOptions::default())
        .await
        .unwrap();
    let folder = StorageKey::for_execution(&e.namespace, &e.flow_id, &e.id).unwrap();
    let evil = "invoice\u{202E}fdp.exe\u{2066}\"'q";
    let key = folder.join(evil).unwrap();
    p.storage
        .put(&key, Bytes::from_static(b"MZ"))
        .await
        .unwrap();
    let app = router(AppState::new(p.clone()));
    let path: String = url_escape(&key.to_uri());
    let (status, headers, body) = get(
        &app,
        &format!("/api/v1/executions/{}/file?path={path}", e.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let disposition = headers
        .get(header::CONTENT_DISPOSITION)
        .expect("a Content-Disposition")
        .as_bytes();
    let text = std::str::from_utf8(disposition).expect("ASCII only");
    assert!(text.is_ascii(), "{text}");
    assert!(
        text.starts_with("attachment; filename=\"invoice_fdp.exe"),
        "{text}"
    );
    for bad in ["\u{202E}", "%E2%80%AE", "%E2%81%A6", "'q", "\"q"] {
        assert!(!text.contains(bad), "{bad:?} in {text}");
    }

    let (status, headers, _) = get(&app, &format!("/api/v1/logs/{}/download", e.id)).await;
    assert_eq!(status, StatusCode::OK);
    let text = headers
        .get(header::CONTENT_DISPOSITION)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        text.starts_with(&format!("attachment; filename=\"{}.log\"", e.id)),
        "{text}"
    );
}

/// Percent-encodes a query value.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
