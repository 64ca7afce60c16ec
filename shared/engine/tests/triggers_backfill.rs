//! Backfills of Schedule triggers on the tick (manual clock, explicit ticks): a backfill of
//! past dates starts one execution per fire time exactly once, in batches, even with two
//! schedulers; pausing stops it mid-way, resuming finishes it, deleting stops it; its inputs
//! and labels reach the executions; its executions never collide with the regular ones.
//! Also the operator's disable/enable and the validation of a backfill request.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kite_engine::model::{Execution, Label};
use kite_engine::services::{Platform, QueueNames};
use kite_engine::triggers::TickConfig;
use kite_engine::triggers::control::{self, BackfillRequest, ControlError, TriggerRef};
use kite_ports::{
    Clock, DocumentStore, ManualClock, MemoryDocuments, MemoryQueue, MemoryStorage, Queue, Storage,
};
use serde_json::json;

const NS: &str = "kite.tests.backfill";

const HOURLY: &str = r#"
id: hourly
namespace: kite.tests.backfill
inputs:
  - id: when
    type: STRING
  - id: mode
    type: STRING
    defaults: regular
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.mode }} {{ inputs.when }}"
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    inputs:
      when: "{{ trigger.date }}"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: backfill-hook
"#;

const HOURLY_REF: TriggerRef<'static> = TriggerRef {
    namespace: NS,
    flow_id: "hourly",
    trigger_id: "hourly",
};

struct Store {
    clock: ManualClock,
    docs: Arc<dyn DocumentStore>,
    queue: Arc<dyn Queue>,
    storage: Arc<dyn Storage>,
    work: tempfile::TempDir,
}

