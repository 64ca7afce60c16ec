//! An emulator of the AWS Lambda Runtime API for one function, to run the built Lambda
//! binaries locally exactly as Lambda runs them
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>).
//!
//! [`RuntimeApi`] is an axum server on a loopback port serving
//!
//! * `GET /2018-06-01/runtime/invocation/next`: long-polls the pending invocations and answers
//!   with the event as the body and the `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms` (epoch milliseconds), `Lambda-Runtime-Invoked-Function-Arn`
//!   and `Lambda-Runtime-Trace-Id` headers;
//! * `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`: the outcome of
//!   an invocation;
//! * `POST /2018-06-01/runtime/init/error`: a failed initialisation.
//!
//! [`RuntimeApi::spawn_binary`] starts the function's binary with the environment Lambda
//! gives a `provided.al2023` runtime (and only that, plus the given variables), capturing its
//! stderr; [`RuntimeApi::cold_start`] is the time from the spawn to the binary's first
//! `/next` request (its init: configuration, SDK clients, connection warm-up), and
//! [`RuntimeApi::cold_start_cpu`] the CPU time the binary used by then (which, unlike the
//! wall time, does not grow when other processes load the machine).
//! [`RuntimeApi::invoke`] enqueues an event with the function's deadline and awaits the
//! response. The child is killed when the `RuntimeApi` is dropped.
//!
//! [`Functions`] holds one `RuntimeApi` per function and implements
//! [`kite_aws::esm::Invoker`], so the local event source mappings drive the binaries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// The region and account in the function ARN.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// How long after its deadline an invocation is abandoned (the binary is then stuck).
const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// The outcome of one invocation: the response, or the error body.
type Outcome = Result<Value, String>;

/// An invocation waiting for `/next`.
#[derive(Debug)]
struct Pending {
    id: String,
    payload: Value,
    deadline_ms: u64,
    reply: oneshot::Sender<Outcome>,
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The event.
    pub payload: Value,
    /// Whether the function answered with a response (not an error).
    pub ok: bool,
    /// From the enqueueing to the outcome (waiting for the instance included).
    pub elapsed: Duration,
}

/// State shared by the server's handlers and the [`RuntimeApi`].
#[derive(Debug)]
struct Shared {
    function: String,
    /// Invocations not yet handed out.
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    /// Handed out, waiting for their outcome.
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// The first `/next` request.
    first_next: OnceLock<Instant>,
    /// Signalled on the first `/next`, an init error, and the binary's exit.
    changed: Notify,
    /// The body of `/runtime/init/error`.
    init_error: Mutex<Option<String>>,
    /// The binary's exit status, once it exited.
    exited: Mutex<Option<String>>,
    /// The binary's stderr lines.
    stderr: Mutex<Vec<String>>,
    /// Finished invocations.
    history: Mutex<Vec<Invocation>>,
}

