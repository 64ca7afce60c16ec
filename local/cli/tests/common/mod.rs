//! What the `kite` end-to-end tests share: a `kite server local` process in either home
//! (embedded store, or `--aws-endpoint` on the moto server the tests start) on a data
//! folder that survives restarts, and an API client with its token.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// Where a server keeps its state.
#[derive(Debug, Clone)]
pub enum Home {
    /// The embedded store in the data folder.
    Embedded,
    /// The AWS adapters on moto, under this resource prefix.
    Emulator { endpoint: String, prefix: String },
}

impl Home {
    /// A fresh emulator home (moto started on first use).
    pub fn emulator() -> Self {
        Home::Emulator {
            endpoint: kite_aws::testing::moto().endpoint.clone(),
            prefix: kite_aws::testing::unique_prefix(),
        }
    }
}

/// A running `kite server local`.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `kite server local` on `data` (created at first start), with `--flows` when
    /// given; waits for its URL and reads the token it created.
    pub fn start(home: &Home, data: &Path, flows: Option<&Path>) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
        if let Home::Emulator { endpoint, prefix } = home {
            cmd.args(["--aws-endpoint", endpoint, "--prefix", prefix]);
        }
        cmd.args(["server", "local", "--port", "0", "--lease", "3", "--data"])
            .arg(data)
            .env_remove("KITE_TOKEN")
            .env_remove("KITE_TOKEN_FILE")
            .env("KITE_LOG", "warn")
            .env("KITE_WORK_DIR", data.with_extension("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(data.with_extension("log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        if let Some(f) = flows {
            cmd.arg("--flows").arg(f);
        }
        let mut child = cmd.spawn().expect("kite starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(url) => url,
            Err(_) => panic!(
                "the server did not start: {}",
                std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
            ),
        };
        let token_file: PathBuf = data.join("api-token");
        let token = std::fs::read_to_string(&token_file)
            .unwrap_or_else(|e| panic!("{}: {e}", token_file.display()))
            .trim()
            .to_owned();
        Self { child, url, token }
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        let _ = self.child.wait();
    }
}

/// The REST API of a server.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(server: &Server) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", server.token).parse().unwrap(),
        );
        Self {
            base: server.url.clone(),
            client: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    /// Every execution of a flow (all pages).
    pub async fn executions(&self, namespace: &str, flow: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for page in 1.. {
            let (status, body) = self
                .get(&format!(
                    "/api/v1/executions/search?namespace={namespace}&flowId={flow}&size=500&page={page}"
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let results = body["results"].as_array().cloned().unwrap_or_default();
            let n = results.len();
            out.extend(results);
            if n < 500 {
                break;
            }
        }
        out
    }
}
