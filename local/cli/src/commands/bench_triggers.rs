//! `kite bench --triggers N`: the scheduler tick with N Schedule triggers deployed on the
//! embedded store (SQLite, synchronous=NORMAL, in a temporary folder), on a manual clock so
//! every tick lands where the case needs it:
//!
//! - a tick when none of the N triggers is due (the common case: the tick must not read
//!   every flow): time and store reads;
//! - a tick when 1% of them are due (a minute where some fire): time, executions
//!   created, store reads;
//! - a tick when all N are due in the same minute: time and executions created per second;
//! - the floor: a tick with no trigger deployed at all, measured in the same run.
//!
//! Store reads are counted by a wrapper around the document store (gets + query pages).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kite_engine::services::Platform;
use kite_ports::{
    Clock, Document, DocumentError, DocumentStore, Expect, ManualClock, Page, Query, Versioned,
    WriteOp,
};

/// Counts the reads a tick makes.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn DocumentStore>,
    reads: AtomicUsize,
}

#[async_trait]
impl DocumentStore for Counting {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.get(table, key).await
    }
    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        self.inner.put(table, key, doc, expected).await
    }
    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        self.inner.delete(table, key, expected).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.query(query).await
    }
    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        self.inner.sweep_expired().await
    }
}

/// Runs the trigger cases with `n` triggers.
pub fn run(n: usize) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(n))
}

fn flow(i: usize, minute: usize) -> String {
    format!(
        "id: f{i}\nnamespace: kite.bench.triggers\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: schedule\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"{minute} 12 * * *\"\n"
    )
}

struct Case {
    name: &'static str,
    time: Duration,
    created: usize,
    reads: usize,
}

async fn tick(p: &Platform, counting: &Counting, name: &'static str) -> anyhow::Result<Case> {
    counting.reads.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let report = p.tick().await?;
    Ok(Case {
        name,
        time: start.elapsed(),
        created: report.triggers.created,
        reads: counting.reads.load(Ordering::Relaxed),
    })
}

async fn run_async(n: usize) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let t0: DateTime<Utc> =
        DateTime::parse_from_rfc3339("2026-06-01T11:00:00Z")?.with_timezone(&Utc);
    let manual = ManualClock::new(t0);
    let clock: Arc<dyn Clock> = Arc::new(manual.clone());
    let options = kite_embedded::EmbeddedOptions {
        synchronous: kite_embedded::Synchronous::Normal,
        ..Default::default()
    };
    let db =
        kite_embedded::Embedded::open_with(dir.path().join("kite.db"), clock.clone(), &options)
            .context("cannot open the embedded store")?;
    let storage = kite_embedded::DiskStorage::open(dir.path().join("storage"))
        .await
        .context("cannot open the storage folder")?;
    let counting = Arc::new(Counting {
        inner: Arc::new(db.documents()),
        reads: AtomicUsize::new(0),
    });
    let p = crate::commands::platform::build(
        Arc::new(db.queue()),
        Arc::new(storage),
        counting.clone(),
        clock,
        dir.path().join("work"),
        None,
    )
    .await?;
    let mut cases = Vec::new();
    cases.push(tick(&p, &counting, "floor: no trigger deployed").await?);

    // N triggers: 1% at 12:01, the rest at 12:00.
    let hot = (n / 100).max(1);
    let deploy_start = Instant::now();
    for i in 0..n {
        let minute = if i < hot { 1 } else { 0 };
        let source = flow(i, minute);
        let f = kite_flow::parse_flow(&source)
            .into_result()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        p.deploy_flow(&f, &source).await?;
    }
    let deployed = deploy_start.elapsed();
    manual.advance(Duration::from_secs(30 * 60)); // 11:30: nothing due
    cases.push(tick(&p, &counting, "none of N due").await?);
    manual.advance(Duration::from_secs(30 * 60)); // 12:00:00: all but 1% due
    let all = tick(&p, &counting, "N - 1% due in the same minute").await?;
    manual.advance(Duration::from_secs(60)); // 12:01: the 1%
    cases.push(tick(&p, &counting, "1% of N due").await?);
    cases.push(all);

    println!(
        "kite bench --triggers {n}: scheduler tick on the embedded store (SQLite, synchronous=NORMAL)"
    );
    println!(
        "deployed {n} flows with a Schedule trigger in {:.1} s",
        deployed.as_secs_f64()
    );
    println!("| case | tick time | executions created | store reads |");
    println!("|---|---:|---:|---:|");
    for c in &cases {
        println!(
            "| {} | {:.1} ms | {} | {} |",
            c.name,
            c.time.as_secs_f64() * 1000.0,
            c.created,
            c.reads
        );
    }
    Ok(ExitCode::SUCCESS)
}
