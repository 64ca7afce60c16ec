//! The HTTP client side of the CLI: `kite execute` and `kite flow deploy` talk to a Kite (or
//! Kestra) server's `/api/v1`.
//!
//! Exit codes: 0 on success; 1 when the execution did not succeed or some flow was not
//! deployed; 2 when the server refused the request (invalid inputs, unknown flow...) or
//! could not be reached.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;

/// A server and its credentials.
#[derive(Debug, Clone)]
pub struct Server {
    /// Base URL (`http://127.0.0.1:8080`).
    pub url: String,
    /// Bearer token.
    pub token: Option<String>,
}

impl Server {
    /// The server at `url` with the token from `--token-file`, `--token`/`KITE_TOKEN` or
    /// the default data folder's token file (see [`crate::commands::token::for_client`]).
    pub fn new(
        url: String,
        token: Option<String>,
        token_file: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        let token = crate::commands::token::for_client(token.as_deref(), token_file.as_deref())?;
        Ok(Self { url, token })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        match self.token.as_deref() {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }
}

fn client() -> anyhow::Result<Client> {
    kite_engine::tls::ensure_crypto_provider();
    Client::builder()
        .build()
        .context("cannot build the HTTP client")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The message of an error response (with where the token comes from on a 401).
async fn error_message(resp: Response) -> String {
    let status = resp.status();
    let hint = if status == StatusCode::UNAUTHORIZED {
        " (the server wants its API token: --token-file <data>/api-token, KITE_TOKEN, or run \
         from the folder holding .kite/api-token)"
    } else {
        ""
    };
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(text);
    format!("{status}: {message}{hint}")
}

/// Options of `kite execute`.
#[derive(Debug)]
pub struct ExecuteArgs {
    /// The server.
    pub server: Server,
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow: String,
    /// `NAME=VALUE` or `NAME=@path`.
    pub inputs: Vec<String>,
    /// `key:value` labels.
    pub labels: Vec<String>,
    /// Wait for the end.
    pub wait: bool,
    /// Print the execution as JSON.
    pub json: bool,
}

/// `kite execute NAMESPACE FLOW --server URL [--input NAME=VALUE|NAME=@path]... [--wait]`.
pub fn execute(args: ExecuteArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(execute_async(args))
}

async fn execute_async(args: ExecuteArgs) -> anyhow::Result<ExitCode> {
    let mut form = Form::new();
    for item in &args.inputs {
        let Some((name, value)) = item.split_once('=') else {
            bail!("--input {item}: expected NAME=VALUE or NAME=@path");
        };
        form = match value.strip_prefix('@') {
            Some(path) => {
                let part = Part::file(path)
                    .await
                    .with_context(|| format!("--input {name}: cannot read {path}"))?;
                form.part(name.to_owned(), part)
            }
            None => form.text(name.to_owned(), value.to_owned()),
        };
    }
    let mut query: Vec<(&str, String)> =
        args.labels.iter().map(|l| ("labels", l.clone())).collect();
    if args.wait {
        query.push(("wait", "true".into()));
    }
    let url = args.server.endpoint(&format!(
        "/api/v1/executions/{}/{}",
        args.namespace, args.flow
    ));
    let request = client()?.post(&url).query(&query);
    // An empty multipart body is malformed for some servers: no inputs go as `{}`.
    let request = if args.inputs.is_empty() {
        request.json(&serde_json::json!({}))
    } else {
        request.multipart(form)
    };
    let request = args.server.auth(request);
    let resp = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot reach {}: {e}", args.server.url);
            return Ok(ExitCode::from(2));
        }
    };
    if !resp.status().is_success() {
        eprintln!("error: {}", error_message(resp).await);
        return Ok(ExitCode::from(2));
    }
    let execution: Value = resp
        .json()
        .await
        .context("the server answered something that is not an execution")?;
    let state = execution["state"]["current"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&execution)?);
    } else {
        println!(
            "Execution {} of {}.{}: {state}",
            execution["id"].as_str().unwrap_or("?"),
            args.namespace,
            args.flow
        );
        if let Some(outputs) = execution["outputs"].as_object().filter(|o| !o.is_empty()) {
            println!("outputs: {}", Value::Object(outputs.clone()));
        }
    }
    Ok(
        if !args.wait || matches!(state.as_str(), "SUCCESS" | "WARNING") {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// Options of `kite flow deploy`.
#[derive(Debug)]
pub struct DeployArgs {
    /// The server.
    pub server: Server,
    /// Files or folders of flows.
    pub paths: Vec<PathBuf>,
}

/// `kite flow deploy DIR --server URL`: creates or updates every flow (one per YAML document).
pub fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(deploy_async(args))
}

enum Outcome {
    Deployed(String),
    Refused(String),
}

async fn deploy_async(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let files = crate::commands::flow_validate::collect_files(&args.paths)?;
    let client = client()?;
    let (mut ok, mut failed) = (0usize, 0usize);
    for file in files {
        let source = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        for doc in kite_webserver::catalog::split_documents(&source) {
            match deploy_one(&client, &args.server, &doc.source).await {
                Ok(Outcome::Deployed(what)) => {
                    ok += 1;
                    println!("✓ {what} ({})", file.display());
                }
                Ok(Outcome::Refused(why)) => {
                    failed += 1;
                    println!("✗ {}:{}: {why}", file.display(), doc.first_line);
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    }
    println!("{} deployed, {} refused", ok, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The id and namespace of a flow source, when readable.
fn identity(source: &str) -> Option<(String, String)> {
    let nodes = kite_flow::yaml::load_documents(source).ok()?;
    let root = nodes.first()?;
    let field = |k: &str| root.get(k).and_then(|n| n.as_str()).map(str::to_owned);
    Some((field("namespace")?, field("id")?))
}

async fn deploy_one(client: &Client, server: &Server, source: &str) -> anyhow::Result<Outcome> {
    let send = |rb: RequestBuilder| {
        server.auth(
            rb.header("Content-Type", "application/x-yaml")
                .body(source.to_owned()),
        )
    };
    let existing = match identity(source) {
        Some((ns, id)) => {
            let url = server.endpoint(&format!("/api/v1/flows/{ns}/{id}"));
            let resp = server
                .auth(client.get(&url))
                .send()
                .await
                .with_context(|| format!("cannot reach {}", server.url))?;
            match resp.status() {
                StatusCode::OK => Some(url),
                StatusCode::NOT_FOUND => None,
                StatusCode::UNAUTHORIZED => bail!("{}", error_message(resp).await),
                _ => None,
            }
        }
        None => None,
    };
    let rb = match &existing {
        Some(url) => client.put(url),
        None => client.post(server.endpoint("/api/v1/flows")),
    };
    let resp = send(rb)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", server.url))?;
    if resp.status() == StatusCode::UNAUTHORIZED {
        bail!("{}", error_message(resp).await);
    }
    if !resp.status().is_success() {
        return Ok(Outcome::Refused(error_message(resp).await));
    }
    let flow: Value = resp.json().await.unwrap_or(Value::Null);
    Ok(Outcome::Deployed(format!(
        "{}.{} revision {}",
        flow["namespace"].as_str().unwrap_or("?"),
        flow["id"].as_str().unwrap_or("?"),
        flow["revision"]
    )))
}
