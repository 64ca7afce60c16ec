//! Errors in flow concurrency handling keep their kind: a store outage while a start asks
//! for a slot is retried (never dead-lettered, even on the receive that would dead-letter a
//! permanent failure), and a slots document that does not parse fails loudly, naming the
//! document, and is left as it is (never reset to empty).
//!
//! Admission is events and actions like the rest: the decision asks for a slot
//! (`Action::RequestSlot`), the service answers with `Event::Slot`, an ended execution
//! releases it (`Action::ReleaseSlot`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kite_engine::model::State;
use kite_engine::services::dispatch::{Delivery, Outcome, POISON_AFTER, handle_batch};
use kite_engine::services::poller::Component;
use kite_engine::services::{CreateOptions, Platform, QueueNames};
use kite_ports::faulty::{DocumentFault, FaultyDocuments};
use kite_ports::{
    Clock, Document, DocumentError, Expect, MemoryDocuments, MemoryQueue, MemoryStorage,
    SystemClock,
};

const SLOTS: &str = "concurrency_slots";

const FLOW: &str = r#"id: limited
namespace: kite.faults
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello
"#;

/// While `down`, every operation on the concurrency slots table fails as a backend outage.
#[derive(Debug, Default)]
struct SlotsOutage {
    down: AtomicBool,
    failed: AtomicUsize,
}

impl DocumentFault for SlotsOutage {
    fn before(
        &self,
        operation: &'static str,
        table: &str,
        _key: &str,
    ) -> Result<(), DocumentError> {
        if table.ends_with(SLOTS) && self.down.load(Ordering::SeqCst) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(DocumentError::Backend {
                table: table.to_owned(),
                operation,
                source: "injected outage".into(),
            });
        }
        Ok(())
    }
}

