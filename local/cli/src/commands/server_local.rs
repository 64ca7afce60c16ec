//! `kite server local [--port 8080] [--host 127.0.0.1] [--data DIR] [--flows DIR]
//! [--token-file PATH | --no-auth] [--public-host NAME]... [--allow-origin URL]...`:
//! the whole orchestrator in one process on the embedded backends (SQLite queues and
//! documents, files on disk under `--data`): the executor, worker and scheduler pollers
//! plus the REST API.
//!
//! The API requires a token: `--token-file`/`KITE_TOKEN`/`--token`, or else the one in
//! `<data>/api-token`, created at first start (see [`crate::commands::token`]). `--no-auth`
//! turns that off, on a loopback address only; an empty token is an error. The router
//! refuses foreign `Host` names, foreign origins and the content types a page of another
//! site could send (see `kite_webserver`'s `guard`). Flows of `--flows DIR` are loaded at
//! start and reloaded when their files change (checked every 2 s). Ctrl-C or SIGTERM stops
//! it within a few seconds (the API's grace period, then the pollers', even while a long
//! decision runs on the blocking pool); a crash or a stop loses nothing: unfinished
//! messages are redelivered after `--lease` seconds on the next start. `--max-task-runs`,
//! `--max-loop-values` and `--max-record-bytes` (or `KITE_MAX_*`) set the ceilings of each
//! execution.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use kite_engine::services::{Platform, poller};
use kite_webserver::{AppState, catalog};
use tokio::sync::watch;

use crate::commands::platform;

/// How often `--flows DIR` is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(2);
/// How long open connections (followers) may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(5);

/// Options of `kite server local`.
#[derive(Debug)]
pub struct ServerArgs {
    /// Interface to bind.
    pub host: String,
    /// Port (0: any free port; the URL printed tells which).
    pub port: u16,
    /// Data folder.
    pub data: PathBuf,
    /// Folder of flows to load and watch.
    pub flows: Option<PathBuf>,
    /// API token given (`--token`, `KITE_TOKEN`).
    pub token: Option<String>,
    /// A file holding the API token.
    pub token_file: Option<PathBuf>,
    /// No authentication (loopback only).
    pub no_auth: bool,
    /// Names the `Host` header may carry besides the loopback names.
    pub public_hosts: Vec<String>,
    /// Origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Seconds a received message stays leased before redelivery.
    pub lease: u64,
    /// Run on the AWS adapters against an emulator.
    pub aws: Option<crate::commands::aws::Target>,
    /// The ceilings of each execution.
    pub limits: kite_engine::executor::limits::Limits,
}

/// How long the pollers may take to stop after the server did; a decision still running
/// then (on the blocking pool) is abandoned: its message is redelivered after its lease.
const STOP_POLLERS: Duration = Duration::from_secs(2);

/// Runs the command.
pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(run_async(args));
    // Dropping the runtime would wait for the blocking pool, where a long decision may
    // still run: stop without waiting for it (the process exits right after).
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Where the API token came from.
enum Auth {
    /// `--no-auth`.
    Off,
    /// `--token` or `KITE_TOKEN`.
    Given(String),
    /// `--token-file`.
    File(String, PathBuf),
    /// `<data>/api-token`; `true` when created at this start.
    Data(String, PathBuf, bool),
}

impl Auth {
    /// Checks what was asked before anything starts.
    fn precheck(args: &ServerArgs) -> anyhow::Result<()> {
        if let Some(t) = &args.token {
            crate::commands::token::check_given(t)?;
        }
        Ok(())
    }

    fn resolve(args: &ServerArgs, addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        if args.no_auth {
            if !addr.ip().is_loopback() {
                anyhow::bail!(
                    "--no-auth is refused on {addr}: without authentication the API may only \
                     listen on a loopback address (--host 127.0.0.1)"
                );
            }
            return Ok(Self::Off);
        }
        if let Some(p) = &args.token_file {
            return Ok(Self::File(crate::commands::token::read(p)?, p.clone()));
        }
        if let Some(t) = &args.token {
            return Ok(Self::Given(crate::commands::token::check_given(t)?));
        }
        let (token, created) = crate::commands::token::load_or_create(&args.data)?;
        Ok(Self::Data(
            token,
            crate::commands::token::path_in(&args.data),
            created,
        ))
    }

