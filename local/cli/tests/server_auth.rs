//! `kite server local` protects its API by default: a token created at first start in the
//! data folder (mode 0600, shown once, reused), read by the CLI from there; no cross-site
//! request, rebound host name, text/plain or form body gets through (the original attack,
//! on the real binary); an empty token and `--no-auth` off loopback are refused; a read-only
//! data folder is said once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// A running server and what it printed up to its URL.
struct Server {
    child: Child,
    url: String,
    printed: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kite_cmd(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.current_dir(cwd)
        .env_remove("KITE_TOKEN")
        .env_remove("KITE_TOKEN_FILE")
        .env_remove("KITE_PUBLIC_HOSTS")
        .env_remove("KITE_ALLOWED_ORIGINS")
        .env("KITE_LOG", "warn");
    cmd
}

/// Starts `kite server local --port 0 ARGS` in `cwd` and reads stdout up to its URL.
fn start(cwd: &Path, args: &[&str]) -> Server {
    let mut child = kite_cmd(cwd)
        .args(["server", "local", "--port", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(cwd.join("server.log"))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .expect("kite starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send((url, printed.clone()));
            }
        }
    });
    let (url, printed) = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(x) => x,
        Err(_) => panic!(
            "the server did not start: {}",
            std::fs::read_to_string(cwd.join("server.log")).unwrap_or_default()
        ),
    };
    Server {
        child,
        url,
        printed,
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn status_json(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = rb.send().await.expect("the server answers");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn flow(marker: &Path) -> String {
    format!(
        "id: pwn\nnamespace: kite.attack\ntasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - touch {}\n",
        marker.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_created_once_read_by_the_cli_and_the_original_attack_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let marker = cwd.join("pwned");
    let server = start(cwd, &[]);
    let token_file = cwd.join(".kite").join("api-token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is private");
    }
    assert!(
        server
            .printed
            .contains(&format!("shown this once: {token}")),
        "{}",
        server.printed
    );
    assert!(server.printed.contains("api-token"), "{}", server.printed);
    assert!(
        server.printed.contains("--token-file"),
        "{}",
        server.printed
    );
    let url = server.url.clone();
    let c = client();

    // Without the token: 401.
    let (status, _) = status_json(c.get(format!("{url}/api/v1/flows/search"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The original attack, as a page would send it (with the credentials, as a browser
    // holding them would): a text/plain flow, then a form-body execution.
    let attack_flow = status_json(
        c.post(format!("{url}/api/v1/flows"))
            .bearer_auth(&token)
            .header("origin", "http://attacker.example")
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "text/plain")
            .body(flow(&marker)),
    )
    .await;
    assert_eq!(attack_flow.0, StatusCode::FORBIDDEN, "{}", attack_flow.1);
    let no_origin = status_json(
        c.post(format!("{url}/api/v1/flows"))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(flow(&marker)),
    )
    .await;
    assert_eq!(
        no_origin.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        no_origin.1
    );
    let rebound = status_json(
        c.post(format!("{url}/api/v1/flows"))
            .bearer_auth(&token)
            .header("host", "rebind.attacker.example")
            .header("content-type", "application/x-yaml")
            .body(flow(&marker)),
    )
    .await;
    assert_eq!(rebound.0, StatusCode::MISDIRECTED_REQUEST, "{}", rebound.1);
    let (status, _) = status_json(
        c.get(format!("{url}/api/v1/flows/kite.attack/pwn"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no flow was stored");

    // The owner deploys it with the CLI, which reads .kite/api-token by itself.
    std::fs::write(cwd.join("pwn.yaml"), flow(&marker)).unwrap();
    let out = kite_cmd(cwd)
        .args(["flow", "deploy", "pwn.yaml", "--server", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (origin, site, expected) in [
        (
            Some("http://attacker.example"),
            Some("cross-site"),
            StatusCode::FORBIDDEN,
        ),
        (None, None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ] {
        let mut rb = c
            .post(format!("{url}/api/v1/executions/kite.attack/pwn?wait=true"))
            .bearer_auth(&token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=b");
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        if let Some(s) = site {
            rb = rb.header("sec-fetch-site", s);
        }
        let (status, body) = status_json(rb).await;
        assert_eq!(status, expected, "{body}");
    }
    let (status, found) = status_json(
        c.get(format!(
            "{url}/api/v1/executions/search?namespace=kite.attack"
        ))
        .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["total"], 0, "nothing executed: {found}");
    assert!(!marker.exists(), "the shell task did not run");

    // The same flow run by its owner through the CLI (token file, JSON-free multipart) runs.
    let out = kite_cmd(cwd)
        .args(["execute", "kite.attack", "pwn", "--server", &url, "--wait"])
        .args(["--token-file", token_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.exists(), "the owner's execution ran the shell task");
    // An empty --token is an error, not "no auth".
    let out = kite_cmd(cwd)
        .args([
            "execute",
            "kite.attack",
            "pwn",
            "--server",
            &url,
            "--token",
            "",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);

    // A restart reuses the token and does not show it again.
    let again = start(cwd, &[]);
    let reused = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(reused, token);
    assert!(!again.printed.contains(&token), "{}", again.printed);
    assert!(again.printed.contains("api-token"), "{}", again.printed);
    let (status, _) = status_json(
        c.get(format!("{}/api/v1/flows/search", again.url))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// Runs `kite ARGS` expecting it to stop by itself (a server that starts instead is killed
/// after 60 s and reported as such).
fn run_to_end(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out_file = cwd.join("run.out");
    let mut cmd = kite_cmd(cwd);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&out_file).unwrap()))
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&out_file)
                .unwrap(),
        ));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let printed = std::fs::read_to_string(&out_file).unwrap_or_default();
    match status {
        Some(s) => (s.code(), printed),
        None => (None, format!("still running after 60 s: {printed}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_tokens_and_no_auth_off_loopback_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let (code, out) = run_to_end(cwd, &["server", "local", "--port", "0", "--token", ""], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("token is empty"), "{out}");
    let (code, out) = run_to_end(
        cwd,
        &["server", "local", "--port", "0"],
        &[("KITE_TOKEN", "")],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("token is empty"), "{out}");
    let (code, out) = run_to_end(
        cwd,
        &[
            "server",
            "local",
            "--port",
            "0",
            "--host",
            "0.0.0.0",
            "--no-auth",
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("--no-auth is refused"), "{out}");
    assert!(!cwd.join(".kite").join("api-token").exists());

    // --no-auth on loopback: open, and said so.
    let server = start(cwd, &["--no-auth"]);
    let (status, _) =
        status_json(client().get(format!("{}/api/v1/flows/search", server.url))).await;
    assert_eq!(status, StatusCode::OK);
    let log = std::fs::read_to_string(cwd.join("server.log")).unwrap_or_default();
    assert!(
        log.contains("authentication is off") || server.printed.contains("authentication is off"),
        "{log}"
    );
}

#[test]
fn a_read_only_data_folder_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    // Root writes through permission bits: make the folder immutable instead.
    let lock = |on: bool| {
        if root {
            let flag = if on { "+i" } else { "-i" };
            let ok = Command::new("chattr")
                .arg(flag)
                .arg(&data)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chattr {flag} works here");
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = if on { 0o555 } else { 0o755 };
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    lock(true);
    let (code, out) = run_to_end(
        tmp.path(),
        &[
            "server",
            "local",
            "--port",
            "0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    lock(false);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(out.matches("is read-only").count(), 1, "{out}");
    assert!(out.contains(data.to_str().unwrap()), "{out}");
    assert!(out.contains("--data"), "{out}");
    assert!(!out.contains("unable to open database file"), "{out}");
}
