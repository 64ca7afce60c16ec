//! `kite bench`: orchestration figures on the embedded store (SQLite in a temporary
//! folder), in this process, with the same handlers and pollers as `kite server local`.
//!
//! Prints a table: (a) per-task overhead of a 40-task sequential flow, (b) executions per
//! second of a two-task flow, (c) a ForEach over 1,000 values with `concurrencyLimit: 0`,
//! and the peak resident memory of the process after each (VmHWM); then (d) the ForEach
//! at scale (`--scale`, 1,000 / 10,000 / 100,000 values by default): the time of each and
//! the peak memory during each (VmHWM reset before), and, during the largest, the latency
//! of `GET /health` as an HTTP client polling the API served by this process sees it;
//! (f) a Webhook trigger called over HTTP (`--webhooks` calls, one at a time): the time
//! from the call to the answer, which comes once the execution is stored and started,
//! beside two floors measured in the same run on the same server and connection:
//! `POST /api/v1/executions/{namespace}/{id}` (an execution created through the API)
//! and `GET /api/v1/health`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kite_engine::model::State;
use kite_engine::services::{CreateOptions, Platform, poller};
use kite_ports::{Clock, SystemClock};

/// Options of `kite bench`.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    /// Executions of the two-task flow.
    pub executions: usize,
    /// Values of the ForEach.
    pub foreach: usize,
    /// ForEach sizes timed one by one (health measured during the largest).
    pub scale: Vec<usize>,
    /// SQLite `synchronous=NORMAL` (safe against process crashes, not power loss) instead of FULL.
    pub normal_sync: bool,
    /// Webhook calls timed (0 skips the case).
    pub webhooks: usize,
}

/// Runs the command.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn embedded(dir: &std::path::Path, normal_sync: bool) -> anyhow::Result<Platform> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let options = kite_embedded::EmbeddedOptions {
        synchronous: if normal_sync {
            kite_embedded::Synchronous::Normal
        } else {
            kite_embedded::Synchronous::Full
        },
        ..Default::default()
    };
    let db = kite_embedded::Embedded::open_with(dir.join("kite.db"), clock.clone(), &options)
        .context("cannot open the embedded store")?;
    let storage = kite_embedded::DiskStorage::open(dir.join("storage"))
        .await
        .context("cannot open the storage folder")?;
    crate::commands::platform::build(
        Arc::new(db.queue()),
        Arc::new(storage),
        Arc::new(db.documents()),
        clock,
        dir.join("work"),
        None,
    )
    .await
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Resets the peak resident memory (VmHWM) so the next reading covers what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A client polling `GET /health` from its own thread until stopped.
struct HealthProbe {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<Duration>, usize)>,
}

/// What the probe saw.
struct HealthFigures {
    requests: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl HealthProbe {
    fn start(addr: std::net::SocketAddr) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut times, mut failed) = (Vec::new(), 0);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let start = Instant::now();
                if health_ok(addr) {
                    times.push(start.elapsed());
                } else {
                    failed += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (times, failed)
        });
        Self { stop, thread }
    }

    fn finish(self) -> HealthFigures {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut times, failed) = self.thread.join().unwrap_or_default();
        times.sort();
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        HealthFigures {
            requests: times.len() + failed,
            failed,
            p50: at(0.50),
            p99: at(0.99),
            max: times.last().copied().unwrap_or_default(),
        }
    }
}

/// One `GET /health` on a new connection; whether it answered 200 within 10 s.
fn health_ok(addr: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let limit = Duration::from_secs(10);
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(limit));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut out = Vec::new();
    if s.read_to_end(&mut out).is_err() {
        return false;
    }
    out.starts_with(b"HTTP/1.1 200")
}

/// p50 and p99 of some durations.
#[derive(Debug, Clone, Copy, Default)]
struct Quantiles {
    p50: Duration,
    p99: Duration,
}