    fn token(&self) -> Option<&str> {
        match self {
            Self::Off => None,
            Self::Given(t) | Self::File(t, _) | Self::Data(t, _, _) => Some(t),
        }
    }

    /// Prints where the token is and how clients use it.
    fn explain(&self, url: &str) {
        let file = match self {
            Self::Off => {
                eprintln!(
                    "warning: authentication is off (--no-auth): any program on this machine can use the API"
                );
                return;
            }
            Self::Given(_) => {
                println!("API token: the one given with --token or KITE_TOKEN");
                println!(
                    "  CLI:     KITE_TOKEN=<token> kite execute NAMESPACE FLOW --server {url}"
                );
                println!(
                    "  curl:    curl -H \"Authorization: Bearer $KITE_TOKEN\" {url}/api/v1/flows/search"
                );
                println!("  browser: sign in as user `kite` with the token as password");
                return;
            }
            Self::File(_, p) => p,
            Self::Data(token, p, created) => {
                if *created {
                    println!(
                        "API token created in {} (mode 0600), shown this once: {token}",
                        p.display()
                    );
                }
                p
            }
        };
        let f = file.display();
        println!("API token: {f} (requests need `Authorization: Bearer <token>`)");
        println!(
            "  CLI:     kite execute NAMESPACE FLOW --server {url} --token-file {f}   (`.kite/api-token` is read by default)"
        );
        println!(
            "  curl:    curl -H \"Authorization: Bearer $(cat {f})\" {url}/api/v1/flows/search"
        );
        println!("  browser: sign in as user `kite` with the token as password");
    }
}

async fn run_async(args: ServerArgs) -> anyhow::Result<ExitCode> {
    Auth::precheck(&args)?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    if args.no_auth && !addr.ip().is_loopback() {
        Auth::resolve(&args, addr)?;
    }
    let mut aws = match &args.aws {
        Some(t) => Some(crate::commands::aws::connect(&t.endpoint, &t.prefix).await?),
        None => None,
    };
    let platform = match &mut aws {
        Some(a) => {
            Arc::get_mut(&mut a.platform)
                .context("the emulator platform is shared before it is configured")?
                .rt
                .limits = args.limits;
            a.platform.clone()
        }
        None => {
            let mut p = platform::embedded(&args.data).await?;
            p.rt.limits = args.limits;
            Arc::new(p)
        }
    };
    let auth = Auth::resolve(&args, addr)?;
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut flows = args.flows.clone().map(FlowDir::new);
    if let Some(dir) = &mut flows {
        let n = dir.sync(&platform).await?;
        println!("Loaded {n} flow(s) from {}", dir.root.display());
    }
    let config = poller::PollerConfig {
        visibility: Duration::from_secs(args.lease.max(1)),
        ..Default::default()
    };
    let mut handles = match &aws {
        Some(a) => crate::commands::aws::spawn_functions(
            a,
            Arc::new(crate::commands::aws::InProcess::new(a.platform.clone())),
            crate::commands::aws::FunctionsConfig::default(),
            stop_rx.clone(),
        ),
        None => poller::spawn_all(platform.clone(), config, stop_rx.clone()),
    };
    if let Some(mut dir) = flows {
        let platform = platform.clone();
        let mut stop = stop_rx.clone();
        handles.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(RELOAD_EVERY) => {}
                    _ = stop.changed() => return,
                }
                if let Err(e) = dir.sync(&platform).await {
                    eprintln!("warning: reloading flows: {e:#}");
                }
            }
        }));
    }

    let mut public_hosts = args.public_hosts.clone();
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        public_hosts.push(match addr {
            std::net::SocketAddr::V4(a) => a.ip().to_string(),
            std::net::SocketAddr::V6(a) => format!("[{}]", a.ip()),
        });
    }
    let mut state = AppState::new(platform.clone())
        .with_public_hosts(public_hosts)
        .with_allowed_origins(args.allowed_origins.clone());
    if let Some(t) = auth.token() {
        state = state.with_token(t).with_basic_auth("kite", t);
    }
    let data = match &args.aws {
        Some(t) => format!(
            "AWS emulator {} with prefix {}; token folder {}",
            t.endpoint,
            t.prefix,
            args.data.display()
        ),
        None => args.data.display().to_string(),
    };
    let url = format!("http://{addr}");
    auth.explain(&url);
    println!("Kite server listening on {url} (API: {url}/api/v1, data: {data})");

    let (signal_tx, mut signal_rx) = watch::channel(false);
    let app = kite_webserver::router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = signal_rx.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    eprintln!("Stopping...");
    let _ = signal_tx.send(true);
    match tokio::time::timeout(GRACE, server).await {
        Ok(Ok(Ok(()))) | Err(_) => {}
        Ok(Ok(Err(e))) => eprintln!("warning: server error: {e}"),
        Ok(Err(e)) => eprintln!("warning: server task: {e}"),
    }
    let _ = stop_tx.send(true);
    // One deadline for all: a poller waiting on a long decision does not hold the others.
    let deadline = tokio::time::Instant::now() + STOP_POLLERS;
    for h in handles {
        let _ = tokio::time::timeout_at(deadline, h).await;
    }
    eprintln!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// What was loaded from one file.
