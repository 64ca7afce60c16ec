//! `kite --aws-endpoint URL bench`: what a task run costs on AWS, measured on an emulator.
//!
//! The flows run on the real AWS adapters with the Lambda handlers fed by the emulated event
//! source mappings (as `kite server local --aws-endpoint`). Every AWS request is counted by
//! service and operation (an SDK interceptor), DynamoDB capacity units from item sizes, and
//! Lambda invocations and their durations by function. Divided by the task runs, priced at
//! AWS list prices (us-east-1, on-demand), this gives the cost per million task runs.
//!
//! "S3 put → execution created": uploads to a bucket watched through its event
//! notifications (the trigger-events queue feeding the scheduler, as on AWS), each timed
//! from the start of its `PutObject` to the creation of the execution its S3 trigger
//! starts.
//!
//! Cold starts and package sizes of the built functions are measured separately: each
//! release binary is started under a local Lambda Runtime API and timed from process start
//! to its first `next` request; `bootstrap.zip` sizes are read from `target/lambda`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kite_aws::esm::Invoker;
use kite_aws::metrics::Snapshot;
use kite_aws::resources::Resources;
use kite_engine::services::CreateOptions;
use serde_json::Value;

use crate::commands::aws::{self, AwsLocal, FunctionsConfig, InProcess, Target};

/// List prices, us-east-1, USD.
mod price {
    /// SQS FIFO, per request (64 KB chunk); standard queues are $0.40/M, so this is an upper bound.
    pub const SQS_REQUEST: f64 = 0.50 / 1e6;
    /// DynamoDB on-demand write request unit.
    pub const DDB_WRITE_UNIT: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand read request unit.
    pub const DDB_READ_UNIT: f64 = 0.125 / 1e6;
    /// S3 PUT, COPY, POST, LIST request.
    pub const S3_WRITE: f64 = 0.005 / 1e3;
    /// S3 GET and other requests.
    pub const S3_READ: f64 = 0.0004 / 1e3;
    /// Lambda request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda duration, arm64, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// Step Functions Standard, per state transition (for comparison).
    pub const STEP_FUNCTIONS_TRANSITION: f64 = 25.0 / 1e6;
}

/// Counts invocations and handler time by function, around another invoker.
struct Counting {
    inner: InProcess,
    stats: Mutex<BTreeMap<String, (u64, Duration)>>,
}

#[async_trait::async_trait]
impl Invoker for Counting {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String> {
        let started = Instant::now();
        let out = self.inner.invoke(function, payload).await;
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let e = s.entry(function.to_owned()).or_default();
        e.0 += 1;
        e.1 += started.elapsed();
        out
    }
}

impl Counting {
    fn snapshot(&self) -> BTreeMap<String, (u64, Duration)> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One measured scenario.
struct Scenario {
    name: &'static str,
    yaml: String,
    executions: usize,
}

fn scenarios(fan_out: usize) -> Vec<Scenario> {
    let mut seq_inline = String::from("id: seq40\nnamespace: kite.bench\ntasks:\n");
    let mut seq_worker = String::from("id: seq40w\nnamespace: kite.bench\ntasks:\n");
    for i in 0..40 {
        seq_inline.push_str(&format!(
            "  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ {i} * 2 }}}}\"\n"
        ));
        seq_worker.push_str(&format!(
            "  - id: t{i}\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [\"echo {i}\"]\n"
        ));
    }
    let fan_inline = format!(
        "id: fan\nnamespace: kite.bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{{{ range(1, {fan_out}) }}}}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: item\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
    );
    let fan_worker = "id: fanw\nnamespace: kite.bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ range(1, 20) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: item\n        type: io.kestra.plugin.scripts.shell.Commands\n        commands: [\"echo {{ taskrun.value }}\"]\n".to_owned();
    vec![
        Scenario {
            name: "40-task sequential, executor-side tasks (Return)",
            yaml: seq_inline,
            executions: 5,
        },
        Scenario {
            name: "40-task sequential, worker tasks (shell)",
            yaml: seq_worker,
            executions: 2,
        },
        Scenario {
            name: "fan-out ForEach, executor-side tasks",
            yaml: fan_inline,
            executions: 2,
        },
        Scenario {
            name: "fan-out ForEach of 20 worker tasks",
            yaml: fan_worker,
            executions: 2,
        },
    ]
}

/// Options of the AWS benchmark.
#[derive(Debug, Clone)]
pub struct AwsBenchArgs {
    /// Values of the executor-side fan-out.
    pub foreach: usize,
    /// Folder of release binaries for cold starts (`target/release`).
    pub binaries: std::path::PathBuf,
    /// Folder of `cargo lambda build --output-format zip` results (`target/lambda`).
    pub zips: std::path::PathBuf,
    /// Uploads timed to their execution's creation (0: skipped).
    pub s3_puts: usize,
}

/// Runs the benchmark.
pub fn run(target: Target, args: AwsBenchArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(target, args))
}

