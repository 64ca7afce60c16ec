//! The `Process` task runner shared by the script tasks (`scripts.shell.*`, `scripts.python.*`):
//! runs commands as a local sub-process in the attempt's working directory.
//!
//! - `inputFiles` are written first (inline content, or copied from a `kestra://` URI);
//!   `kestra://` URIs appearing in the rendered commands/script are downloaded into the
//!   working directory and replaced by the local path (Kestra's `replaceInternalStorage`).
//! - `beforeCommands` then the commands (or the script, written to a file and run by the
//!   language's interpreter) form one script run by the `interpreter` (default `/bin/sh -c`,
//!   with `set -e` so the first failing command fails the task, like Kestra's `exitOnFailed`).
//! - The process gets its own process group. When the attempt is dropped (timeout, kill), the
//!   child is killed (`kill_on_drop`) and so is every process of its group (`kill -KILL -<pgid>`
//!   is spawned: there is no safe std API for `killpg`). While it runs, the group is registered
//!   with the worker's [`watchdog`](crate::worker::watchdog), which kills it if the worker
//!   process itself dies.
//! - stdout lines are INFO logs, stderr lines WARN logs (Kestra's `DefaultLogConsumer`), as they
//!   come, read with bounded memory: a line holds at most [`MAX_OUTPUT_LINE_BYTES`], a logged
//!   line is cut to 64 KiB with a marker, and the attempt keeps at most 10,000 lines or 10 MiB
//!   of logs (the rest is counted in one final marker line; `stdOutLineCount` counts all). Lines `::{"outputs":{...},"metrics":[...],"logs":[...]}::` are not logged: their
//!   `outputs` become `vars`, their `logs` are logged at their level, metrics are ignored.
//! - Rendering sees `workingDir` and `outputDir`; files written to `outputDir` are uploaded.
//! - Outputs: `exitCode`, `vars`, `outputFiles` (path → URI), `stdOutLineCount`, `stdErrLineCount`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use indexmap::IndexMap;
use kite_flow::plugin::LogLevel;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::files;
use crate::model::State;
use crate::model::log::{MAX_LOG_MESSAGE_BYTES, floor_char_boundary, marker, thousands, truncated};
use crate::worker::{Output, RunContext, TaskError};

/// How long to keep reading stdout/stderr after the process exited (background processes
/// may hold the pipes open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Most bytes of one stdout/stderr line held in memory: an `::{"outputs":...}::` line may be
/// this long; a longer line is logged cut (its rest is read and dropped).
pub const MAX_OUTPUT_LINE_BYTES: usize = 1024 * 1024;

/// Read buffer of each pipe.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// What to run.
#[derive(Debug)]
pub(crate) enum Main<'a> {
    /// Shell commands.
    Commands(&'a [String]),
    /// A script: its source, the program running it, the file extension.
    Script {
        /// Source.
        source: &'a str,
        /// Program (`/bin/sh`, `python3`).
        program: &'a str,
        /// Extension (`.sh`, `.py`).
        extension: &'a str,
    },
}

/// The properties of a script task, language-independent.
#[derive(Debug)]
pub(crate) struct ProcessSpec<'a> {
    /// Whether the task needs `python3`.
    pub python: bool,
    /// Environment variables.
    pub env: &'a IndexMap<String, String>,
    /// `inputFiles`.
    pub input_files: Option<&'a Value>,
    /// `outputFiles` globs.
    pub output_files: &'a [String],
    /// `beforeCommands`.
    pub before_commands: &'a [String],
    /// `interpreter` (default `/bin/sh -c`).
    pub interpreter: Option<&'a Vec<String>>,
    /// `warningOnStdErr`.
    pub warning_on_std_err: bool,
    /// The main part.
    pub main: Main<'a>,
}

/// Kills the process group of the child when dropped while still armed; keeps the group
/// registered with the watchdog until then.
struct GroupKill {
    pgid: Option<u32>,
    registered: Option<u32>,
}

impl GroupKill {
    fn new(pgid: Option<u32>) -> Self {
        let registered = pgid.filter(|_| crate::worker::watchdog::global().is_some());
        if let (Some(w), Some(pgid)) = (crate::worker::watchdog::global(), registered) {
            w.register(pgid);
        }
        Self { pgid, registered }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            kill_group(pgid);
        }
        if let (Some(w), Some(pgid)) = (crate::worker::watchdog::global(), self.registered) {
            w.unregister(pgid);
        }
    }
}

