//! A moto server for tests (feature `testing`).
//!
//! [`moto`] starts one `moto_server` per test process on a free loopback port, the first
//! time it is called, and returns its endpoint. moto is found as `$KITE_MOTO_SERVER`, on
//! `PATH`, or in `target/moto-venv`; when it is nowhere, it is installed there with
//! `python3 -m venv` and `pip install 'moto[server]'` (once, under a lock shared by
//! concurrent test processes). A failure to find, install or start it panics with the
//! reason: tests never skip silently.
//!
//! The server is started through a small shell watchdog that stops it when the test
//! process exits (statics are never dropped). Tests share the server and isolate
//! themselves with [`unique_prefix`].

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::config::{AwsConfig, Clients};

/// The pinned moto version installed when none is found.
pub const MOTO_REQUIREMENT: &str = "moto[server]>=5.1,<6";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The shared moto server of this test process (started on first use).
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| match start() {
        Ok(m) => m,
        Err(e) => panic!("cannot start the moto AWS emulator: {e}"),
    })
}

/// A fresh installation prefix (`k1a2b3c4d-`): lowercase, valid for queues, tables and buckets.
pub fn unique_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("k{}{n}-", &r[..8])
}

/// An [`AwsConfig`] on the shared moto server with a fresh prefix.
pub fn config() -> AwsConfig {
    AwsConfig::emulator(moto().endpoint.clone(), unique_prefix())
}

/// Clients on the shared moto server with a fresh prefix.
pub async fn clients() -> Clients {
    Clients::connect(&config()).await
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn venv_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("moto-venv")
}

/// The `moto_server` program: `$KITE_MOTO_SERVER`, on PATH, or in the venv (installed if
/// needed).
pub fn moto_server_program() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("KITE_MOTO_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let venv_bin = venv_dir().join("bin").join("moto_server");
    if venv_bin.exists() {
        return Ok(venv_bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("moto_server");
            if p.exists() && works(&p) {
                return Ok(p);
            }
        }
    }
    install()?;
    Ok(venv_bin)
}

fn works(program: &Path) -> bool {
    Command::new(program)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn install() -> Result<(), String> {
    let venv = venv_dir();
    let lock = venv.with_extension("lock");
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    // mkdir is atomic: one process installs, the others wait for it.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => {
                if venv.join("bin").join("moto_server").exists() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(format!("waited 10 minutes for {}: {e}", lock.display())),
        }
    }
    let result = (|| {
        if venv.join("bin").join("moto_server").exists() {
            return Ok(());
        }
        eprintln!("installing {MOTO_REQUIREMENT} into {}", venv.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO_REQUIREMENT,
        ]))
    })();
    let _ = std::fs::remove_dir(&lock);
    result
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e} (python3 with venv and pip is needed)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Starts a moto server on a free port; it stops when this process exits.
pub fn start() -> Result<Moto, String> {
    let program = moto_server_program()?;
    for _attempt in 0..3 {
        let port = free_port()?;
        let script = format!(
            "'{prog}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             trap 'kill $m 2>/dev/null' EXIT INT TERM; \
             while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done",
            prog = program.display(),
            parent = std::process::id(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if ready(port) {
                return Ok(Moto {
                    endpoint: format!("http://127.0.0.1:{port}"),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Err(format!(
        "{} did not answer on a loopback port within 30 s (3 attempts)",
        program.display()
    ))
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}
