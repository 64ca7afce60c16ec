//! Schedule triggers on the tick: every fire time starts exactly one execution, with two
//! schedulers on one store, a retried tick, a restart after a gap, a changed cron, a
//! disabled or deleted flow, backfills; a tick reads only the due triggers.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kite_engine::services::{Platform, QueueNames};
use kite_engine::triggers::TickConfig;
use kite_ports::{
    Clock, DocumentStore, ManualClock, MemoryDocuments, MemoryQueue, MemoryStorage, Queue, Storage,
};

const EVERY_SECOND: &str = r#"
id: every-second
namespace: kite.tests.schedule
inputs:
  - id: when
    type: STRING
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.when }}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
    inputs:
      when: "{{ trigger.date }}"
"#;

struct Store {
    clock: ManualClock,
    docs: Arc<dyn DocumentStore>,
    queue: Arc<dyn Queue>,
    storage: Arc<dyn Storage>,
    _work: tempfile::TempDir,
}

impl Store {
    fn new(start: DateTime<Utc>) -> Self {
        let clock = ManualClock::new(start);
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        Self {
            docs: Arc::new(MemoryDocuments::new(c.clone())),
            queue: Arc::new(MemoryQueue::new(c)),
            storage: Arc::new(MemoryStorage::new()),
            clock,
            _work: tempfile::tempdir().unwrap(),
        }
    }