impl Store {
    fn new() -> Self {
        let clock = ManualClock::new(start());
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        Self {
            docs: Arc::new(MemoryDocuments::new(c.clone())),
            queue: Arc::new(MemoryQueue::new(c)),
            storage: Arc::new(MemoryStorage::new()),
            clock,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// A scheduler firing at most `batch` occurrences of a trigger per tick.
    async fn scheduler(&self, batch: usize) -> Platform {
        let config = TickConfig {
            max_per_trigger: batch,
            ..TickConfig::local()
        };
        let p = Platform::on_ports(
            self.queue.clone(),
            self.storage.clone(),
            self.docs.clone(),
            Arc::new(self.clock.clone()),
            QueueNames::with_prefix("t-"),
            self.work.path().to_owned(),
        )
        .with_tick_config(config);
        p.ensure_queues().await.unwrap();
        p
    }

    /// Advances the clock by a second and ticks `p` (no fire time of the hourly schedule
    /// falls in these seconds).
    async fn tick(&self, p: &Platform) -> usize {
        self.clock.advance(Duration::from_secs(1));
        p.tick().await.unwrap().triggers.created
    }
}

fn start() -> DateTime<Utc> {
    utc("2026-03-01T10:00:00.250Z")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn label(e: &Execution, key: &str) -> Option<String> {
    e.labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.clone())
}

async fn executions(p: &Platform) -> Vec<Execution> {
    p.repos
        .executions
        .list(NS, Some("hourly"), 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.execution)
        .collect()
}

/// The fire dates of the backfill's executions, sorted.
async fn backfilled(p: &Platform) -> Vec<String> {
    let mut out: Vec<String> = executions(p)
        .await
        .into_iter()
        .filter(|e| label(e, "system.backfill").as_deref() == Some("true"))
        .map(|e| {
            let t = e.trigger.expect("started by the trigger");
            assert_eq!(t.id, "hourly");
            t.variables["date"].as_str().unwrap().to_owned()
        })
        .collect();
    out.sort();
    out
}

fn ten_hours() -> BackfillRequest {
    BackfillRequest {
        start: Some(utc("2026-02-28T00:00:00Z")),
        end: Some(utc("2026-02-28T09:00:00Z")),
        ..BackfillRequest::default()
    }
}

fn hours(from: u32, to: u32) -> Vec<String> {
    (from..=to)
        .map(|h| format!("2026-02-28T{h:02}:00:00Z"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_of_ten_past_hours_creates_ten_executions_exactly_once() {
    let s = Store::new();
    let a = s.scheduler(4).await;
    let b = s.scheduler(4).await;
    support::deploy(&a, HOURLY).await;
    let state = control::create_backfill(&a, HOURLY_REF, &ten_hours())
        .await
        .unwrap();
    let bf = state.state.backfill.expect("a backfill");
    assert_eq!(bf.created, Some(start()), "created is set to now");
    assert!(!bf.paused);

    // Both schedulers tick together, each firing at most one batch of 4 (the second may
    // read the state the first just advanced); then nothing more.
    let mut created = 0;
    let mut after_first = 0;
    for i in 0..8 {
        s.clock.advance(Duration::from_secs(1));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        created += ra.unwrap().triggers.created + rb.unwrap().triggers.created;
        if i == 0 {
            after_first = backfilled(&a).await.len();
        }
    }
    assert!(
        (4..=8).contains(&after_first),
        "one batch per scheduler's tick: {after_first}"
    );
    let dates = backfilled(&a).await;
    assert_eq!(dates, hours(0, 9), "each past hour once");
    assert_eq!(created, 10, "each created once over both schedulers");
    let ids: BTreeSet<String> = executions(&a).await.into_iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 10, "no regular fire time in these seconds");
    let (state, _) = a
        .repos
        .triggers
        .get(NS, "hourly", "hourly")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.state.backfill, None, "done: the backfill is gone");
    assert_eq!(
        state.state.next_execution_date,
        Some(utc("2026-03-01T11:00:00Z")),
        "the schedule goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_stops_a_backfill_mid_way_and_resuming_finishes_it() {
    let s = Store::new();
    let p = s.scheduler(3).await;
    support::deploy(&p, HOURLY).await;
    control::create_backfill(&p, HOURLY_REF, &ten_hours())
        .await
        .unwrap();
    assert_eq!(s.tick(&p).await, 3);
    let paused = control::pause_backfill(&p, HOURLY_REF, true).await.unwrap();
    let bf = paused.state.backfill.unwrap();
    assert!(bf.paused);
    assert_eq!(bf.current_date, Some(utc("2026-02-28T03:00:00Z")));
    // Paused: off the tick (not even evaluated: the next regular fire time is an hour away).
    for _ in 0..5 {
        s.clock.advance(Duration::from_secs(1));
        let r = p.tick().await.unwrap();
        assert_eq!(r.triggers.created, 0);
        assert_eq!(r.triggers.evaluated, 0, "a paused backfill is not due");
    }
    assert_eq!(backfilled(&p).await, hours(0, 2));

    control::pause_backfill(&p, HOURLY_REF, false)
        .await
        .unwrap();
    let mut created = 0;
    for _ in 0..5 {
        created += s.tick(&p).await;
    }
    assert_eq!(created, 7);
    assert_eq!(
        backfilled(&p).await,
        hours(0, 9),
        "resumed where it stopped"
    );
    // Nothing left to pause.
    match control::pause_backfill(&p, HOURLY_REF, true).await {
        Err(ControlError::Conflict(m)) => assert!(m.contains("no backfill"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_backfill_stops_it() {
    let s = Store::new();
    let p = s.scheduler(3).await;
    support::deploy(&p, HOURLY).await;
    control::create_backfill(&p, HOURLY_REF, &ten_hours())
        .await
        .unwrap();
    assert_eq!(s.tick(&p).await, 3);
    let state = control::delete_backfill(&p, HOURLY_REF).await.unwrap();
    assert_eq!(state.state.backfill, None);
    for _ in 0..5 {
        assert_eq!(s.tick(&p).await, 0);
    }
    assert_eq!(backfilled(&p).await, hours(0, 2));
    // Deleting again is harmless; a new backfill may start.
    control::delete_backfill(&p, HOURLY_REF).await.unwrap();
    control::create_backfill(
        &p,
        HOURLY_REF,
        &BackfillRequest {
            start: Some(utc("2026-02-28T01:00:00Z")),
            end: Some(utc("2026-02-28T01:30:00Z")),
            ..BackfillRequest::default()
        },
    )
    .await
    .unwrap();
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(
        s.tick(&p).await,
        1,
        "a second backfill of a date runs it again"
    );
    let dates = backfilled(&p).await;
    assert_eq!(
        dates
            .iter()
            .filter(|d| *d == "2026-02-28T01:00:00Z")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_inputs_and_labels_reach_its_executions_whose_ids_differ_from_regular_ones() {
    let s = Store::new();
    let p = s.scheduler(500).await;
    support::deploy(&p, HOURLY).await;
    // The regular 11:00 fire time.
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(p.tick().await.unwrap().triggers.created, 1);
    let regular = executions(&p).await;
    assert_eq!(regular.len(), 1);
    assert_eq!(regular[0].inputs["mode"], "regular");
    assert_eq!(label(&regular[0], "system.backfill"), None);

    let mut inputs = serde_json::Map::new();
    inputs.insert("mode".into(), json!("replay"));
    control::create_backfill(
        &p,
        HOURLY_REF,
        &BackfillRequest {
            start: Some(utc("2026-03-01T10:00:00Z")),
            end: Some(utc("2026-03-01T11:00:00Z")),
            inputs,
            labels: vec![Label {
                key: "run".into(),
                value: "again".into(),
            }],
        },
    )
    .await
    .unwrap();
    assert_eq!(s.tick(&p).await, 2);
    let all = executions(&p).await;
    assert_eq!(all.len(), 3);
    let replays: Vec<&Execution> = all
        .iter()
        .filter(|e| label(e, "system.backfill").as_deref() == Some("true"))
        .collect();
    assert_eq!(replays.len(), 2);
    for e in &replays {
        assert_eq!(e.inputs["mode"], "replay", "the backfill's input");
        let date = e.trigger.as_ref().unwrap().variables["date"].clone();
        assert_eq!(
            e.inputs["when"], date,
            "the trigger's own inputs still apply"
        );
        assert_eq!(label(e, "run").as_deref(), Some("again"));
    }
    let at_eleven: BTreeSet<&str> = all
        .iter()
        .filter(|e| e.trigger.as_ref().unwrap().variables["date"] == "2026-03-01T11:00:00Z")
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(at_eleven.len(), 2, "regular and backfill ids differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_disable_takes_the_trigger_off_the_tick_and_enabling_restarts_from_now() {
    let s = Store::new();
    let p = s.scheduler(500).await;
    support::deploy(&p, HOURLY).await;
    let off = control::set_disabled(&p, HOURLY_REF, true).await.unwrap();
    assert_eq!(off.state.disabled, Some(true));
    assert!(
        p.repos
            .triggers
            .due(utc("2030-01-01T00:00:00Z"), 100)
            .await
            .unwrap()
            .iter()
            .all(|(t, _)| t.state.trigger_id != "hourly"),
        "not due any more"
    );
    // Three hours pass: nothing fires, nothing is recovered afterwards.
    for _ in 0..3 {
        s.clock.advance(Duration::from_secs(3600));
        assert_eq!(p.tick().await.unwrap().triggers.created, 0);
    }
    let on = control::set_disabled(&p, HOURLY_REF, false).await.unwrap();
    assert_eq!(on.state.disabled, Some(false));
    assert_eq!(
        on.state.next_execution_date,
        Some(utc("2026-03-01T14:00:00Z")),
        "dates restart from now (13:00:00.25)"
    );
    assert_eq!(p.tick().await.unwrap().triggers.created, 0);
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(p.tick().await.unwrap().triggers.created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backfills_are_refused_with_a_reason() {
    let s = Store::new();
    let p = s.scheduler(500).await;
    support::deploy(&p, HOURLY).await;
    let invalid = |r: Result<_, ControlError>| match r {
        Err(ControlError::Invalid(m)) => m,
        other => panic!("expected an invalid request, got {other:?}"),
    };
    let m = invalid(
        control::create_backfill(
            &p,
            TriggerRef {
                trigger_id: "hook",
                ..HOURLY_REF
            },
            &ten_hours(),
        )
        .await,
    );
    assert!(m.contains("only for Schedule triggers"), "{m}");
    let m = invalid(
        control::create_backfill(
            &p,
            HOURLY_REF,
            &BackfillRequest {
                start: Some(utc("2026-02-28T09:00:00Z")),
                end: Some(utc("2026-02-28T00:00:00Z")),
                ..BackfillRequest::default()
            },
        )
        .await,
    );
    assert!(m.contains("must be before"), "{m}");
    let m = invalid(
        control::create_backfill(
            &p,
            HOURLY_REF,
            &BackfillRequest {
                start: Some(utc("2026-03-02T00:00:00Z")),
                end: Some(utc("2026-03-03T00:00:00Z")),
                ..BackfillRequest::default()
            },
        )
        .await,
    );
    assert!(m.contains("in the future"), "{m}");
    let m = invalid(control::create_backfill(&p, HOURLY_REF, &BackfillRequest::default()).await);
    assert!(m.contains("start is required"), "{m}");
    let mut inputs = serde_json::Map::new();
    inputs.insert("nope".into(), json!(1));
    let m = invalid(
        control::create_backfill(
            &p,
            HOURLY_REF,
            &BackfillRequest {
                inputs,
                ..ten_hours()
            },
        )
        .await,
    );
    assert!(m.contains("no input `nope`"), "{m}");
    // One at a time.
    control::create_backfill(&p, HOURLY_REF, &ten_hours())
        .await
        .unwrap();
    assert!(matches!(
        control::create_backfill(&p, HOURLY_REF, &ten_hours()).await,
        Err(ControlError::Conflict(_))
    ));
    // Unknown triggers.
    for t in [
        TriggerRef {
            trigger_id: "nope",
            ..HOURLY_REF
        },
        TriggerRef {
            flow_id: "nope",
            ..HOURLY_REF
        },
    ] {
        assert!(matches!(
            control::set_disabled(&p, t, true).await,
            Err(ControlError::NotFound { .. })
        ));
        assert!(matches!(
            control::unlock(&p, t).await,
            Err(ControlError::NotFound { .. })
        ));
    }
    assert_eq!(s.tick(&p).await, 10, "the accepted backfill runs");
}
