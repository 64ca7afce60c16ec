//! `kite`: validate, run and serve Kestra-syntax flows.
//!
//! # Layout
//! - `main.rs`: argument parsing and dispatch only.
//! - `commands/flow_validate.rs`: `kite flow validate PATH...`.
//! - `commands/flow_schema.rs`: `kite flow schema`.
//! - `commands/flow_run.rs`: `kite flow run FILE`.
//! - `commands/platform.rs`: building the in-memory or embedded platform.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kite: a declarative workflow orchestrator for Kestra-syntax flows.
#[derive(Debug, Parser)]
#[command(name = "kite", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with flow files.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KITE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let result = match cli.command {
        Command::Flow { command } => match command {
            FlowCommand::Validate { paths, json } => commands::flow_validate::run(&paths, json),
            FlowCommand::Schema => commands::flow_schema::run(),
            FlowCommand::Run { file, flows, inputs, json } => {
                commands::flow_run::run(commands::flow_run::RunArgs { file, flows, inputs, json })
            }
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
