//! Secrets through the `kite` binary (issue 8, item 3): `kite server local` masks
//! `secret()` values and SECRET inputs in the API's executions and logs, creates its
//! encryption key in the data folder (mode 0600), and its SQLite files hold neither value
//! in clear (compressed records inflated before the search); `kite flow run` refuses a
//! flow with a SECRET input when no key is configured.

use std::io::{BufRead, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const TOKEN: &str = "secrets-e2e-token";
const SECRET: &str = "Sup3r-s3cret-from-env";
const INPUT: &str = "input-pa55word-42";

const FLOW: &str = r#"id: secrets
namespace: kite.e2e
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "env secret {{ secret('PASSWORD') }} and input {{ inputs.pw }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "shell sees {{ secret('PASSWORD') }} / {{ inputs.pw }}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.pw }}|{{ secret('PASSWORD') }}"
outputs:
  - id: both
    type: STRING
    value: "{{ outputs.ret.value }}"
"#;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(["server", "local", "--port", "0", "--token", TOKEN, "--data"])
        .arg(data)
        .env("KITE_LOG", "warn")
        .env("SECRET_PASSWORD", b64(SECRET))
        .env_remove("KITE_ENCRYPTION_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kite starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server prints its URL");
    Server { child, url }
}

/// Every text in `bytes`, plus the inflated body of every compressed record
/// (`{"z":"<base64 of deflate>"}`) found in it.
fn readable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut out = text.clone();
    for piece in text.split("\"z\":\"").skip(1) {
        let b64: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=')
            .collect();
        let Ok(deflated) = base64::engine::general_purpose::STANDARD.decode(&b64) else {
            continue;
        };
        let mut inflated = String::new();
        if flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut inflated)
            .is_ok()
        {
            out.push_str(&inflated);
        }
    }
    out
}

#[track_caller]
fn assert_no_clear(what: &str, text: &str) {
    for s in [SECRET, INPUT] {
        assert!(!text.contains(s), "{what} holds `{s}` in clear");
        assert!(!text.contains(&b64(s)), "{what} holds `{s}` in base64");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_local_masks_secrets_and_keeps_them_out_of_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data);
    let key_file = data.join("encryption.key");
    let mode = std::fs::metadata(&key_file)
        .expect("key created")
        .permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(mode.mode() & 0o777, 0o600, "the key file is private");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url);
    let resp = client
        .post(url("/api/v1/flows"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-yaml")
        .body(FLOW)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let resp = client
        .post(url("/api/v1/executions/kite.e2e/secrets?wait=true"))
        .bearer_auth(TOKEN)
        .json(&json!({ "pw": INPUT }))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert_no_clear("the execution returned", &text);
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["state"]["current"], json!("SUCCESS"), "{text}");
    assert_eq!(
        e["inputs"]["pw"]["type"],
        json!("io.kestra.datatype:aes_encrypted")
    );
    assert_eq!(e["outputs"]["both"], json!("******|******"), "{text}");
    let id = e["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = client
            .get(url(&format!("/api/v1/logs/{id}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_no_clear("the logs", &logs);
        if logs.contains("env secret ****** and input ******")
            && logs.contains("shell sees ****** / ******")
        {
            break;
        }
        assert!(Instant::now() < deadline, "masked lines missing: {logs}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
    let mut all = String::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("kite.db") {
            let text = readable(&std::fs::read(&path).unwrap());
            assert_no_clear(&name, &text);
            all.push_str(&text);
        }
    }
    // The search did read the records and the log lines.
    assert!(
        all.contains("io.kestra.datatype:aes_encrypted"),
        "records read"
    );
    assert!(all.contains("shell sees ****** / ******"), "log lines read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_run_refuses_a_secret_input_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.yaml");
    std::fs::write(&file, FLOW).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(["flow", "run"])
        .arg(&file)
        .args(["--input", &format!("pw={INPUT}")])
        .env_remove("KITE_ENCRYPTION_KEY")
        .env("SECRET_PASSWORD", b64(SECRET))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("SECRET input `pw`") && stderr.contains("KITE_ENCRYPTION_KEY"),
        "{stderr}"
    );
    // With a key it runs, and prints no clear value.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(["flow", "run"])
        .arg(&file)
        .args(["--input", &format!("pw={INPUT}"), "--json"])
        .env("KITE_ENCRYPTION_KEY", "0123456789abcdef0123456789abcdef")
        .env("SECRET_PASSWORD", b64(SECRET))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_no_clear("kite flow run's output", &format!("{stdout}{stderr}"));
    assert!(stdout.contains("******"), "{stdout}");
}
