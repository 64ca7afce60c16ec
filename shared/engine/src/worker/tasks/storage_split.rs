//! `storage.Split`: splits a file of internal storage into several files (output `uris`, in
//! order). Rows are delimited by `separator` (rendered, default `\n`) and each row is written
//! back followed by the separator. Exactly one of (checked in this order, like Kestra):
//! - `bytes` (`10MB`, `512KB`, `1024`; 1024-based units): a new file starts once the current
//!   one holds at least that many bytes (so a file may exceed it by one row);
//! - `partitions`: that many files, rows dealt round-robin;
//! - `rows`: at most that many rows per file.
//!
//! The new files keep the source file's extension (`.tmp` without one). The source is
//! streamed, never held in memory.

use std::path::PathBuf;

use async_trait::async_trait;
use kite_flow::tasks::storage_split::StorageSplit;
use kite_ports::StorageKey;
use serde_json::{Map, Value};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use crate::worker::{Output, RunContext, TaskError, TaskRunner};

/// The runner.
#[derive(Debug)]
pub struct Runner;

/// How to cut a file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// Parts of at most this many bytes (whole rows).
    Bytes(u64),
    /// This many parts, rows dealt round-robin.
    Partitions(u32),
    /// Parts of this many rows.
    Rows(u32),
}

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, ctx: &RunContext) -> Result<Output, TaskError> {
        let spec = ctx
            .task
            .spec::<StorageSplit>()
            .ok_or_else(|| TaskError::new("not a storage.Split task"))?;
        let from = ctx.render(&spec.from)?;
        let key = ctx.input_key(&from)?;
        let mode = if let Some(b) = &spec.bytes {
            let text = ctx.render(b)?;
            Mode::Bytes(parse_bytes(&text)?)
        } else if let Some(p) = &spec.partitions {
            Mode::Partitions(super::render_u32(ctx, p, "partitions")?)
        } else if let Some(r) = &spec.rows {
            Mode::Rows(super::render_u32(ctx, r, "rows")?)
        } else {
            return Err(TaskError::new(
                "Invalid configuration with no size, count, nor rows: set one of `bytes`, `partitions` or `rows`",
            ));
        };
        match mode {
            Mode::Bytes(0) => return Err(TaskError::new("`bytes` must be greater than 0")),
            Mode::Partitions(0) => {
                return Err(TaskError::new("`partitions` must be greater than 0"));
            }
            Mode::Rows(0) => return Err(TaskError::new("`rows` must be greater than 0")),
            _ => {}
        }
        let separator = match &spec.separator {
            Some(s) => ctx.render(s)?,
            None => "\n".to_owned(),
        };
        if separator.is_empty() {
            return Err(TaskError::new("`separator` cannot be empty"));
        }
        let uris = split(ctx, &key, mode, &separator).await?;
        let mut out = Map::new();
        out.insert("uris".into(), Value::Array(uris));
        Ok(Output::success(out))
    }
}

/// Cuts the file at `key` into parts stored as outputs of this task run; their URIs.
pub(crate) async fn split(
    ctx: &RunContext,
    key: &StorageKey,
    mode: Mode,
    separator: &str,
) -> Result<Vec<Value>, TaskError> {
    let extension = match key.file_name().rfind('.') {
        Some(i) if i > 0 => key.file_name()[i..].to_owned(),
        _ => ".tmp".to_owned(),
    };
    tokio::fs::create_dir_all(&ctx.workdir).await?;
    let mut splitter = Splitter {
        ctx,
        extension: &extension,
        mode,
        files: Vec::new(),
        writers: Vec::new(),
        current_bytes: 0,
        current_rows: 0,
        next: 0,
    };
    let result = async {
        if let Mode::Partitions(n) = mode {
            for _ in 0..n {
                splitter.open().await?;
            }
        }
        let mut reader = ctx.storage.open(key).await?;
        let sep = separator.as_bytes();
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut search_from = 0;
        loop {
            let n = reader.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(pos) = find(&pending[search_from..], sep).map(|p| p + search_from) {
                splitter.row(&pending[start..pos], sep).await?;
                start = pos + sep.len();
                search_from = start;
            }
            pending.drain(..start);
            search_from = pending.len().saturating_sub(sep.len() - 1);
        }
        if !pending.is_empty() {
            splitter.row(&pending, sep).await?;
        }
        splitter.close_all().await?;
        let mut uris = Vec::with_capacity(splitter.files.len());
        for (i, path) in splitter.files.iter().enumerate() {
            let uri = ctx
                .put_output_file(path, &format!("split_{i}{extension}"))
                .await?;
            uris.push(Value::String(uri));
        }
        Ok::<_, TaskError>(uris)
    }
    .await;
    for f in &splitter.files {
        let _ = tokio::fs::remove_file(f).await;
    }
    result
}