fn kill_group(pgid: u32) {
    if pgid <= 1 {
        return;
    }
    let target = format!("-{pgid}");
    let status = std::process::Command::new("kill")
        .args(["-s", "KILL", "--", &target])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if status.is_err() {
        // No `kill` binary: the shell builtin.
        let _ = std::process::Command::new("/bin/sh")
            .args(["-c", &format!("kill -KILL {target}")])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Removes temporary files and folders when dropped.
struct Cleanup {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// What the output reader gathered.
#[derive(Debug, Default)]
struct Collected {
    vars: Map<String, Value>,
    stdout_lines: u64,
    stderr_lines: u64,
    last_stderr: Option<String>,
}

/// Runs the process task.
pub(crate) async fn run(ctx: &RunContext, spec: ProcessSpec<'_>) -> Result<Output, TaskError> {
    let workdir = ctx.workdir.clone();
    tokio::fs::create_dir_all(&workdir).await?;
    let workdir = tokio::fs::canonicalize(&workdir).await.unwrap_or(workdir);
    let output_dir = output_dir_of(ctx, &workdir);
    tokio::fs::create_dir_all(&output_dir).await?;
    let mut cleanup = Cleanup {
        files: Vec::new(),
        dirs: vec![output_dir.clone()],
    };

    let mut extra = Map::new();
    extra.insert(
        "workingDir".into(),
        Value::String(workdir.to_string_lossy().into_owned()),
    );
    extra.insert(
        "outputDir".into(),
        Value::String(output_dir.to_string_lossy().into_owned()),
    );

    let mut env = Vec::with_capacity(spec.env.len());
    for (k, v) in spec.env {
        env.push((ctx.render_with(k, &extra)?, ctx.render_with(v, &extra)?));
    }

    if spec.python {
        let path = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        if find_in_path("python3", &path).is_none() {
            return Err(TaskError::new(
                "python3 was not found on the worker's PATH: Python script tasks run `python3` as a local \
                 process (containers are not supported); install Python 3 on the worker",
            ));
        }
    }

    let inputs = files::render_input_files(ctx, spec.input_files, &extra)?;
    files::write_input_files(ctx, &workdir, &inputs).await?;

    let mut lines = Vec::new();
    for c in spec.before_commands {
        lines.push(ctx.render_with(c, &extra)?);
    }
    match &spec.main {
        Main::Commands(commands) => {
            for c in *commands {
                lines.push(ctx.render_with(c, &extra)?);
            }
        }
        Main::Script {
            source,
            program,
            extension,
        } => {
            let rendered = ctx.render_with(source, &extra)?;
            let rendered =
                replace_internal_storage(ctx, &rendered, &workdir, &mut cleanup.files).await?;
            let file = workdir.join(format!(
                ".kite-script-{}{extension}",
                short_id(&ctx.job.task_run_id)
            ));
            tokio::fs::write(&file, rendered.as_bytes()).await?;
            cleanup.files.push(file.clone());
            lines.push(format!(
                "{program} {}",
                shell_quote(&file.to_string_lossy())
            ));
        }
    }
    let mut body = lines.join("\n");
    body = replace_internal_storage(ctx, &body, &workdir, &mut cleanup.files).await?;

    let interpreter: Vec<String> = match spec.interpreter {
        Some(i) if !i.is_empty() => i
            .iter()
            .map(|s| ctx.render_with(s, &extra))
            .collect::<Result<_, _>>()?,
        _ => vec!["/bin/sh".into(), "-c".into()],
    };
    if is_posix_shell(&interpreter[0]) {
        body = format!("set -e\n{body}");
    }

    let mut cmd = tokio::process::Command::new(&interpreter[0]);
    cmd.args(&interpreter[1..])
        .arg(&body)
        .current_dir(&workdir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            TaskError::new(format!(
                "the interpreter `{}` was not found on the worker",
                interpreter[0]
            ))
        } else {
            TaskError::new(format!("cannot start `{}`: {e}", interpreter[0]))
        }
    })?;
    let mut group = GroupKill::new(child.id());
    if let Some(pid) = group.pgid {
        ctx.log(
            LogLevel::Debug,
            format!("Started process {pid} in {}", workdir.display()),
        );
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| TaskError::new("no stdout pipe"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| TaskError::new("no stderr pipe"))?;

    let collected = Mutex::new(Collected::default());
    let status = {
        let mut readers = std::pin::pin!(async {
            tokio::join!(
                read_lines(ctx, stdout, false, &collected),
                read_lines(ctx, stderr, true, &collected)
            )
        });
        let mut readers_done = false;
        let status = loop {
            tokio::select! {
                s = child.wait() => break s?,
                _ = &mut readers, if !readers_done => readers_done = true,
            }
        };
        if !readers_done
            && tokio::time::timeout(DRAIN_GRACE, &mut readers)
                .await
                .is_err()
        {
            ctx.log(
                LogLevel::Warn,
                "the process exited but its output stayed open (a background process?): stopped reading it",
            );
        }
        status
    };
    // Finished on its own: processes it left in the background are not killed.
    group.pgid = None;
    drop(group);
    let collected = collected.into_inner().unwrap_or_default();

    let exit_code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        status.signal().map(|s| 128 + s).unwrap_or(-1)
    });
    // Temporary files must not be picked up as outputs.
    for f in std::mem::take(&mut cleanup.files) {
        let _ = tokio::fs::remove_file(&f).await;
    }
    if !status.success() {
        let mut msg = format!("Command failed with exit code {exit_code}");
        if status.code().is_none() {
            msg.push_str(" (killed by a signal)");
        }
        if let Some(last) = &collected.last_stderr {
            msg.push_str(&format!(", last stderr line: {last}"));
        }
        return Err(TaskError::new(msg));
    }

    let globs = spec
        .output_files
        .iter()
        .map(|g| ctx.render_with(g, &extra))
        .collect::<Result<Vec<_>, _>>()?;
    let mut output_files = files::upload_matching(ctx, &workdir, &globs).await?;
    let from_output_dir = files::upload_all(ctx, &output_dir).await?;
    let produced_in_output_dir = !from_output_dir.is_empty();
    output_files.extend(from_output_dir);

    let mut out = Map::new();
    out.insert("exitCode".into(), Value::from(exit_code));
    out.insert("vars".into(), Value::Object(collected.vars));
    if !spec.output_files.is_empty() || produced_in_output_dir {
        out.insert("outputFiles".into(), Value::Object(output_files));
    }
    out.insert(
        "stdOutLineCount".into(),
        Value::from(collected.stdout_lines),
    );
    out.insert(
        "stdErrLineCount".into(),
        Value::from(collected.stderr_lines),
    );
    let state = if spec.warning_on_std_err && collected.stderr_lines > 0 {
        State::Warning
    } else {
        State::Success
    };
    Ok(Output {
        state: Some(state),
        outputs: out,
    })
}

