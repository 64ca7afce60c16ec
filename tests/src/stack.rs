//! Kite's four built Lambda binaries on a moto emulator, each under its own [`RuntimeApi`],
//! fed like in AWS: HTTP API requests for the webserver, and the local twins of the SQS
//! event source mappings and of the EventBridge rule (`kite_aws::esm`) for the others.

use std::sync::Arc;
use std::time::Duration;

use kite_aws::esm::{self, Invoker, Mapping};
use kite_aws::resources::Resources;
use kite_aws::{Clients, SqsQueue};
use kite_ports::Queue;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::apigw::{HttpRequest, HttpResponse};
use crate::binaries::lambda_binaries;
use crate::runtime_api::{Functions, RuntimeApi};

/// How long a binary may take to ask for its first event.
const INIT_LIMIT: Duration = Duration::from_secs(30);

/// The four functions of one installation on the shared moto server.
#[derive(Debug)]
pub struct LambdaStack {
    /// Clients on the installation (for the test's own calls).
    pub clients: Clients,
    /// The functions' Runtime APIs.
    pub functions: Arc<Functions>,
    /// Each function's cold start (spawn → first `/next`).
    pub cold_starts: Vec<(String, Duration)>,
    /// Each function's init CPU time (see [`RuntimeApi::cold_start_cpu`]), in start order.
    pub cold_start_cpus: Vec<(String, Duration)>,
    /// The functions' `KITE_WORK_DIR`.
    pub work_dir: tempfile::TempDir,
    resources: Resources,
}

impl LambdaStack {
    /// Starts moto (once per process), creates a fresh installation, and starts the four
    /// binaries, waiting until each asks for its first event. Panics with the reason.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`start`](Self::start) with extra environment variables for the binaries.
    pub async fn start_with(extra_env: &[(&str, &str)]) -> Self {
        let binaries = tokio::task::spawn_blocking(lambda_binaries)
            .await
            .expect("locating the Lambda binaries panicked");
        let moto = tokio::task::spawn_blocking(kite_aws::testing::moto)
            .await
            .expect("starting moto panicked");
        let clients = kite_aws::testing::clients().await;
        let resources = Resources::load();
        if let Err(e) = kite_aws::infra::up(&clients, &resources).await {
            panic!("cannot create the installation on moto: {e}");
        }
        let work_dir = tempfile::tempdir().expect("a temporary work folder");
        let mut env: Vec<(String, String)> = [
            ("KITE_AWS_ENDPOINT", moto.endpoint.as_str()),
            ("KITE_PREFIX", clients.config.prefix.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_SESSION_TOKEN", "test"),
            ("KITE_WORK_DIR", &work_dir.path().to_string_lossy()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        // One binary at a time, so that each cold start is measured without the others' (or
        // another test's) inits competing for the CPU.
        static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let mut functions = Functions::new();
        let mut cold_starts = Vec::new();
        let mut cold_start_cpus = Vec::new();
        for (name, path) in binaries {
            let def = resources
                .function(name)
                .unwrap_or_else(|| panic!("no function `{name}` in terraform/resources.json"));
            let api = RuntimeApi::start(name, Duration::from_secs(def.timeout_seconds.into()))
                .await
                .unwrap_or_else(|e| panic!("cannot serve the runtime API of {name}: {e}"));
            let mut function_env = env.clone();
            function_env.push((
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                def.memory_mb.to_string(),
            ));
            function_env.push(("AWS_LAMBDA_FUNCTION_NAME".into(), clients.config.name(name)));
            let starting = STARTING.lock().await;
            api.spawn_binary(path, &function_env)
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
            let ready = api.ready(INIT_LIMIT).await;
            drop(starting);
            match ready {
                Ok(d) => {
                    cold_starts.push((name.clone(), d));
                    let cpu = api.cold_start_cpu().unwrap_or_else(|| {
                        panic!(
                            "no CPU time for {name}: its process is gone\n{}",
                            api.output()
                        )
                    });
                    cold_start_cpus.push((name.clone(), cpu));
                }
                Err(e) => panic!("{e}\n{}", api.output()),
            }
            functions.insert(api);
        }
        Self {
            clients,
            functions: Arc::new(functions),
            cold_starts,
            cold_start_cpus,
            work_dir,
            resources,
        }
    }

    /// Sends `request` through the webserver function as API Gateway would.
    pub async fn http(&self, request: HttpRequest) -> HttpResponse {
        let what = format!("{} {}", request.method, request.path);
        match self.functions.invoke("webserver", request.event()).await {
            Ok(v) => HttpResponse::from_lambda(&v)
                .unwrap_or_else(|e| panic!("{what}: {e}\n{}", self.functions.outputs())),
            Err(e) => panic!(
                "{what}: the webserver invocation failed: {e}\n{}",
                self.functions.outputs()
            ),
        }
    }

    /// Starts the event source mappings of the SQS-fed functions (executor, worker,
    /// scheduler's timer queue) with their `resources.json` batch sizes, and the
    /// scheduler's EventBridge rule every `tick`; everything stops when `stop` turns true.
    pub fn spawn_event_sources(
        &self,
        tick: Duration,
        stop: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(&self.clients));
        let invoker: Arc<dyn Invoker> = self.functions.clone();
        let mut handles = Vec::new();
        for f in &self.resources.functions {
            if let Some(source) = &f.source_queue {
                let mapping = Mapping {
                    function: f.name.clone(),
                    queue: source.clone(),
                    batch_size: f.batch_size.unwrap_or(10) as usize,
                    visibility: Duration::from_secs(u64::from(f.timeout_seconds).max(30)),
                    // One instance per function: more pollers would only queue.
                    concurrency: 1,
                    wait: Duration::from_secs(1),
                };
                handles.extend(esm::spawn(
                    queue.clone(),
                    self.clients.config.name(source),
                    mapping,
                    invoker.clone(),
                    stop.clone(),
                ));
            }
            if f.schedule.is_some() {
                handles.push(esm::spawn_ticker(
                    invoker.clone(),
                    self.clients.config.name(&f.name),
                    tick,
                    stop.clone(),
                ));
            }
        }
        handles
    }
}