struct Splitter<'a> {
    ctx: &'a RunContext,
    extension: &'a str,
    mode: Mode,
    files: Vec<PathBuf>,
    writers: Vec<BufWriter<File>>,
    current_bytes: u64,
    current_rows: u64,
    next: usize,
}

impl Splitter<'_> {
    async fn open(&mut self) -> Result<(), TaskError> {
        let path = self.ctx.workdir.join(format!(
            ".kite-split-{}-{}{}",
            self.ctx.job.task_run_id,
            self.files.len(),
            self.extension
        ));
        let file = File::create(&path).await?;
        self.files.push(path);
        self.writers
            .push(BufWriter::with_capacity(256 * 1024, file));
        Ok(())
    }

    async fn row(&mut self, row: &[u8], sep: &[u8]) -> Result<(), TaskError> {
        let index = match self.mode {
            Mode::Partitions(n) => {
                let i = self.next;
                self.next = (self.next + 1) % n as usize;
                i
            }
            Mode::Bytes(limit) => {
                if self.writers.is_empty() || self.current_bytes >= limit {
                    self.rotate().await?;
                }
                self.writers.len() - 1
            }
            Mode::Rows(limit) => {
                if self.writers.is_empty() || self.current_rows >= u64::from(limit) {
                    self.rotate().await?;
                }
                self.writers.len() - 1
            }
        };
        let w = &mut self.writers[index];
        w.write_all(row).await?;
        w.write_all(sep).await?;
        self.current_bytes += (row.len() + sep.len()) as u64;
        self.current_rows += 1;
        Ok(())
    }

    /// Closes the current file (sequential modes) and opens the next one.
    async fn rotate(&mut self) -> Result<(), TaskError> {
        if let Some(w) = self.writers.last_mut() {
            w.flush().await?;
        }
        self.current_bytes = 0;
        self.current_rows = 0;
        self.open().await
    }

    async fn close_all(&mut self) -> Result<(), TaskError> {
        for w in &mut self.writers {
            w.flush().await?;
        }
        self.writers.clear();
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|b| *b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `10MB` → 10 485 760 (units B, KB, MB, GB, TB, 1024-based, case-insensitive; a bare
/// number is bytes).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, TaskError> {
    let t = text.trim().to_ascii_uppercase();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let invalid = || {
        TaskError::new(format!(
            "Invalid size with value '{text}' (examples: 1024, 512KB, 10MB, 1GB)"
        ))
    };
    let n: u64 = num.parse().map_err(|_| invalid())?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        "T" | "TB" => 1 << 40,
        _ => return Err(invalid()),
    };
    n.checked_mul(mult).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("10MB").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 * 1024);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes(" 2 GB ").unwrap(), 2 << 30);
        assert!(parse_bytes("ten").is_err());
        assert!(parse_bytes("10XB").is_err());
    }

    #[test]
    fn finds() {
        assert_eq!(find(b"a\r\nb", b"\r\n"), Some(1));
        assert_eq!(find(b"abc", b"\n"), None);
    }
}
