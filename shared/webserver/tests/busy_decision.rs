//! The API answers while a decision runs (issue 8, item 2): decisions run on the blocking
//! pool, not on the async threads that serve requests. A decision is held by an explicit
//! gate (a host whose `secret()` waits to be let go) in a runtime with one async worker
//! thread: were the decision on it, nothing could answer until it ended.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use kite_engine::executor::Expressions;
use kite_engine::model::State;
use kite_engine::repo::Repos;
use kite_engine::services::poller::{self, PollerConfig};
use kite_engine::services::{CreateOptions, Platform, QueueNames};
use kite_ports::{Clock, MemoryDocuments, MemoryQueue, MemoryStorage, Storage, SystemClock};
use serde_json::Map;
use tokio::sync::watch;

/// A host whose `secret()` tells the test it was called, then waits to be let go: a
/// decision rendering `{{ secret('GATE') }}` is held there.
struct GateHost {
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl kite_expr::Host for GateHost {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
    fn read(&self, uri: &str) -> Result<String, String> {
        kite_expr::NoHost.read(uri)
    }
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        kite_expr::NoHost.file_size(uri)
    }
    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        kite_expr::NoHost.file_exists(uri)
    }
    fn kv(
        &self,
        namespace: Option<&str>,
        key: &str,
        error_on_missing: bool,
    ) -> Result<serde_json::Value, String> {
        kite_expr::NoHost.kv(namespace, key, error_on_missing)
    }
    fn error_logs(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
    fn secret(&self, _key: &str) -> Result<String, String> {
        let _ = self.entered.lock().expect("lock").send(());
        let _ = self
            .release
            .lock()
            .expect("lock")
            .recv_timeout(Duration::from_secs(120));
        Ok("opened".into())
    }
}

/// `GET /health` over a plain socket from another thread; the answer's status line, or
/// None when no answer came within `within`.
fn health(addr: std::net::SocketAddr, within: Duration) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, within).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .map(str::to_owned)
}

/// One async worker thread: were the decision on it, nothing else could answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn health_answers_while_a_decision_is_held() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let host = Arc::new(GateHost {
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let repos = Repos::new(
        Arc::new(MemoryDocuments::new(clock.clone())),
        storage.clone(),
    );
    let work = tempfile::tempdir().expect("temp dir");
    let p = Arc::new(Platform::new(
        Arc::new(MemoryQueue::new(clock.clone())),
        storage,
        repos,
        clock,
        Expressions::new(host, Map::new(), &[]),
        QueueNames::with_prefix("t-"),
        work.path().to_path_buf(),
    ));
    p.ensure_queues().await.expect("queues");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = kite_webserver::router(kite_webserver::AppState::new(p.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let stop = pollers(&p);
    let source = "id: gated\nnamespace: company.team\ntasks:\n  - id: g\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ secret('GATE') }}\"\n";
    let flow = kite_flow::parse_flow(source).flow.expect("flow");
    p.repos.flows.save(&flow, source).await.expect("save");
    let flow = p
        .load_flow(&flow.namespace, &flow.id, None)
        .await
        .expect("load");
    let created = p
        .create_execution(&flow, Map::new(), CreateOptions::default())
        .await
        .expect("create");

    // From a plain thread: wait for the decision to be held, ask for health, let it go.
    let probe = std::thread::spawn(move || {
        entered_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the decision never started");
        let answers: Vec<Option<String>> = (0..5)
            .map(|_| health(addr, Duration::from_secs(10)))
            .collect();
        let _ = release_tx.send(());
        answers
    });
    let answers = tokio::task::spawn_blocking(move || probe.join().expect("probe"))
        .await
        .expect("join");
    for a in &answers {
        assert!(
            a.as_deref().is_some_and(|s| s.contains("200")),
            "health did not answer while a decision ran: {answers:?}"
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let e = p
            .execution(&created.id)
            .await
            .expect("read")
            .expect("exists");
        if e.current().is_terminated() {
            assert_eq!(e.current(), State::Success);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "did not end: {e:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
}

fn pollers(p: &Arc<Platform>) -> watch::Sender<bool> {
    let (stop, stop_rx) = watch::channel(false);
    let config = PollerConfig {
        executors: 1,
        workers: 1,
        visibility: Duration::from_secs(60),
        wait: Duration::from_millis(100),
        tick: Duration::from_secs(1),
    };
    let _handles = poller::spawn_all(p.clone(), config, stop_rx);
    stop
}
