//! `kite`: validate, run and serve Kestra-syntax flows.
//!
//! # Layout
//! - `main.rs`: argument parsing and dispatch only.
//! - `commands/flow_validate.rs`: `kite flow validate PATH...`.
//! - `commands/flow_schema.rs`: `kite flow schema`.
//! - `commands/flow_run.rs`: `kite flow run FILE`.
//! - `commands/platform.rs`: building the in-memory or embedded platform.
//! - `commands/server_local.rs`: `kite server local` (pollers + REST API in one process).
//! - `commands/remote.rs`: `kite execute` and `kite flow deploy`, clients of a server.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kite: a declarative workflow orchestrator for Kestra-syntax flows.
#[derive(Debug, Parser)]
#[command(name = "kite", version, about)]
struct Cli {
    /// Run on AWS adapters against this emulator endpoint (moto, LocalStack) instead of the
    /// embedded store: `kite --aws-endpoint http://127.0.0.1:5000 flow run FILE`.
    #[arg(long, global = true, env = "KITE_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
    /// Prefix of the AWS resource names (one installation).
    #[arg(long, global = true, env = "KITE_PREFIX", default_value = "kite-")]
    prefix: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or remove the AWS resources (queues, table, bucket) of an installation.
    Infra {
        #[command(subcommand)]
        command: InfraCommand,
    },
    /// Orchestration benchmarks on the embedded store (prints a table).
    Bench {
        /// Executions of the two-task flow.
        #[arg(long, default_value_t = 1000)]
        executions: usize,
        /// Values of the ForEach.
        #[arg(long, default_value_t = 1000)]
        foreach: usize,
        /// ForEach sizes timed one by one (time, peak memory), health p99 measured by an
        /// HTTP client during the largest; `--scale 0` skips them.
        #[arg(long, value_delimiter = ',', default_values_t = [1_000usize, 10_000, 100_000])]
        scale: Vec<usize>,
        /// Use SQLite synchronous=NORMAL instead of FULL.
        #[arg(long)]
        normal_sync: bool,
        /// Webhook calls timed (call → execution created, p50/p99); 0 skips them.
        #[arg(long, default_value_t = 1000)]
        webhooks: usize,
        /// Only the scheduler tick with this many Schedule triggers deployed.
        #[arg(long)]
        triggers: Option<usize>,
        /// With --aws-endpoint: folder of the release binaries whose cold start is measured.
        #[arg(long, default_value = "target/release")]
        binaries: PathBuf,
        /// With --aws-endpoint: folder of `cargo lambda build --output-format zip` packages.
        #[arg(long, default_value = "target/lambda")]
        zips: PathBuf,
        /// With --aws-endpoint: uploads timed from PutObject to the creation of the execution
        /// their S3 trigger starts (through the bucket's notifications); 0 skips them.
        #[arg(long, default_value_t = 20)]
        s3_puts: usize,
    },
    /// Work with flow files.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// Run a Kite server.
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// Start an execution on a server (inputs as multipart form parts, files included).
    Execute {
        /// The flow's namespace.
        namespace: String,
        /// The flow id.
        flow: String,
        /// The server's URL.
        #[arg(long, env = "KITE_SERVER")]
        server: String,
        /// An input: NAME=VALUE, or NAME=@path to upload a file.
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
        /// A label key:value.
        #[arg(long = "label", short = 'l')]
        labels: Vec<String>,
        /// Wait for the end (exit 1 unless SUCCESS or WARNING).
        #[arg(long)]
        wait: bool,
        /// Print the execution as JSON.
        #[arg(long)]
        json: bool,
        /// API token. Prefer --token-file or the KITE_TOKEN variable: a --token value shows in
        /// `ps`. Without any, `.kite/api-token` (the default data folder) is read when it exists.
        #[arg(long, env = "KITE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file holding the API token (e.g. `<data>/api-token` of `kite server local`).
        #[arg(long, env = "KITE_TOKEN_FILE")]
        token_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum InfraCommand {
    /// Create the resources (idempotent).
    Up {
        /// An existing bucket whose uploads start S3 triggers within seconds: its
        /// ObjectCreated events go to the trigger-events queue (replacing the bucket's
        /// notification configuration, as Terraform's `watched_buckets`). Repeatable.
        #[arg(long = "watch-bucket")]
        watch_buckets: Vec<String>,
    },
    /// Remove the resources.
    Down,
}

#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Everything in one process on local storage: executor, worker, scheduler and the REST API.
    Local {
        /// Port (0 picks a free one; the printed URL tells which).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Interface to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Data folder (database, internal storage, working directories).
        #[arg(long, default_value = ".kite")]
        data: PathBuf,
        /// A folder of flows to load at start and reload when files change.
        #[arg(long)]
        flows: Option<PathBuf>,
        /// The API token clients must send (`Authorization: Bearer <TOKEN>`). Prefer
        /// --token-file or the KITE_TOKEN variable: a --token value shows in `ps`. Without
        /// any, a random token is created at first start in `<data>/api-token` (mode 0600).
        #[arg(
            long,
            env = "KITE_TOKEN",
            hide_env_values = true,
            conflicts_with = "no_auth"
        )]
        token: Option<String>,
        /// A file holding the API token (instead of `<data>/api-token`).
        #[arg(long, env = "KITE_TOKEN_FILE", conflicts_with = "no_auth")]
        token_file: Option<PathBuf>,
        /// Serve the API without authentication (refused unless --host is a loopback address).
        #[arg(long)]
        no_auth: bool,
        /// A name the `Host` header may carry besides localhost, 127.0.0.1 and [::1]
        /// (`name`, `name:port` or `*.suffix`; repeatable, or comma-separated in the variable).
        #[arg(long = "public-host", env = "KITE_PUBLIC_HOSTS", value_delimiter = ',')]
        public_hosts: Vec<String>,
        /// An origin (`https://ui.example.com`) allowed to call the API from a browser besides
        /// the server's own (repeatable, or comma-separated in the variable).
        #[arg(
            long = "allow-origin",
            env = "KITE_ALLOWED_ORIGINS",
            value_delimiter = ','
        )]
        allowed_origins: Vec<String>,
        /// Seconds a message being handled stays leased; after a crash, unfinished work
        /// is redelivered this long after it was taken.
        #[arg(long, default_value_t = 60)]
        lease: u64,
        /// Ceiling of task runs per execution (an execution that would pass it fails).
        #[arg(long, env = "KITE_MAX_TASK_RUNS", default_value_t = kite_engine::executor::limits::DEFAULT_MAX_TASK_RUNS, value_parser = positive)]
        max_task_runs: usize,
        /// Ceiling of values per loop (ForEach values, ForEachItem batches).
        #[arg(long, env = "KITE_MAX_LOOP_VALUES", default_value_t = kite_engine::executor::limits::DEFAULT_MAX_LOOP_VALUES, value_parser = positive)]
        max_loop_values: usize,
        /// Ceiling of an execution record's size, in bytes of JSON.
        #[arg(long, env = "KITE_MAX_RECORD_BYTES", default_value_t = kite_engine::executor::limits::DEFAULT_MAX_RECORD_BYTES, value_parser = positive)]
        max_record_bytes: usize,
    },
}

