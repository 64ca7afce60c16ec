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
        assert_eq!(t.kind, "io.kestra.plugin.core.trigger.Schedule");
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