async fn run_async(target: Target, args: AwsBenchArgs) -> anyhow::Result<ExitCode> {
    let aws = aws::connect(&target.endpoint, &target.prefix).await?;
    let counting = Arc::new(Counting {
        inner: InProcess::new(aws.platform.clone()),
        stats: Mutex::default(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // No scheduler rule while measuring: its once-a-minute tick is a fixed cost, not a
    // per-task one (reported separately below).
    let config = FunctionsConfig {
        wait: Duration::from_secs(20),
        tick: Duration::from_secs(3600),
        ..Default::default()
    };
    let handles = aws::spawn_functions(&aws, counting.clone(), config, stop_rx);
    let res = Resources::load();
    println!(
        "Kite on AWS adapters, emulator {} (prefix {})",
        target.endpoint, target.prefix
    );
    println!("Prices: AWS list, us-east-1, on-demand; SQS priced as FIFO ($0.50/M) throughout.\n");
    for s in scenarios(args.foreach) {
        measure(&aws, &counting, &res, &s).await?;
    }
    if args.s3_puts > 0 {
        s3_put_to_execution(&aws, &target, args.s3_puts).await?;
    }
    let _ = stop_tx.send(true);
    for h in handles {
        h.abort();
    }
    let minute_tick = 43_200.0 * (price::LAMBDA_REQUEST + 0.05 * 0.25 * price::LAMBDA_GB_SECOND);
    println!(
        "Fixed cost: the scheduler's rule, once a minute: ${minute_tick:.4}/month of Lambda \
         (plus the event source mappings' idle long polls: 5 pollers x 4 queues x 1 request/20 s \
         = ~2.6 M SQS requests = ~${:.2}/month).\n",
        2.592e6 * 0.40 / 1e6
    );
    cold_starts(&args).await;
    Ok(ExitCode::SUCCESS)
}

async fn measure(
    aws: &AwsLocal,
    counting: &Counting,
    res: &Resources,
    s: &Scenario,
) -> anyhow::Result<()> {
    let p = &aws.platform;
    let parsed = kite_flow::parse_flow(&s.yaml);
    let Some(flow) = parsed.flow else {
        bail!("benchmark flow {} is invalid", s.name);
    };
    p.repos.flows.save(&flow, &s.yaml).await?;
    let flow = p.load_flow(&flow.namespace, &flow.id, None).await?;
    // Ends are awaited on the platform's broadcast, not by polling the table: the
    // figures count only what the functions do.
    let mut ended = p.subscribe_ended();
    let before = aws.clients.metrics.snapshot();
    let inv_before = counting.snapshot();
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..s.executions {
        let e = p
            .create_execution(&flow, serde_json::Map::new(), CreateOptions::default())
            .await?;
        ids.push(e.id);
    }
    let mut pending: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while !pending.is_empty() {
        match tokio::time::timeout_at(deadline, ended.recv()).await {
            Ok(Ok((id, state))) => {
                if pending.remove(id.as_str()) && state != kite_engine::model::State::Success {
                    bail!("{}: execution {id} ended {state:?}", s.name);
                }
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                // Notifications were dropped: look the pending ones up.
                for id in pending.clone() {
                    let e = p.execution(id).await?.context("execution vanished")?;
                    if e.state.current.is_terminated() {
                        if e.state.current != kite_engine::model::State::Success {
                            bail!("{}: execution {id} ended {:?}", s.name, e.state.current);
                        }
                        pending.remove(id);
                    }
                }
            }
            Ok(Err(e)) => bail!("{}: {e}", s.name),
            Err(_) => bail!(
                "{}: executions {pending:?} did not end in 10 minutes",
                s.name
            ),
        }
    }
    let wall = started.elapsed();
    // Let the last deletes land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let used: Snapshot = aws.clients.metrics.snapshot().since(&before);
    let inv_after = counting.snapshot();
    let mut task_runs = 0usize;
    for id in &ids {
        let e = p.execution(id).await?.context("execution vanished")?;
        task_runs += e.task_run_list.len();
    }
    let n = task_runs.max(1) as f64;
    let sqs = used.service("SQS") as f64;
    let ddb_requests = used.service("DynamoDB") as f64;
    let (s3_write, s3_read) = used
        .requests
        .iter()
        .filter(|((svc, _), _)| svc.eq_ignore_ascii_case("S3"))
        .fold((0.0, 0.0), |(w, r), ((_, op), count)| {
            let c = *count as f64;
            if op.starts_with("Put")
                || op.starts_with("Copy")
                || op.starts_with("List")
                || op.contains("Multipart")
                || op.starts_with("Delete")
            {
                (w + c, r)
            } else {
                (w, r + c)
            }
        });
    let mut invocations = 0.0;
    let mut gb_seconds = 0.0;
    let mut per_function = Vec::new();
    for (f, (count, time)) in &inv_after {
        let (c0, t0) = inv_before.get(f).copied().unwrap_or_default();
        let count = (count - c0) as f64;
        let secs = (*time - t0).as_secs_f64();
        let mem_gb = res.function(f).map(|d| d.memory_mb).unwrap_or(512) as f64 / 1024.0;
        invocations += count;
        gb_seconds += secs * mem_gb;
        per_function.push(format!("{f} {:.3}", count / n));
    }
    let cost = sqs * price::SQS_REQUEST
        + used.write_units * price::DDB_WRITE_UNIT
        + used.read_units * price::DDB_READ_UNIT
        + s3_write * price::S3_WRITE
        + s3_read * price::S3_READ
        + invocations * price::LAMBDA_REQUEST
        + gb_seconds * price::LAMBDA_GB_SECOND;
    let per_million = cost / n * 1e6;
    println!(
        "== {} ({} executions, {task_runs} task runs, {:.1} s on the emulator)",
        s.name,
        s.executions,
        wall.as_secs_f64()
    );
    println!(
        "   per task run: SQS {:.2} req | DynamoDB {:.2} req, {:.2} RRU, {:.2} WRU | S3 {:.2} write + {:.2} read | Lambda {:.3} invocations ({}), {:.4} GB-s",
        sqs / n,
        ddb_requests / n,
        used.read_units / n,
        used.write_units / n,
        s3_write / n,
        s3_read / n,
        invocations / n,
        per_function.join(", "),
        gb_seconds / n
    );
    let mut ops: Vec<String> = used
        .requests
        .iter()
        .map(|((svc, op), c)| format!("{svc}.{op} {:.2}", *c as f64 / n))
        .collect();
    ops.sort();
    println!("   requests per task run by kind: {}", ops.join(", "));
    println!(
        "   cost per million task runs: ${per_million:.2} (goal <= $2.50; Step Functions Standard ${:.2})\n",
        price::STEP_FUNCTIONS_TRANSITION * 1e6
    );
    Ok(())
}

/// "S3 put → execution created": `puts` uploads, one at a time, to a bucket whose
/// notifications reach the scheduler; each timed until its execution exists.
async fn s3_put_to_execution(aws: &AwsLocal, target: &Target, puts: usize) -> anyhow::Result<()> {
    use kite_flow::plugin::PluginType as _;
    let p = &aws.platform;
    let s3 = &aws.clients.s3;
    let bucket = aws.clients.config.name("bench-in");
    kite_aws::S3Storage::create_bucket(&aws.clients, &bucket).await?;
    kite_aws::infra::watch_buckets(
        &aws.clients,
        &Resources::load(),
        std::slice::from_ref(&bucket),
    )
    .await?;
    // Polled once an hour: the executions come from the notifications.
    let yaml = format!(
        "id: s3put\nnamespace: kite.bench\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ trigger.objects[0].key }}}}\"\ntriggers:\n  - id: files\n    type: {}\n    bucket: {bucket}\n    endpointOverride: {}\n    interval: PT1H\n    action: DELETE\n",
        kite_flow::triggers::aws_s3::S3Trigger::TYPE,
        target.endpoint
    );
    let parsed = kite_flow::parse_flow(&yaml);
    let Some(flow) = parsed.flow else {
        bail!("the S3 benchmark flow is invalid: {:?}", parsed.diagnostics);
    };
    p.deploy_flow(&flow, &yaml).await?;
    let mut times = Vec::with_capacity(puts);
    for i in 0..puts {
        let key = format!("in/{i}.csv");
        let started = Instant::now();
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(
                format!("n\n{i}\n").into_bytes(),
            ))
            .send()
            .await
            .context("PutObject")?;
        let etag = put.e_tag().unwrap_or_default();
        let id = kite_engine::triggers::fire::execution_id(
            &flow,
            "files",
            &kite_aws::triggers::s3::occurrence_key(&bucket, &key, etag),
        );
        let deadline = started + Duration::from_secs(60);
        while p.repos.executions.get(&id).await?.is_none() {
            if Instant::now() > deadline {
                bail!("S3 put {key}: no execution within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "== S3 put -> execution created ({puts} uploads, bucket notifications -> trigger-events -> scheduler)\n   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n",
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn cold_starts(args: &AwsBenchArgs) {
    println!("Cold start (process start -> first Runtime API request) and package size:");
    for f in Resources::load().functions {
        let bin = args.binaries.join(&f.binary);
        let cold = if bin.exists() {
            match kite_aws::cold_start::measure_cold_start(&bin, 5).await {
                Ok(d) => format!(
                    "{:.1} ms (median of 5, {})",
                    d.as_secs_f64() * 1000.0,
                    bin.display()
                ),
                Err(e) => format!("failed: {e}"),
            }
        } else {
            format!(
                "no binary at {} (cargo build --release -p kite-fn-{})",
                bin.display(),
                f.name
            )
        };
        let zip = args.zips.join(&f.binary).join("bootstrap.zip");
        let size = match std::fs::metadata(&zip) {
            Ok(m) => format!("{:.2} MB", m.len() as f64 / 1e6),
            Err(_) => format!(
                "no {} (cargo lambda build --profile lambda --arm64 --output-format zip)",
                zip.display()
            ),
        };
        println!("   {:<10} init {cold}; bootstrap.zip {size}", f.name);
    }
}
