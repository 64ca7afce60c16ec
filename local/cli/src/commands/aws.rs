//! The emulator mode of `kite` (`--aws-endpoint URL`): the platform on the real AWS adapters
//! (SQS, DynamoDB, S3) against a LocalStack-compatible endpoint, the resources created from
//! the definitions Terraform uses (`kite infra up`, idempotent), and the very handlers the
//! Lambda functions run, fed by local twins of the event source mappings (batch size,
//! visibility timeout, partial batch failures) and of the EventBridge rule
//! (`kite_aws::esm`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kite_aws::esm::{self, Invoker, Mapping};
use kite_aws::resources::Resources;
use kite_aws::{AwsConfig, Clients};
use kite_engine::services::Platform;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the emulator mode runs.
#[derive(Debug, Clone)]
pub struct Target {
    /// The emulator endpoint.
    pub endpoint: String,
    /// The installation prefix.
    pub prefix: String,
}

/// A platform on an emulator.
#[derive(Debug, Clone)]
pub struct AwsLocal {
    /// The SDK clients (with their request counters).
    pub clients: Clients,
    /// The platform on the AWS adapters.
    pub platform: Arc<Platform>,
}

/// Connects to `endpoint`, creates the installation `prefix` if needed, builds the platform.
pub async fn connect(endpoint: &str, prefix: &str) -> anyhow::Result<AwsLocal> {
    let config = AwsConfig::emulator(endpoint, prefix);
    let clients = Clients::connect(&config).await;
    kite_aws::infra::up(&clients, &Resources::load())
        .await
        .with_context(|| {
            format!("cannot create Kite's resources on {endpoint} (is the emulator running?)")
        })?;
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            !k.ends_with("_QUEUE_URL")
                && !k.ends_with("_DLQ_URL")
                && k != "KITE_TABLE"
                && k != "KITE_BUCKET"
        })
        .collect();
    let clock: Arc<dyn kite_ports::Clock> = Arc::new(kite_ports::SystemClock);
    let platform = kite_aws::wiring::platform(&clients, clock, &env)?;
    Ok(AwsLocal {
        clients,
        platform: Arc::new(platform),
    })
}

/// The four handlers, called in this process.
#[derive(Debug)]
pub struct InProcess {
    platform: Arc<Platform>,
    resources: Resources,
}

impl InProcess {
    /// Handlers over `platform`.
    pub fn new(platform: Arc<Platform>) -> Self {
        Self {
            platform,
            resources: Resources::load(),
        }
    }

    fn context(&self, function: &str) -> Context {
        let timeout = self
            .resources
            .function(function)
            .map(|f| f.timeout_seconds)
            .unwrap_or(60);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut ctx = Context::default();
        ctx.request_id = uuid::Uuid::new_v4().to_string();
        ctx.deadline = now_ms + u64::from(timeout) * 1000;
        ctx
    }
}

#[async_trait::async_trait]
impl Invoker for InProcess {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String> {
        let ctx = self.context(function);
        let p = &self.platform;
        let parse = |v: Value| serde_json::from_value(v).map_err(|e| e.to_string());
        let out = match function {
            "executor" => kite_fn_executor::handle(p, LambdaEvent::new(parse(payload)?, ctx))
                .await
                .map(|r| serde_json::to_value(r).unwrap_or_default()),
            "worker" => kite_fn_worker::handle(p, LambdaEvent::new(parse(payload)?, ctx))
                .await
                .map(|r| serde_json::to_value(r).unwrap_or_default()),
            "scheduler" => kite_fn_scheduler::handle(p, LambdaEvent::new(payload, ctx)).await,
            other => return Err(format!("no function `{other}`")),
        };
        out.map_err(|e| e.to_string())
    }
}

/// How the emulated event source mappings run.
#[derive(Debug, Clone, Copy)]
pub struct FunctionsConfig {
    /// Concurrent worker invocations.
    pub workers: usize,
    /// Concurrent executor invocations.
    pub executors: usize,
    /// Long-poll wait.
    pub wait: Duration,
    /// Scheduler rule period.
    pub tick: Duration,
}

impl Default for FunctionsConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            executors: 2,
            wait: Duration::from_secs(1),
            tick: Duration::from_secs(1),
        }
    }
}

/// Starts the event source mappings of every SQS-fed function in `resources.json` and the
/// scheduler's rule, invoking `invoker`.
pub fn spawn_functions(
    aws: &AwsLocal,
    invoker: Arc<dyn Invoker>,
    config: FunctionsConfig,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let res = Resources::load();
    let mut handles = Vec::new();
    for f in &res.functions {
        let Some(queue) = &f.source_queue else {
            continue;
        };
        let concurrency = match f.name.as_str() {
            "worker" => config.workers,
            "executor" => config.executors,
            _ => 1,
        };
        // The scheduler's S3 notification queue has a mapping of its own, as on AWS.
        for q in std::iter::once(queue).chain(f.notification_queue.as_ref()) {
            let mapping = Mapping {
                function: f.name.clone(),
                queue: q.clone(),
                batch_size: f.batch_size.unwrap_or(10) as usize,
                visibility: Duration::from_secs(u64::from(f.timeout_seconds).max(30)),
                concurrency,
                wait: config.wait,
            };
            handles.extend(esm::spawn(
                aws.platform.queue.clone(),
                aws.clients.config.name(q),
                mapping,
                invoker.clone(),
                stop.clone(),
            ));
        }
        if f.schedule.is_some() {
            handles.push(esm::spawn_ticker(
                invoker.clone(),
                aws.clients.config.name(&f.name),
                config.tick,
                stop.clone(),
            ));
        }
    }
    handles
}
