//! `kite flow run FILE [--flows DIR] [--input NAME=VALUE | NAME=@path]... [--json]`: one
//! execution in this process, on in-memory backends, with the same executor, worker and
//! scheduler handlers the server runs. Exit 0 for SUCCESS/WARNING, 1 for other end
//! states, 2 for an invalid flow or invalid inputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kite_engine::model::{Execution, State, TaskRun, ids};
use kite_engine::services::{CreateOptions, Platform, ServiceError, poller};
use serde_json::{Map, Value};

use crate::commands::platform;

/// Options of `kite flow run`.
#[derive(Debug)]
pub struct RunArgs {
    /// The flow file.
    pub file: PathBuf,
    /// Folder of other flows (subflows, flow triggers).
    pub flows: Option<PathBuf>,
    /// `NAME=VALUE` or `NAME=@path`.
    pub inputs: Vec<String>,
    /// Print the execution as JSON.
    pub json: bool,
    /// Run on the AWS adapters against an emulator.
    pub aws: Option<crate::commands::aws::Target>,
}

/// Runs the command.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> anyhow::Result<ExitCode> {
    let source = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let file = args.file.display().to_string();
    let parsed = kite_flow::parse_flow(&source);
    let Some(flow) = parsed.flow.clone() else {
        for d in &parsed.diagnostics {
            eprintln!("{}", d.render(&file));
        }
        eprintln!("{file}: the flow is invalid; fix the errors above (kite flow validate {file})");
        return Ok(ExitCode::from(2));
    };
    let aws = match &args.aws {
        Some(t) => Some(crate::commands::aws::connect(&t.endpoint, &t.prefix).await?),
        None => None,
    };
    let platform = match &aws {
        Some(a) => a.platform.clone(),
        None => Arc::new(platform::in_memory().await?),
    };
    if let Some(dir) = &args.flows {
        load_flows(&platform, dir).await?;
    }
    platform.deploy_flow(&flow, &source).await?;
    let flow = platform.load_flow(&flow.namespace, &flow.id, None).await?;
    if let Some(message) = kite_engine::crypto::missing_key_message(&flow, platform.rt.encryption())
    {
        eprintln!("{file}: {message}");
        return Ok(ExitCode::from(2));
    }

    let execution_id = ids::random_id();
    let inputs = match parse_inputs(&platform, &flow, &execution_id, &args.inputs).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handles = match &aws {
        Some(a) => crate::commands::aws::spawn_functions(
            a,
            Arc::new(crate::commands::aws::InProcess::new(a.platform.clone())),
            crate::commands::aws::FunctionsConfig::default(),
            stop_rx,
        ),
        None => poller::spawn_all(
            platform.clone(),
            poller::PollerConfig {
                wait: Duration::from_millis(200),
                ..Default::default()
            },
            stop_rx,
        ),
    };
    let mut ended = platform.subscribe_ended();
    let created = platform
        .create_execution(
            &flow,
            inputs,
            CreateOptions {
                id: Some(execution_id.clone()),
                ..Default::default()
            },
        )
        .await;
    let execution = match created {
        Ok(e) => e,
        Err(ServiceError::Inputs(errs)) => {
            for e in &errs {
                eprintln!("error: {e}");
            }
            let _ = stop_tx.send(true);
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            let _ = stop_tx.send(true);
            bail!(e);
        }
    };
    let mut printer = Progress::default();
    let final_exec = loop {
        let tick = tokio::time::sleep(Duration::from_millis(100));
        tokio::select! {
            msg = ended.recv() => {
                if let Ok((id, _)) = msg && id == execution.id {
                    break platform.execution(&execution.id).await?;
                }
            }
            _ = tick => {
                let current = platform.execution(&execution.id).await?;
                if let Some(e) = &current {
                    if !args.json {
                        printer.update(e);
                    }
                    // With `afterExecution` tasks, the end is announced (`ended`) once
                    // they ran: the final state shows before.
                    let done = e.state.current.is_terminated() && flow.after_execution.is_empty();
                    if done || waits_for_a_human(&flow, e) {
                        break current;
                    }
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
    let Some(exec) = final_exec else {
        bail!("execution {} disappeared", execution.id)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&exec)?);
    } else {
        printer.update(&exec);
        print_tree(&exec);
        let logs = platform
            .repos
            .logs
            .of_execution(&exec.id)
            .await
            .unwrap_or_default();
        let errors: Vec<_> = logs
            .iter()
            .filter(|l| l.level == kite_flow::plugin::LogLevel::Error)
            .collect();
        for l in errors.iter().take(20) {
            println!(
                "  ERROR {}: {}",
                l.task_id.as_deref().unwrap_or("-"),
                l.message
            );
        }
    }
    Ok(match exec.state.current {
        State::Success | State::Warning => ExitCode::SUCCESS,
        State::Paused => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Whether the execution is paused with only manual pauses (nothing will resume it).
fn waits_for_a_human(flow: &kite_flow::Flow, e: &Execution) -> bool {
    if e.state.current != State::Paused {
        return false;
    }
    e.task_run_list
        .iter()
        .filter(|r| r.state.current == State::Paused)
        .all(|r| {
            flow.find_task(&r.task_id)
                .and_then(|t| t.spec::<kite_flow::tasks::pause::Pause>().map(|p| (t, p)))
                .is_some_and(|(t, p)| p.delay.is_none() && t.common.timeout.is_none())
        })
}

async fn load_flows(platform: &Platform, dir: &Path) -> anyhow::Result<()> {
    let files = crate::commands::flow_validate::collect_files(&[dir.to_path_buf()])?;
    for f in files {
        let Ok(source) = std::fs::read_to_string(&f) else {
            continue;
        };
        for parsed in kite_flow::parse_flows(&source) {
            match parsed.flow {
                Some(flow) => {
                    platform.deploy_flow(&flow, &source).await?;
                }
                None => {
                    for d in parsed.errors() {
                        eprintln!(
                            "warning: skipped {}: {}",
                            f.display(),
                            d.render(&f.display().to_string())
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

async fn parse_inputs(
    platform: &Platform,
    flow: &kite_flow::Flow,
    execution_id: &str,
    raw: &[String],
) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            bail!("--input {item}: expected NAME=VALUE or NAME=@path");
        };
        let value = if let Some(path) = value.strip_prefix('@') {
            let path = Path::new(path);
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("upload.upl");
            let declared_file = flow
                .inputs
                .iter()
                .any(|i| i.key() == name && i.kind == kite_flow::model::input::InputType::File);
            if declared_file {
                let key =
                    kite_ports::StorageKey::for_execution(&flow.namespace, &flow.id, execution_id)
                        .and_then(|k| k.join("inputs"))
                        .and_then(|k| k.join(name))
                        .and_then(|k| k.join(file_name))
                        .with_context(|| format!("--input {name}: invalid input or file name"))?;
                platform
                    .storage
                    .put_file(&key, path)
                    .await
                    .with_context(|| format!("--input {name}: cannot read {}", path.display()))?;
                Value::String(key.to_uri())
            } else {
                Value::String(
                    std::fs::read_to_string(path).with_context(|| {
                        format!("--input {name}: cannot read {}", path.display())
                    })?,
                )
            }
        } else {
            Value::String(value.to_owned())
        };
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}

/// Prints task-run state changes as they happen.
#[derive(Debug, Default)]
struct Progress {
    seen: BTreeMap<String, usize>,
}

impl Progress {
    fn update(&mut self, e: &Execution) {
        for r in &e.task_run_list {
            let n = r.state.histories.len();
            let before = self.seen.insert(r.id.clone(), n).unwrap_or(0);
            for h in r.state.histories.iter().skip(before) {
                let value = r
                    .value
                    .as_deref()
                    .map(|v| format!(" [{v}]"))
                    .unwrap_or_default();
                println!(
                    "{} {:<10} {}{}",
                    h.date.format("%H:%M:%S%.3f"),
                    h.state.name(),
                    r.task_id,
                    value
                );
            }
        }
    }
}

fn print_tree(e: &Execution) {
    println!();
    println!(
        "{} {}.{} {} ({})",
        e.id,
        e.namespace,
        e.flow_id,
        e.state.current,
        e.state.duration.as_deref().unwrap_or("-")
    );
    let mut by_parent: BTreeMap<Option<&str>, Vec<&TaskRun>> = BTreeMap::new();
    for r in &e.task_run_list {
        by_parent
            .entry(r.parent_task_run_id.as_deref())
            .or_default()
            .push(r);
    }
    fn walk(parent: Option<&str>, depth: usize, by_parent: &BTreeMap<Option<&str>, Vec<&TaskRun>>) {
        for r in by_parent.get(&parent).map(Vec::as_slice).unwrap_or(&[]) {
            let value = r
                .value
                .as_deref()
                .map(|v| format!(" [{v}]"))
                .unwrap_or_default();
            let attempts = if r.attempts.len() > 1 {
                format!(", {} attempts", r.attempts.len())
            } else {
                String::new()
            };
            let outputs = if r.outputs.is_empty() {
                String::new()
            } else {
                format!(" {}", Value::Object(r.outputs.clone()))
            };
            let outputs: String = outputs.chars().take(160).collect();
            println!(
                "{}{} {}{} ({}{}){}",
                "  ".repeat(depth + 1),
                r.task_id,
                r.state.current,
                value,
                r.state.duration.as_deref().unwrap_or("-"),
                attempts,
                outputs
            );
            walk(Some(&r.id), depth + 1, by_parent);
        }
    }
    walk(None, 0, &by_parent);
    if !e.outputs.is_empty() {
        println!("outputs: {}", Value::Object(e.outputs.clone()));
    }
}
