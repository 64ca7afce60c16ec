//! `kite`: validate, run and serve Kestra-syntax flows.
//!
//! # Layout
//! - `main.rs`: argument parsing and dispatch only.
//! - `commands/flow_validate.rs`: `kite flow validate PATH...`.
//! - `commands/flow_schema.rs`: `kite flow schema`.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flow { command } => match command {
            FlowCommand::Validate { paths, json } => commands::flow_validate::run(&paths, json),
            FlowCommand::Schema => commands::flow_schema::run(),
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