async fn platform(fault: Arc<SlotsOutage>) -> (Platform, tempfile::TempDir) {
    #[derive(Debug)]
    struct Shared(Arc<SlotsOutage>);
    impl DocumentFault for Shared {
        fn before(&self, op: &'static str, table: &str, key: &str) -> Result<(), DocumentError> {
            self.0.before(op, table, key)
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let work = tempfile::tempdir().unwrap();
    let docs = FaultyDocuments::new(Arc::new(MemoryDocuments::new(clock.clone())), Shared(fault));
    let p = Platform::on_ports(
        Arc::new(MemoryQueue::new(clock.clone())),
        Arc::new(MemoryStorage::new()),
        Arc::new(docs),
        clock,
        QueueNames::with_prefix("cf-"),
        work.path().to_owned(),
    );
    p.ensure_queues().await.unwrap();
    let flow = kite_flow::parse_flow(FLOW).flow.unwrap();
    p.repos.flows.save(&flow, FLOW).await.unwrap();
    (p, work)
}

/// Creates an execution of the limited flow; returns its id and its start message body.
async fn start(p: &Platform) -> (String, String) {
    let flow = p.load_flow("kite.faults", "limited", None).await.unwrap();
    let e = p
        .create_execution(&flow, serde_json::Map::new(), CreateOptions::default())
        .await
        .unwrap();
    let got = p
        .queue
        .receive(
            &p.names.executor,
            10,
            Duration::from_secs(30),
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "one start message");
    (e.id, got[0].body.clone())
}

fn delivery(body: &str, receive_count: u32, group: &str) -> Delivery {
    Delivery {
        id: format!("m{receive_count}"),
        body: body.to_owned(),
        receive_count,
        group_id: Some(group.to_owned()),
    }
}

async fn dead_letters(p: &Platform) -> usize {
    let dlq = QueueNames::dead_letter_of(&p.names.executor);
    p.queue
        .receive(&dlq, 10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_during_admission_is_retried_not_dead_lettered() {
    let fault = Arc::new(SlotsOutage::default());
    let (p, _work) = platform(fault.clone()).await;
    let (id, body) = start(&p).await;
    fault.down.store(true, Ordering::SeqCst);
    for receive in 1..=POISON_AFTER + 1 {
        let out = handle_batch(
            &p,
            Component::Executor,
            &[delivery(&body, receive, &id)],
            None,
        )
        .await;
        assert!(
            matches!(&out[0], Outcome::Retry(e) if e.contains("store failed") && e.contains(&id)),
            "receive {receive}: a store outage is retried, naming the execution: {out:?}"
        );
    }
    assert!(
        fault.failed.load(Ordering::SeqCst) > 0,
        "the outage was hit"
    );
    assert_eq!(dead_letters(&p).await, 0, "nothing dead-lettered");
    let e = p.execution(&id).await.unwrap().unwrap();
    assert_eq!(
        e.state.current,
        State::Created,
        "not started during the outage"
    );

    // The store is back: the redelivered start is admitted and the execution runs.
    fault.down.store(false, Ordering::SeqCst);
    let out = handle_batch(
        &p,
        Component::Executor,
        &[delivery(&body, POISON_AFTER + 2, &id)],
        None,
    )
    .await;
    assert!(matches!(out[0], Outcome::Done), "{out:?}");
    let e = p.execution(&id).await.unwrap().unwrap();
    assert_eq!(e.state.current, State::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_slots_document_fails_loudly_and_is_not_reset() {
    let fault = Arc::new(SlotsOutage::default());
    let (p, _work) = platform(fault).await;
    let (id, body) = start(&p).await;
    let docs = p.repos.documents();
    let key = "kite.faults|limited";
    let table = SLOTS;
    docs.put(table, key, Document::new("{not json"), Expect::Any)
        .await
        .unwrap();

    let out = handle_batch(&p, Component::Executor, &[delivery(&body, 1, &id)], None).await;
    assert!(
        matches!(&out[0], Outcome::Retry(e) if e.contains("corrupt") && e.contains(key) && e.contains(&id)),
        "a corrupt document is a loud error naming it: {out:?}"
    );
    // A permanent error: dead-lettered on its POISON_AFTER-th receive (and the execution
    // fails with the reason), rather than admitted against a reset document.
    let out = handle_batch(
        &p,
        Component::Executor,
        &[delivery(&body, POISON_AFTER, &id)],
        None,
    )
    .await;
    assert!(
        matches!(&out[0], Outcome::DeadLettered(e) if e.contains("corrupt")),
        "{out:?}"
    );
    let stored = docs.get(table, key).await.unwrap().unwrap();
    assert_eq!(stored.value, "{not json", "the document was not reset");
    let e = p.execution(&id).await.unwrap().unwrap();
    assert_eq!(e.state.current, State::Failed, "never admitted");
}

// ---------------------------------------------------------------------------------------
// The decision's side: slots as actions and events
// ---------------------------------------------------------------------------------------

mod pure {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use kite_engine::executor::{self, Action, Event, Expressions, Record, SlotAnswer};
    use kite_engine::model::{Execution, State};
    use serde_json::Map;

    fn setup(behavior: &str) -> (kite_flow::Flow, Record, Expressions) {
        let src = super::FLOW.replace("QUEUE", behavior);
        let mut flow = kite_flow::parse_flow(&src).flow.unwrap();
        flow.revision = Some(1);
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap();
        let exec = Execution::new(
            "slotExecution00000001".into(),
            &flow,
            Map::new(),
            Vec::new(),
            now,
        );
        let rt = Expressions::new(Arc::new(kite_expr::NoHost), Map::new(), &[]);
        (flow, Record::new(exec), rt)
    }

    fn step(
        f: &kite_flow::Flow,
        rec: &mut Record,
        rt: &Expressions,
        e: Event,
        id: &str,
    ) -> Vec<Action> {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 1).single().unwrap();
        executor::handle(f, rec, &e, id, rt, now)
    }

    #[test]
    fn a_start_asks_for_a_slot_and_a_granted_one_runs_and_is_released() {
        let (f, mut rec, rt) = setup("QUEUE");
        let actions = step(&f, &mut rec, &rt, Event::Start, "start");
        assert_eq!(actions, vec![Action::RequestSlot]);
        assert_eq!(
            rec.execution.current(),
            State::Created,
            "nothing runs before the answer"
        );
        let answer = Event::Slot {
            answer: SlotAnswer::Granted,
        };
        let actions = step(&f, &mut rec, &rt, answer, "start-slot");
        assert_eq!(rec.execution.current(), State::Success);
        let release = actions.iter().position(|a| *a == Action::ReleaseSlot);
        let ended = actions
            .iter()
            .position(|a| matches!(a, Action::Ended { .. }));
        assert!(
            release.is_some() && release < ended,
            "released, then ended: {actions:#?}"
        );
        // The start delivered again asks again (the service's write is idempotent).
        assert_eq!(
            step(&f, &mut rec, &rt, Event::Start, "start"),
            vec![Action::RequestSlot]
        );
    }

    #[test]
    fn a_queued_execution_waits_for_unqueue() {
        let (f, mut rec, rt) = setup("QUEUE");
        step(&f, &mut rec, &rt, Event::Start, "start");
        let answer = Event::Slot {
            answer: SlotAnswer::Queued,
        };
        let actions = step(&f, &mut rec, &rt, answer, "start-slot");
        assert_eq!(rec.execution.current(), State::Queued);
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::ExecutionStateChanged(c) if c.state == State::Queued)),
            "{actions:#?}"
        );
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::ReleaseSlot | Action::Ended { .. }))
        );
        step(&f, &mut rec, &rt, Event::Unqueue, "unqueue");
        assert_eq!(rec.execution.current(), State::Success);
    }

    #[test]
    fn cancel_and_fail_answers_end_the_execution_without_a_slot_to_release() {
        for (behavior, answer, state) in [
            ("CANCEL", SlotAnswer::Cancelled, State::Cancelled),
            ("FAIL", SlotAnswer::Failed, State::Failed),
        ] {
            let (f, mut rec, rt) = setup(behavior);
            step(&f, &mut rec, &rt, Event::Start, "start");
            let actions = step(&f, &mut rec, &rt, Event::Slot { answer }, "start-slot");
            assert_eq!(rec.execution.current(), state);
            assert!(rec.execution.task_run_list.is_empty());
            assert!(
                !actions.iter().any(|a| matches!(a, Action::ReleaseSlot)),
                "{actions:#?}"
            );
        }
    }
}