impl Shared {
    fn fail_in_flight(&self, reason: &str) {
        let waiting: Vec<_> = lock(&self.in_flight).drain().collect();
        for (_, reply) in waiting {
            let _ = reply.send(Err(reason.to_owned()));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A Lambda Runtime API for one function, and the process of its binary.
#[derive(Debug)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    timeout: Duration,
    sender: mpsc::UnboundedSender<Pending>,
    server: JoinHandle<()>,
    /// The task owning the child (dropping it kills the child).
    child: Mutex<Option<JoinHandle<()>>>,
    spawned_at: Mutex<Option<Instant>>,
    /// The binary's process id, once spawned.
    pid: Mutex<Option<u32>>,
}

impl RuntimeApi {
    /// Serves the Runtime API of `function` (whose invocations last at most `timeout`) on a
    /// free loopback port.
    pub async fn start(function: &str, timeout: Duration) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function: function.to_owned(),
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            first_next: OnceLock::new(),
            changed: Notify::new(),
            init_error: Mutex::new(None),
            exited: Mutex::new(None),
            stderr: Mutex::new(Vec::new()),
            history: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("runtime API server stopped: {e}");
            }
        });
        Ok(Self {
            shared,
            addr,
            timeout,
            sender,
            server,
            child: Mutex::new(None),
            spawned_at: Mutex::new(None),
            pid: Mutex::new(None),
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The function's name.
    pub fn function(&self) -> &str {
        &self.shared.function
    }

    /// Starts the function's binary at `path` with Lambda's environment plus `env` (nothing
    /// else is inherited but `PATH` and `RUST_LOG`/`RUST_BACKTRACE`).
    pub fn spawn_binary(&self, path: &Path, env: &[(String, String)]) -> std::io::Result<()> {
        let name = &self.shared.function;
        let memory = env
            .iter()
            .find(|(k, _)| k == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "512".into());
        let mut cmd = tokio::process::Command::new(path);
        cmd.env_clear();
        for k in ["PATH", "RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        let day = chrono::Utc::now().format("%Y/%m/%d");
        let stream = uuid::Uuid::new_v4().simple().to_string();
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("{day}/[$LATEST]{stream}"),
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .env("LANG", "en_US.UTF-8");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        *lock(&self.spawned_at) = Some(Instant::now());
        let mut child = cmd.spawn()?;
        *lock(&self.pid) = child.id();
        let shared = self.shared.clone();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let task = tokio::spawn(async move {
            let capture = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
                let shared = shared.clone();
                async move {
                    let Some(pipe) = pipe else { return };
                    let mut lines = BufReader::new(pipe).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        lock(&shared.stderr).push(line);
                    }
                }
            };
            let out = capture(stdout.map(|p| Box::new(p) as _));
            let err = capture(stderr.map(|p| Box::new(p) as _));
            let (status, (), ()) = tokio::join!(child.wait(), out, err);
            let status = match status {
                Ok(s) => s.to_string(),
                Err(e) => format!("unknown ({e})"),
            };
            *lock(&shared.exited) = Some(status.clone());
            shared.fail_in_flight(&format!(
                "the {} binary exited ({status}) during the invocation",
                shared.function
            ));
            shared.changed.notify_waiters();
        });
        if let Some(old) = lock(&self.child).replace(task) {
            old.abort();
        }
        Ok(())
    }

    /// Spawn → first `/next`, once the binary asked for its first event.
    pub fn cold_start(&self) -> Option<Duration> {
        let spawned = (*lock(&self.spawned_at))?;
        let first = *self.shared.first_next.get()?;
        Some(first.saturating_duration_since(spawned))
    }

    /// The CPU time (user + system) the binary has used so far: read once it asked for its
    /// first event (then it waits on `/next`, using none), its init's CPU time. `None`
    /// before the spawn or once the process is gone.
    pub fn cold_start_cpu(&self) -> Option<Duration> {
        let pid = (*lock(&self.pid))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command name (which may hold spaces) start after the last ')'.
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
    }

    /// Waits until the binary asks for its first event and returns its cold start; fails when
    /// it reports an init error, exits, or `within` passes.
    pub async fn ready(&self, within: Duration) -> Result<Duration, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(d) = self.cold_start() {
                return Ok(d);
            }
            if let Some(e) = lock(&self.shared.init_error).clone() {
                return Err(format!("{} init error: {e}", self.function()));
            }
            if let Some(s) = lock(&self.shared.exited).clone() {
                return Err(format!(
                    "the {} binary exited ({s}) before asking for an event",
                    self.function()
                ));
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(format!(
                    "the {} binary did not ask for an event within {within:?}",
                    self.function()
                ));
            }
        }
    }

    /// Invokes the function with `payload` and awaits its response (`Err` with the error body
    /// for a function error, a crash or a timeout).
    pub async fn invoke(&self, payload: Value) -> Outcome {
        if let Some(s) = lock(&self.shared.exited).clone() {
            return Err(format!("the {} binary exited ({s})", self.function()));
        }
        let (reply, outcome) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        let deadline_ms = epoch_ms() + self.timeout.as_millis() as u64;
        let started = Instant::now();
        self.sender
            .send(Pending {
                id: id.clone(),
                payload: payload.clone(),
                deadline_ms,
                reply,
            })
            .map_err(|_| "the runtime API is closed".to_owned())?;
        let outcome = self.outcome(&id, outcome).await;
        lock(&self.shared.history).push(Invocation {
            payload,
            ok: outcome.is_ok(),
            elapsed: started.elapsed(),
        });
        outcome
    }

    async fn outcome(&self, id: &str, outcome: oneshot::Receiver<Outcome>) -> Outcome {
        // Queued time counts: an invocation waits for the instance like on Lambda.
        match tokio::time::timeout(self.timeout + DEADLINE_GRACE, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(format!("invocation {id} of {} dropped", self.function())),
            Err(_) => {
                lock(&self.shared.in_flight).remove(id);
                Err(format!(
                    "invocation {id} of {} timed out after {:?}",
                    self.function(),
                    self.timeout
                ))
            }
        }
    }

    /// What the binary wrote so far (stdout and stderr lines).
    pub fn output(&self) -> String {
        lock(&self.shared.stderr).join("\n")
    }

    /// The finished invocations, oldest first.
    pub fn invocations(&self) -> Vec<Invocation> {
        lock(&self.shared.history).clone()
    }

    /// The binary's exit status, if it exited.
    pub fn exited(&self) -> Option<String> {
        lock(&self.shared.exited).clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(child) = lock(&self.child).take() {
            // Dropping the task drops the child, which kills it (`kill_on_drop`).
            child.abort();
        }
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.first_next.set(Instant::now());
    shared.changed.notify_waiters();
    let pending = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    let Some(p) = pending else {
        return (StatusCode::GONE, "runtime API closed").into_response();
    };
    lock(&shared.in_flight).insert(p.id.clone(), p.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", p.id);
    set("lambda-runtime-deadline-ms", p.deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
            shared.function
        ),
    );
    let trace = uuid::Uuid::new_v4().simple().to_string();
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            epoch_ms() / 1000,
            &trace[..24],
            &trace[16..32]
        ),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, p.payload.to_string()).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let Some(reply) = lock(&shared.in_flight).remove(&id) else {
        return StatusCode::BAD_REQUEST;
    };
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let _ = reply.send(Ok(value));
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(reply) = lock(&shared.in_flight).remove(&id) else {
        return StatusCode::BAD_REQUEST;
    };
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled");
    let _ = reply.send(Err(format!("{kind}: {}", String::from_utf8_lossy(&body))));
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *lock(&shared.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
    shared.changed.notify_waiters();
    StatusCode::ACCEPTED
}

/// One Runtime API (and binary) per function: the invoker of the local event source mappings.
#[derive(Debug, Default)]
pub struct Functions {
    apis: HashMap<String, RuntimeApi>,
}

impl Functions {
    /// No functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `api` under its function name.
    pub fn insert(&mut self, api: RuntimeApi) {
        self.apis.insert(api.function().to_owned(), api);
    }

    /// The Runtime API of `function`.
    pub fn get(&self, function: &str) -> Option<&RuntimeApi> {
        self.apis.get(function)
    }

    /// Every function, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RuntimeApi)> {
        self.apis.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Each binary's output, under a heading per function.
    pub fn outputs(&self) -> String {
        let mut names: Vec<_> = self.apis.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let api = &self.apis[n];
                format!(
                    "----- {n} (exit: {}) -----\n{}",
                    api.exited().unwrap_or_else(|| "running".into()),
                    api.output()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[async_trait::async_trait]
impl kite_aws::esm::Invoker for Functions {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String> {
        match self.apis.get(function) {
            Some(api) => api.invoke(payload).await,
            None => Err(format!("no function `{function}`")),
        }
    }
}