#[derive(Debug, Clone)]
struct Loaded {
    modified: Option<SystemTime>,
    len: u64,
    flows: BTreeSet<(String, String)>,
}

/// A watched folder of flow files.
#[derive(Debug)]
struct FlowDir {
    root: PathBuf,
    files: HashMap<PathBuf, Loaded>,
}

impl FlowDir {
    fn new(root: PathBuf) -> Self {
        Self {
            root,
            files: HashMap::new(),
        }
    }

    /// Loads new and changed files, deletes the flows of removed files (or of documents
    /// removed from a file); returns how many flows the folder defines.
    async fn sync(&mut self, platform: &Platform) -> anyhow::Result<usize> {
        let paths = if self.root.exists() {
            crate::commands::flow_validate::collect_files(std::slice::from_ref(&self.root))?
        } else {
            Vec::new()
        };
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !paths.contains(p))
            .cloned()
            .collect();
        for p in gone {
            if let Some(old) = self.files.remove(&p) {
                self.delete_unless_defined(platform, &old.flows).await;
            }
        }
        for p in paths {
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            let (modified, len) = (meta.modified().ok(), meta.len());
            if self
                .files
                .get(&p)
                .is_some_and(|l| l.modified == modified && l.len == len)
            {
                continue;
            }
            let flows = load_file(platform, &p).await?;
            let old = self.files.insert(
                p,
                Loaded {
                    modified,
                    len,
                    flows: flows.clone(),
                },
            );
            if let Some(old) = old {
                let removed: BTreeSet<_> = old.flows.difference(&flows).cloned().collect();
                self.delete_unless_defined(platform, &removed).await;
            }
        }
        Ok(self.files.values().map(|l| l.flows.len()).sum())
    }

    async fn delete_unless_defined(&self, platform: &Platform, flows: &BTreeSet<(String, String)>) {
        for f in flows {
            if self.files.values().any(|l| l.flows.contains(f)) {
                continue;
            }
            match platform.delete_flow(&f.0, &f.1).await {
                Ok(true) => println!("Removed flow {}.{} (its file is gone)", f.0, f.1),
                Ok(false) => {}
                Err(e) => eprintln!("warning: cannot delete flow {}.{}: {e}", f.0, f.1),
            }
        }
    }
}

/// Saves every valid flow of `path` (one per YAML document); reports the invalid ones.
async fn load_file(platform: &Platform, path: &Path) -> anyhow::Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot read {}: {e}", path.display());
            return Ok(out);
        }
    };
    let file = path.display().to_string();
    for doc in catalog::split_documents(&source) {
        let parsed = kite_flow::parse_flow(&doc.source);
        match parsed.flow {
            Some(flow) => {
                let stored = catalog::save_flow(platform, &flow, &doc.source)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot save flow {}.{} from {file}",
                            flow.namespace, flow.id
                        )
                    })?;
                println!(
                    "Flow {}.{} revision {} ({file})",
                    flow.namespace, flow.id, stored.revision
                );
                out.insert((flow.namespace, flow.id));
            }
            None => {
                for mut d in parsed.errors().cloned() {
                    if d.loc.is_known() {
                        d.loc.line += doc.first_line - 1;
                    }
                    eprintln!("warning: skipped: {}", d.render(&file));
                }
            }
        }
    }
    Ok(out)
}