    /// A scheduler instance (its own caches) over the shared store.
    async fn scheduler(&self, config: TickConfig) -> Platform {
        let p = Platform::on_ports(
            self.queue.clone(),
            self.storage.clone(),
            self.docs.clone(),
            Arc::new(self.clock.clone()),
            QueueNames::with_prefix("t-"),
            self._work.path().to_owned(),
        )
        .with_tick_config(config);
        p.ensure_queues().await.unwrap();
        p
    }
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00.250Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn fire_dates(p: &Platform, ns: &str, flow: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in p
        .repos
        .executions
        .list(ns, Some(flow), 100_000)
        .await
        .unwrap()
    {
        let t = e.execution.trigger.expect("started by the trigger");
        assert_eq!(t.id, "tick");
        assert!(
            t.kind.starts_with("io.kestra.plugin.core.trigger.Schedule"),
            "{}",
            t.kind
        );
        out.push(t.variables["date"].as_str().unwrap().to_owned());
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_for_three_hundred_ticks_fire_each_second_exactly_once() {
    let s = Store::new(start());
    let a = s.scheduler(TickConfig::local()).await;
    let b = s.scheduler(TickConfig::local()).await;
    let flow = support::parse(EVERY_SECOND);
    a.deploy_flow(&flow, EVERY_SECOND).await.unwrap();
    // Uneven steps: sometimes both in the same second, sometimes a second skipped.
    let steps = [700u64, 300, 1000, 1900, 100, 1000];
    let mut created = 0;
    for i in 0..300 {
        s.clock
            .advance(Duration::from_millis(steps[i % steps.len()]));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        created += ra.unwrap().triggers.created + rb.unwrap().triggers.created;
    }
    let dates = fire_dates(&a, "kite.tests.schedule", "every-second").await;
    let unique: BTreeSet<_> = dates.iter().cloned().collect();
    assert_eq!(unique.len(), dates.len(), "no fire time twice");
    assert_eq!(created, dates.len(), "each created once");
    // Every second from the first fire time to the last: no gap.
    let parse = |d: &str| DateTime::parse_from_rfc3339(d).unwrap().timestamp();
    let first = parse(dates.first().unwrap());
    let last = parse(dates.last().unwrap());
    assert_eq!(first, start().timestamp() + 1);
    assert_eq!((last - first + 1) as usize, dates.len(), "no gap");
    // The lookahead created the next second ahead, scheduled for its date.
    let now = s.clock.now();
    assert!(
        last >= now.timestamp(),
        "fire times up to the lookahead exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_a_gap_recovers_missed_fire_times_by_policy() {
    // Down from 10:00:05.25 to 10:00:35.25: 10:00:07..10:00:30 are missed (older than the
    // 5 s grace), 10:00:31..10:00:35 are late within the grace, 10:00:36 is the lookahead.
    for (policy, expect_new) in [("ALL", 24 + 6usize), ("LAST", 1 + 6), ("NONE", 6)] {
        let s = Store::new(start());
        let source = EVERY_SECOND.replace(
            "    withSeconds: true\n",
            &format!("    withSeconds: true\n    recoverMissedSchedules: {policy}\n"),
        );
        let flow = support::parse(&source);
        {
            let a = s.scheduler(TickConfig::local()).await;
            a.deploy_flow(&flow, &source).await.unwrap();
            for _ in 0..5 {
                s.clock.advance(Duration::from_secs(1));
                a.tick().await.unwrap();
            }
        } // kill -9: the scheduler is gone, its store is not.
        let before = fire_dates(
            &s.scheduler(TickConfig::local()).await,
            "kite.tests.schedule",
            "every-second",
        )
        .await;
        s.clock.advance(Duration::from_secs(30));
        let b = s.scheduler(TickConfig::local()).await;
        b.tick().await.unwrap();
        let after = fire_dates(&b, "kite.tests.schedule", "every-second").await;
        assert_eq!(before.len(), 6, "10:00:01..10:00:06");
        assert_eq!(
            after.len() - before.len(),
            expect_new,
            "{policy}: {after:?}"
        );
        assert!(after.contains(&"2026-03-01T10:00:36Z".to_owned()));
        if policy == "LAST" {
            assert!(after.contains(&"2026-03-01T10:00:30Z".to_owned()));
            assert!(!after.contains(&"2026-03-01T10:00:29Z".to_owned()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_skip_the_fire_times_they_refuse() {
    // 2026-03-06 is a Friday: a daily 09:00 schedule over 7 days with a Weekend condition
    // fires on Saturday 7 and Sunday 8 only.
    let s = Store::new(
        DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let source = r#"
id: weekends
namespace: kite.tests.schedule
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.date }}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Europe/Paris
    conditions:
      - type: io.kestra.plugin.core.condition.Weekend
"#;
    let a = s.scheduler(TickConfig::every_minute()).await;
    a.deploy_flow(&support::parse(source), source)
        .await
        .unwrap();
    for _ in 0..(7 * 24 * 60) {
        s.clock.advance(Duration::from_secs(60));
        a.tick().await.unwrap();
    }
    let dates = fire_dates(&a, "kite.tests.schedule", "weekends").await;
    assert_eq!(
        dates,
        vec!["2026-03-07T09:00:00+01:00", "2026-03-08T09:00:00+01:00"]
    );
}

fn hourly(id: &str, cron: &str) -> String {
    format!(
        "id: {id}\nnamespace: kite.tests.schedule\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"{cron}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_disabling_or_deleting_the_flow_changes_the_schedule_at_once() {
    let s = Store::new(
        DateTime::parse_from_rfc3339("2026-03-02T08:30:10Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let a = s.scheduler(TickConfig::every_minute()).await;
    let deploy = |src: String| {
        let a = &a;
        async move { a.deploy_flow(&support::parse(&src), &src).await.unwrap() }
    };
    deploy(hourly("h", "0 * * * *")).await;
    let state = |a: &Platform| {
        let a = a.clone();
        async move {
            a.repos
                .triggers
                .get("kite.tests.schedule", "h", "tick")
                .await
                .unwrap()
                .unwrap()
                .0
        }
    };
    assert_eq!(
        state(&a)
            .await
            .state
            .next_execution_date
            .unwrap()
            .to_rfc3339(),
        "2026-03-02T09:00:00+00:00"
    );
    // A new cron takes effect from its next fire time.
    deploy(hourly("h", "30 * * * *")).await;
    assert_eq!(
        state(&a)
            .await
            .state
            .next_execution_date
            .unwrap()
            .to_rfc3339(),
        "2026-03-02T09:30:00+00:00"
    );
    // Disabled: off the tick (nothing fires at 09:30).
    deploy(hourly("h", "30 * * * *").replace("tasks:", "disabled: true\ntasks:")).await;
    for _ in 0..90 {
        s.clock.advance(Duration::from_secs(60));
        a.tick().await.unwrap();
    }
    assert!(fire_dates(&a, "kite.tests.schedule", "h").await.is_empty());
    // Enabled again: the next fire time after now (10:00 → 10:30).
    deploy(hourly("h", "30 * * * *")).await;
    for _ in 0..31 {
        s.clock.advance(Duration::from_secs(60));
        a.tick().await.unwrap();
    }
    assert_eq!(
        fire_dates(&a, "kite.tests.schedule", "h").await,
        vec!["2026-03-02T10:30:00Z"]
    );
    // Deleted: its state goes, nothing fires again.
    assert!(a.delete_flow("kite.tests.schedule", "h").await.unwrap());
    assert!(
        a.repos
            .triggers
            .get("kite.tests.schedule", "h", "tick")
            .await
            .unwrap()
            .is_none()
    );
    for _ in 0..120 {
        s.clock.advance(Duration::from_secs(60));
        assert_eq!(a.tick().await.unwrap().triggers.evaluated, 0);
    }
}

/// Counts document-store reads.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn DocumentStore>,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl DocumentStore for Counting {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<kite_ports::Versioned<String>>, kite_ports::DocumentError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(table, key).await
    }
    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: kite_ports::Document,
        expected: kite_ports::Expect,
    ) -> Result<u64, kite_ports::DocumentError> {
        self.inner.put(table, key, doc, expected).await
    }
    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: kite_ports::Expect,
    ) -> Result<bool, kite_ports::DocumentError> {
        self.inner.delete(table, key, expected).await
    }
    async fn transact(
        &self,
        ops: Vec<kite_ports::WriteOp>,
    ) -> Result<Vec<Option<u64>>, kite_ports::DocumentError> {
        self.inner.transact(ops).await
    }
    async fn query(
        &self,
        q: &kite_ports::Query,
    ) -> Result<kite_ports::Page, kite_ports::DocumentError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.query(q).await
    }
    async fn sweep_expired(&self) -> Result<usize, kite_ports::DocumentError> {
        self.inner.sweep_expired().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_reads_the_due_triggers_only_never_every_flow() {
    let mut s = Store::new(
        DateTime::parse_from_rfc3339("2026-03-02T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let counting = Arc::new(Counting {
        inner: s.docs.clone(),
        reads: Default::default(),
    });
    s.docs = counting.clone();
    let a = s.scheduler(TickConfig::every_minute()).await;
    // 300 daily schedules at 12:00, 3 at 09:00.
    for i in 0..303 {
        let cron = if i < 3 { "0 9 * * *" } else { "0 12 * * *" };
        let src = hourly(&format!("f{i}"), cron);
        a.deploy_flow(&support::parse(&src), &src).await.unwrap();
    }
    let reads = |c: &Counting| c.reads.swap(0, std::sync::atomic::Ordering::SeqCst);
    reads(&counting);
    a.tick().await.unwrap();
    let idle = reads(&counting);
    assert!(idle <= 2, "an idle tick read {idle} times");
    // 08:59: the three 09:00 schedules are within the lookahead.
    s.clock.advance(Duration::from_secs(29 * 60));
    let r = a.tick().await.unwrap();
    assert_eq!(r.triggers.evaluated, 3);
    assert_eq!(r.triggers.created, 3);
    let busy = reads(&counting);
    assert!(
        busy <= 2 + 3 * 2,
        "a tick with 3 due triggers read {busy} times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tick_fires_every_due_trigger_past_a_query_page() {
    let s = Store::new(
        DateTime::parse_from_rfc3339("2026-03-02T08:59:30Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let a = s.scheduler(TickConfig::every_minute()).await;
    // More due triggers than one query page (1,000) holds.
    for i in 0..1100 {
        let src = hourly(&format!("p{i}"), "0 9 * * *");
        a.deploy_flow(&support::parse(&src), &src).await.unwrap();
    }
    let r = a.tick().await.unwrap();
    assert_eq!(r.triggers.evaluated, 1100);
    assert_eq!(r.triggers.created, 1100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_on_dates_fires_each_listed_date_once() {
    let s = Store::new(
        DateTime::parse_from_rfc3339("2026-12-24T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let source = r#"
id: on-dates
namespace: kite.tests.schedule
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.date }}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.ScheduleOnDates
    timezone: Europe/Paris
    dates:
      - "2026-12-24T07:00:00Z"
      - "2026-12-24T10:00:00"
      - "2026-12-25T10:00:00+01:00"
"#;
    let a = s.scheduler(TickConfig::every_minute()).await;
    let b = s.scheduler(TickConfig::every_minute()).await;
    a.deploy_flow(&support::parse(source), source)
        .await
        .unwrap();
    for _ in 0..(2 * 24 * 60) {
        s.clock.advance(Duration::from_secs(60));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        ra.unwrap();
        rb.unwrap();
    }
    // The date already past at deploy time does not fire; the others once each.
    assert_eq!(
        fire_dates(&a, "kite.tests.schedule", "on-dates").await,
        vec!["2026-12-24T10:00:00+01:00", "2026-12-25T10:00:00+01:00"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_maximum_delay_skips_fire_times_seen_too_late() {
    let s = Store::new(
        DateTime::parse_from_rfc3339("2026-03-02T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let src = hourly("late", "0 * * * *").replace(
        "    cron: \"0 * * * *\"\n",
        "    cron: \"0 * * * *\"\n    lateMaximumDelay: PT10M\n",
    );
    let a = s.scheduler(TickConfig::every_minute()).await;
    a.deploy_flow(&support::parse(&src), &src).await.unwrap();
    // Down from 08:30 to 11:05: 09:00 and 10:00 are later than 10 minutes, 11:00 is not.
    s.clock.advance(Duration::from_secs(155 * 60));
    a.tick().await.unwrap();
    assert_eq!(
        fire_dates(&a, "kite.tests.schedule", "late").await,
        vec!["2026-03-02T11:00:00Z"]
    );
}