impl Quantiles {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Self {
            p50: at(0.50),
            p99: at(0.99),
        }
    }

    fn show(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0
        )
    }
}

/// What (f) measured.
struct WebhookFigures {
    calls: usize,
    webhook: Quantiles,
    create: Quantiles,
    health: Quantiles,
}

const WEBHOOK_FLOW: &str = "id: bench_webhook\nnamespace: kite.bench\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ execution.id }}\"\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: bench-key\n";

/// (f): `calls` webhook calls, each followed by an API create and a health probe on the
/// same keep-alive connection, one request at a time; waits for the executions to end.
async fn webhook_case(
    platform: &Platform,
    addr: std::net::SocketAddr,
    calls: usize,
) -> anyhow::Result<WebhookFigures> {
    let flow = kite_flow::parse_flow(WEBHOOK_FLOW)
        .into_result()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    platform.deploy_flow(&flow, WEBHOOK_FLOW).await?;
    kite_engine::tls::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()?;
    let base = format!("http://{addr}");
    let hook = format!("{base}/api/v1/executions/webhook/kite.bench/bench_webhook/bench-key");
    let create = format!("{base}/api/v1/executions/kite.bench/bench_webhook");
    let health = format!("{base}/api/v1/health");
    let mut ids = Vec::new();
    let mut times: [Vec<Duration>; 3] = Default::default();
    let warm_up = calls.min(20);
    for i in 0..warm_up + calls {
        let requests = [
            client
                .post(&hook)
                .header("content-type", "application/json")
                .body(format!("{{\"n\": {i}}}")),
            client
                .post(&create)
                .header("content-type", "application/json")
                .body("{}"),
            client.get(&health),
        ];
        for (k, rb) in requests.into_iter().enumerate() {
            let start = Instant::now();
            let resp = rb.send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            let took = start.elapsed();
            if !status.is_success() {
                bail!("{status}: {}", String::from_utf8_lossy(&body));
            }
            if k < 2 {
                let e: serde_json::Value = serde_json::from_slice(&body)?;
                ids.push(e["id"].as_str().unwrap_or_default().to_owned());
            }
            if i >= warm_up {
                times[k].push(took);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    for id in &ids {
        loop {
            match platform.execution(id).await? {
                Some(e) if e.state.current == State::Success => break,
                Some(e) if e.state.current.is_terminated() => {
                    bail!("execution {id} ended {}", e.state.current)
                }
                _ if Instant::now() > deadline => bail!("execution {id} did not end"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    let [webhook, create, health] = times.map(Quantiles::of);
    Ok(WebhookFigures {
        calls,
        webhook,
        create,
        health,
    })
}

fn foreach_flow(id: &str, values: usize) -> String {
    format!(
        "id: {id}\nnamespace: kite.bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 0\n    values: \"{{{{ range(1, {values}) }}}}\"\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
    )
}

async fn run_flow(platform: &Platform, source: &str, count: usize) -> anyhow::Result<Duration> {
    let flow = kite_flow::parse_flow(source)
        .into_result()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    platform.repos.flows.save(&flow, source).await?;
    let flow = platform.load_flow(&flow.namespace, &flow.id, None).await?;
    let mut ended = platform.subscribe_ended();
    let start = Instant::now();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..count {
        let e = platform
            .create_execution(&flow, Default::default(), CreateOptions::default())
            .await?;
        ids.insert(e.id);
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while !ids.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ended.recv()).await {
            Ok(Ok((id, state))) => {
                if ids.remove(&id) && !matches!(state, State::Success) {
                    bail!("execution {id} ended {state}");
                }
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                let mut done = Vec::new();
                for id in &ids {
                    if platform
                        .execution(id)
                        .await?
                        .is_some_and(|e| e.state.current.is_terminated())
                    {
                        done.push(id.clone());
                    }
                }
                for d in done {
                    ids.remove(&d);
                }
            }
            Ok(Err(e)) => bail!("{e}"),
            Err(_) => bail!("timed out with {} executions still running", ids.len()),
        }
    }
    Ok(start.elapsed())
}

async fn run_async(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let platform = Arc::new(embedded(dir.path(), args.normal_sync).await?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            wait: Duration::from_millis(100),
            ..Default::default()
        },
        stop_rx,
    );

    let mut seq = String::from("id: bench_sequential\nnamespace: kite.bench\ntasks:\n");
    for i in 0..40 {
        seq.push_str(&format!("  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ task.id }}}}\"\n"));
    }
    let two = "id: bench_two\nnamespace: kite.bench\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b\n";
    let foreach = foreach_flow("bench_foreach", args.foreach);

    run_flow(&platform, &seq, 1).await?; // warm-up
    let t = run_flow(&platform, &seq, 1).await?;
    let a = (t.as_secs_f64() * 1000.0 / 40.0, peak_rss_mb());
    let t = run_flow(&platform, two, args.executions).await?;
    let b = (args.executions as f64 / t.as_secs_f64(), peak_rss_mb());
    let t = run_flow(&platform, &foreach, 1).await?;
    let c = (t.as_secs_f64(), peak_rss_mb());

    // (d) at scale, with the API served here and polled during the largest.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = kite_webserver::router(kite_webserver::AppState::new(platform.clone()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let webhook = if args.webhooks > 0 {
        Some(webhook_case(&platform, addr, args.webhooks).await?)
    } else {
        None
    };
    let largest = args.scale.iter().copied().max().unwrap_or(0);
    let mut scale = Vec::new();
    let mut health = None;
    for &n in args.scale.iter().filter(|n| **n > 0) {
        reset_peak_rss();
        let probe = (n == largest && health.is_none()).then(|| HealthProbe::start(addr));
        let t = run_flow(&platform, &foreach_flow(&format!("bench_scale_{n}"), n), 1).await;
        if let Some(p) = probe {
            health = Some(p.finish());
        }
        scale.push((n, t?.as_secs_f64(), peak_rss_mb()));
    }
    server.abort();

    let _ = stop_tx.send(true);
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
    let sync = if args.normal_sync { "NORMAL" } else { "FULL" };
    println!(
        "| benchmark (embedded SQLite store, synchronous={sync}, one process) | result | peak RSS |"
    );
    println!("|---|---|---|");
    println!(
        "| (a) 40 sequential Return tasks: orchestration overhead per task | {:.2} ms | {:.0} MB |",
        a.0, a.1
    );
    println!(
        "| (b) two-task flow, {} executions | {:.0} executions/s | {:.0} MB |",
        args.executions, b.0, b.1
    );
    println!(
        "| (c) ForEach over {} values, concurrencyLimit 0 | {:.2} s | {:.0} MB |",
        args.foreach, c.0, c.1
    );
    for (n, secs, mb) in &scale {
        println!(
            "| (d) ForEach over {n} values, concurrencyLimit 0, Return inside (start to end) | {secs:.2} s | {mb:.0} MB (peak during) |"
        );
    }
    if let Some(h) = health {
        println!(
            "| (e) `GET /health` during (d) {largest}: {} requests, {} failed | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms | |",
            h.requests,
            h.failed,
            h.p50.as_secs_f64() * 1000.0,
            h.p99.as_secs_f64() * 1000.0,
            h.max.as_secs_f64() * 1000.0
        );
    }
    if let Some(w) = webhook {
        println!(
            "| (f) Webhook call → execution created (POST, JSON body, answered once stored and started), {} calls one at a time | {} | floors, same server and run: `POST /api/v1/executions/kite.bench/bench_webhook` {}; `GET /api/v1/health` {} |",
            w.calls,
            w.webhook.show(),
            w.create.show(),
            w.health.show()
        );
    }
    Ok(ExitCode::SUCCESS)
}
