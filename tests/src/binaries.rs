//! Finds the built Lambda binaries (`kite-executor`, `kite-worker`, `kite-scheduler`,
//! `kite-webserver`) next to the running test, in the same profile's folder
//! (`target/debug/deps/<test>` → `target/debug`).
//!
//! `cargo test --workspace` builds them along with the tests. When one is missing (`cargo
//! test -p kite-tests` alone) or older than a source file it is built from, they are built
//! with the cargo that runs the tests (`cargo build -p kite-fn-executor ...`, same profile).
//! Any failure panics with the reason: the tests never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The function packages and their binaries.
pub const FUNCTIONS: [(&str, &str, &str); 4] = [
    ("executor", "kite-fn-executor", "kite-executor"),
    ("worker", "kite-fn-worker", "kite-worker"),
    ("scheduler", "kite-fn-scheduler", "kite-scheduler"),
    ("webserver", "kite-fn-webserver", "kite-webserver"),
];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The profile folder of the running test (`target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot locate the running test executable: {e}"));
    let mut dir = exe
        .parent()
        .unwrap_or_else(|| panic!("{} has no folder", exe.display()))
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

/// The path of `binary` in the profile folder.
pub fn binary_path(binary: &str) -> PathBuf {
    profile_dir().join(format!("{binary}{}", std::env::consts::EXE_SUFFIX))
}

/// The paths of the four binaries by function name, built first if missing or stale.
pub fn lambda_binaries() -> &'static [(String, PathBuf)] {
    static BINARIES: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let paths: Vec<(String, PathBuf)> = FUNCTIONS
            .iter()
            .map(|(f, _, b)| ((*f).to_owned(), binary_path(b)))
            .collect();
        let newest_source = newest_source();
        let stale: Vec<&PathBuf> = paths
            .iter()
            .map(|(_, p)| p)
            .filter(|p| match modified(p) {
                None => true,
                Some(built) => newest_source.is_some_and(|s| s > built),
            })
            .collect();
        if !stale.is_empty() {
            eprintln!(
                "building the Lambda binaries ({} missing or older than their sources)",
                stale
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            build();
        }
        for (_, p) in &paths {
            assert!(
                p.exists(),
                "{} is still missing after `cargo build` of the function packages",
                p.display()
            );
        }
        paths
    })
}

fn build() {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root()).arg("build");
    for (_, package, _) in FUNCTIONS {
        cmd.args(["-p", package]);
    }
    let profile_dir = profile_dir();
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    // Build into the target folder the test runs from.
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    // Cargo sets these for the running test. Left in place, build scripts that declare
    // `rerun-if-env-changed` on them (ring: CARGO_MANIFEST_DIR, CARGO_PKG_NAME...) look
    // changed, and half the dependency tree would be rebuilt here and again by the next
    // ordinary `cargo build`.
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_EXE_")
            || matches!(
                k,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            )
        {
            cmd.env_remove(k);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{cmd:?}` to build the Lambda binaries: {e}"));
    assert!(
        status.success(),
        "`{cmd:?}` failed ({status}): the Lambda binaries cannot be built"
    );
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the sources the binaries are built from.
fn newest_source() -> Option<SystemTime> {
    let root = workspace_root();
    let mut newest = None;
    for top in ["shared", "infra", "functions"] {
        walk(&root.join(top), &mut newest);
    }
    for file in ["Cargo.toml", "Cargo.lock", "terraform/resources.json"] {
        newest = newest.max(modified(&root.join(file)));
    }
    newest
}

fn walk(dir: &Path, newest: &mut Option<SystemTime>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let name = entry.file_name();
            if name != "target" && name != ".terraform" && name != "tests" && name != "benches" {
                walk(&path, newest);
            }
        } else if path.extension().is_some_and(|e| e == "rs" || e == "toml") {
            *newest = (*newest).max(modified(&path));
        }
    }
}