/// A positive integer (`_` separators allowed).
fn positive(raw: &str) -> Result<usize, String> {
    kite_engine::executor::limits::parse_positive(raw)
}

#[derive(Debug, Subcommand)]
enum FlowCommand {
    /// Check flow files (or folders of them) and report every problem as file:line:col.
    Validate {
        /// Files or folders (folders are searched for *.yaml and *.yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the flow language (for editors).
    Schema,
    /// Run one execution of a flow in this process (in-memory backends) until it ends.
    Run {
        /// The flow file.
        file: PathBuf,
        /// A folder of other flows (subflows, flow triggers).
        #[arg(long)]
        flows: Option<PathBuf>,
        /// An input: NAME=VALUE, or NAME=@path to read a file.
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
        /// Print the final execution as JSON (Kestra's shape).
        #[arg(long)]
        json: bool,
    },
    /// Create or update flows (files or folders, one flow per YAML document) on a server.
    Deploy {
        /// Files or folders (folders are searched for *.yaml and *.yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The server's URL.
        #[arg(long, env = "KITE_SERVER")]
        server: String,
        /// API token. Prefer --token-file or the KITE_TOKEN variable: a --token value shows in
        /// `ps`. Without any, `.kite/api-token` (the default data folder) is read when it exists.
        #[arg(long, env = "KITE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file holding the API token (e.g. `<data>/api-token` of `kite server local`).
        #[arg(long, env = "KITE_TOKEN_FILE")]
        token_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KITE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let aws = cli
        .aws_endpoint
        .clone()
        .map(|endpoint| commands::aws::Target {
            endpoint,
            prefix: cli.prefix.clone(),
        });
    let result = match cli.command {
        Command::Infra { command } => match command {
            InfraCommand::Up { watch_buckets } => {
                commands::infra::run(cli.aws_endpoint, cli.prefix, true, watch_buckets)
            }
            InfraCommand::Down => {
                commands::infra::run(cli.aws_endpoint, cli.prefix, false, Vec::new())
            }
        },
        Command::Bench {
            executions,
            foreach,
            scale,
            normal_sync,
            webhooks,
            triggers,
            binaries,
            zips,
            s3_puts,
        } => match (aws.clone(), triggers) {
            (None, Some(n)) => commands::bench_triggers::run(n),
            (Some(target), _) => commands::bench_aws::run(
                target,
                commands::bench_aws::AwsBenchArgs {
                    foreach: foreach.min(200),
                    binaries,
                    zips,
                    s3_puts,
                },
            ),
            (None, None) => commands::bench::run(commands::bench::BenchArgs {
                executions,
                foreach,
                scale,
                normal_sync,
                webhooks,
            }),
        },
        Command::Flow { command } => match command {
            FlowCommand::Validate { paths, json } => commands::flow_validate::run(&paths, json),
            FlowCommand::Schema => commands::flow_schema::run(),
            FlowCommand::Run {
                file,
                flows,
                inputs,
                json,
            } => commands::flow_run::run(commands::flow_run::RunArgs {
                file,
                flows,
                inputs,
                json,
                aws,
            }),
            FlowCommand::Deploy {
                paths,
                server,
                token,
                token_file,
            } => match commands::remote::Server::new(server, token, token_file) {
                Ok(server) => {
                    commands::remote::deploy(commands::remote::DeployArgs { server, paths })
                }
                Err(e) => Err(e),
            },
        },
        Command::Server { command } => match command {
            ServerCommand::Local {
                port,
                host,
                data,
                flows,
                token,
                token_file,
                no_auth,
                public_hosts,
                allowed_origins,
                lease,
                max_task_runs,
                max_loop_values,
                max_record_bytes,
            } => commands::server_local::run(commands::server_local::ServerArgs {
                host,
                port,
                data,
                flows,
                token,
                token_file,
                no_auth,
                public_hosts,
                allowed_origins,
                lease,
                aws,
                limits: kite_engine::executor::limits::Limits {
                    max_task_runs,
                    max_loop_values,
                    max_record_bytes,
                },
            }),
        },
        Command::Execute {
            namespace,
            flow,
            server,
            inputs,
            labels,
            wait,
            json,
            token,
            token_file,
        } => match commands::remote::Server::new(server, token, token_file) {
            Ok(server) => commands::remote::execute(commands::remote::ExecuteArgs {
                server,
                namespace,
                flow,
                inputs,
                labels,
                wait,
                json,
            }),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