/// The folder behind `{{ outputDir }}`: beside the working directory (so `outputFiles` globs
/// of the working directory never see it), removed after the attempt.
fn output_dir_of(ctx: &RunContext, workdir: &Path) -> PathBuf {
    let name = format!(
        ".{}-{}.outputs",
        short_id(&ctx.job.task_run_id),
        ctx.job.attempt
    );
    match workdir.parent() {
        Some(p) => p.join(name),
        None => workdir.join(name),
    }
}

fn short_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect()
}

async fn read_lines(
    ctx: &RunContext,
    pipe: impl AsyncRead + Unpin,
    is_stderr: bool,
    collected: &Mutex<Collected>,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, pipe);
    // The line's first bytes (at most MAX_OUTPUT_LINE_BYTES), and its full length.
    let mut buf: Vec<u8> = Vec::new();
    let mut length = 0usize;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            if length > 0 {
                emit_line(ctx, &mut buf, length, is_stderr, collected);
            }
            return Ok(());
        }
        let newline = chunk.iter().position(|b| *b == b'\n');
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        let room = MAX_OUTPUT_LINE_BYTES.saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        length += part.len();
        let used = part.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            emit_line(ctx, &mut buf, length, is_stderr, collected);
            buf.clear();
            length = 0;
        }
    }
}

