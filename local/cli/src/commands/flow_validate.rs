//! `kite flow validate PATH...`: every problem as `file:line:col: message`, then a summary.
//! Exit 0 when every flow is valid, 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kite_flow::{Diagnostic, Severity};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    flows: Vec<FlowReport>,
}

#[derive(Debug, Serialize)]
struct FlowReport {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    diagnostics: Vec<Diagnostic>,
}

/// Collects the flow files under `paths` (files as given, folders recursively, sorted).
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).with_context(|| format!("cannot read folder {}", p.display()))?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs the command.
pub fn run(paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let files = collect_files(paths)?;
    let mut reports = Vec::new();
    let (mut valid, mut invalid) = (0usize, 0usize);
    for file in &files {
        let name = file.display().to_string();
        let flows = match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => kite_flow::parse_flows(&text)
                    .into_iter()
                    .map(|p| FlowReport {
                        valid: p.is_valid(),
                        namespace: p.flow.as_ref().map(|f| f.namespace.clone()),
                        id: p.flow.as_ref().map(|f| f.id.clone()),
                        diagnostics: p.diagnostics,
                    })
                    .collect(),
                Err(_) => vec![unreadable("the file is not UTF-8 text")],
            },
            Err(e) => vec![unreadable(&format!("cannot read the file: {e}"))],
        };
        for f in &flows {
            if f.valid {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        reports.push(FileReport { file: name, flows });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            print_text(r);
        }
        let total = valid + invalid;
        println!(
            "{total} flow{} checked: {valid} valid, {invalid} invalid",
            if total == 1 { "" } else { "s" }
        );
    }
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn unreadable(message: &str) -> FlowReport {
    FlowReport {
        valid: false,
        namespace: None,
        id: None,
        diagnostics: vec![Diagnostic::error(
            kite_flow::Location::new(1, 1),
            "",
            message,
        )],
    }
}

fn print_text(r: &FileReport) {
    for f in &r.flows {
        if f.valid {
            println!(
                "✓ - {} / {}",
                f.namespace.as_deref().unwrap_or(""),
                f.id.as_deref().unwrap_or("")
            );
        } else {
            println!("✘ - {} (Unable to parse flow)", r.file);
        }
        for d in &f.diagnostics {
            let mark = match d.severity {
                Severity::Error => "",
                Severity::Warning => "⚠ ",
                Severity::Info => "ℹ ",
            };
            println!("{mark}{}", d.render(&r.file));
        }
    }
}