/// Handles one line read whole (`buf.len() == length`) or cut (its first bytes).
fn emit_line(
    ctx: &RunContext,
    buf: &mut Vec<u8>,
    mut length: usize,
    is_stderr: bool,
    collected: &Mutex<Collected>,
) {
    while matches!(buf.last(), Some(b'\r')) {
        buf.pop();
        length -= 1;
    }
    let line = String::from_utf8_lossy(buf);
    if length <= buf.len() {
        handle_line(ctx, &line, is_stderr, collected);
        return;
    }
    // Cut: never an outputs line, logged with a marker giving its real length.
    if line.starts_with("::{") {
        ctx.log(
            LogLevel::Warn,
            format!(
                "an outputs line `::{{...}}::` of {} bytes is over the {}-byte limit of one output line: ignored",
                thousands(length as u64),
                thousands(MAX_OUTPUT_LINE_BYTES as u64)
            ),
        );
        return;
    }
    count_line(is_stderr, &line, collected);
    let kept = floor_char_boundary(&line, MAX_LOG_MESSAGE_BYTES);
    ctx.log(
        level_of(is_stderr),
        format!("{}{}", &line[..kept], marker(length, kept)),
    );
}

fn level_of(is_stderr: bool) -> LogLevel {
    if is_stderr {
        LogLevel::Warn
    } else {
        LogLevel::Info
    }
}

fn count_line(is_stderr: bool, line: &str, collected: &Mutex<Collected>) {
    if let Ok(mut c) = collected.lock() {
        if is_stderr {
            c.stderr_lines += 1;
            c.last_stderr = Some(truncated(line, MAX_LOG_MESSAGE_BYTES));
        } else {
            c.stdout_lines += 1;
        }
    }
}

fn handle_line(ctx: &RunContext, line: &str, is_stderr: bool, collected: &Mutex<Collected>) {
    if let Some(json) = line.strip_prefix("::").and_then(|l| l.strip_suffix("::"))
        && json.starts_with('{')
        && json.ends_with('}')
    {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(cmd)) => {
                if let Some(Value::Object(outputs)) = cmd.get("outputs")
                    && let Ok(mut c) = collected.lock()
                {
                    c.vars
                        .extend(outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                if let Some(Value::Array(logs)) = cmd.get("logs") {
                    for l in logs {
                        let level = l
                            .get("level")
                            .and_then(Value::as_str)
                            .and_then(|s| {
                                serde_json::from_value::<LogLevel>(Value::String(
                                    s.to_ascii_uppercase(),
                                ))
                                .ok()
                            })
                            .unwrap_or(LogLevel::Info);
                        let message = match l.get("message") {
                            Some(Value::String(s)) => s.clone(),
                            Some(other) => other.to_string(),
                            None => String::new(),
                        };
                        ctx.log(level, message);
                    }
                }
                return;
            }
            Ok(_) => {}
            Err(e) => {
                ctx.log(LogLevel::Warn, format!("Invalid outputs '{e}'"));
                return;
            }
        }
    }
    count_line(is_stderr, line, collected);
    ctx.log(level_of(is_stderr), line.to_owned());
}

/// Replaces every `kestra://...` URI in `text` with the path of a local copy in `workdir`.
async fn replace_internal_storage(
    ctx: &RunContext,
    text: &str,
    workdir: &Path,
    temp_files: &mut Vec<PathBuf>,
) -> Result<String, TaskError> {
    const PREFIX: &str = "kestra://";
    if !text.contains(PREFIX) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(PREFIX) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let end = tail[PREFIX.len()..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-%._+~#=/".contains(c)))
            .map_or(tail.len(), |e| e + PREFIX.len());
        let uri = &tail[..end];
        let key = ctx.input_key(uri)?;
        let local = workdir.join(format!(
            ".kite-input-{}",
            files::unique_file_name(key.as_str())
        ));
        if !temp_files.contains(&local) {
            ctx.storage.get_to_file(&key, &local).await?;
            temp_files.push(local.clone());
        }
        out.push_str(&local.to_string_lossy());
        rest = &tail[end..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_posix_shell(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    matches!(
        base,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "mksh"
    )
}

/// Single-quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The first executable `name` in the `:`-separated `path`.
pub(crate) fn find_in_path(name: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_shells() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
        assert!(is_posix_shell("/bin/sh"));
        assert!(is_posix_shell("bash"));
        assert!(!is_posix_shell("python3"));
        assert!(find_in_path("sh", "/nonexistent:/bin:/usr/bin").is_some());
        assert!(find_in_path("definitely-not-a-program-kite", "/bin:/usr/bin").is_none());
    }
}
