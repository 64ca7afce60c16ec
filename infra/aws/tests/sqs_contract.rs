//! The `Queue` contract suite on [`SqsQueue`] against the moto emulator.
//!
//! Cases that move a `ManualClock` (`kite_ports::contract::queue::TIME_TRAVEL`) cannot work
//! on SQS, whose server keeps real time, so they are not generated here; each has a
//! real-time variant in [`realtime`] checking the same rule with short real timeouts (1–2
//! s). [`every_case_is_covered`] fails as soon as the suite gains a case that is neither
//! run as is nor given a variant.
//!
//! Run with `cargo test -p kite-aws --features testing --test sqs_contract`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kite_aws::SqsQueue;
use kite_aws::testing;
use kite_ports::contract::Fixture;
use kite_ports::{ManualClock, Queue};

/// A fresh `SqsQueue` on moto with its own prefix.
async fn fixture() -> Fixture<dyn Queue> {
    let clients = testing::clients().await;
    Fixture::new(Arc::new(SqsQueue::new(&clients)) as Arc<dyn Queue>)
}

/// The suite's cases that run unchanged (everything but `TIME_TRAVEL`).
macro_rules! shared_cases {
    ($($case:ident),+ $(,)?) => {
        const SHARED: &[&str] = &[$(stringify!($case)),+];

        mod shared {
            use super::*;

            kite_ports::__kite_contract_cases!(
                queue,
                |_clock: ManualClock| async move { fixture().await },
                [$($case),+]
            );
        }
    };
}

shared_cases![
    send_receive_delete,
    unknown_queue_is_an_error,
    ensure_queue_is_idempotent_and_validated,
    queues_are_isolated,
    message_validation,
    message_size_limit,
    batches,
    receive_limits,
    fifo_group_order_and_blocking,
    fifo_groups_in_parallel,
    fifo_batch_receive_keeps_group_order,
    purge_and_len,
    long_poll_wakes_on_send,
    long_poll_times_out,
    concurrent_receivers_never_share,
];

/// The time-travel cases, each run as its real-time variant `realtime::<case>`.
macro_rules! real_time_cases {
    ($($case:ident),+ $(,)?) => {
        const REAL_TIME: &[&str] = &[$(stringify!($case)),+];

        mod real_time {
            use super::*;

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = fixture().await;
                    realtime::$case(fixture.port()).await;
                }
            )+
        }
    };
}

real_time_cases![
    visibility_timeout_redelivers,
    change_visibility_extends_and_releases,
    deletes_are_idempotent_and_receipts_checked,
    standard_delay,
    fifo_redelivery_keeps_order,
    fifo_deduplication,
    dead_letter_after_max_receives,
    fifo_dead_letter_unblocks_group,
    long_poll_wakes_on_clock_advance,
];

/// Every case of the queue suite (the suite's own list, `kite_ports::contract::queue::CASES`).
fn suite_cases() -> BTreeSet<String> {
    kite_ports::contract::queue::CASES
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

#[test]
fn every_case_is_covered() {
    let all = suite_cases();
    assert!(
        all.len() >= SHARED.len() + REAL_TIME.len(),
        "could not read the suite's cases: {all:?}"
    );
    let shared: BTreeSet<String> = SHARED.iter().map(|s| (*s).to_owned()).collect();
    let real_time: BTreeSet<String> = REAL_TIME.iter().map(|s| (*s).to_owned()).collect();
    let time_travel: BTreeSet<String> = kite_ports::contract::queue::TIME_TRAVEL
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        real_time, time_travel,
        "every TIME_TRAVEL case (and only those) needs a real-time SQS variant"
    );
    assert!(
        shared.is_disjoint(&time_travel),
        "time-travel cases cannot run unchanged on SQS: {:?}",
        shared.intersection(&time_travel).collect::<Vec<_>>()
    );
    let covered: BTreeSet<String> = shared.union(&real_time).cloned().collect();
    assert_eq!(
        covered, all,
        "every queue contract case must run here, as is or as a real-time variant"
    );
}

/// Real-time variants of the `TIME_TRAVEL` cases: the same rules, checked with short real
/// timeouts instead of a moved clock.
mod realtime {
    use super::*;
    use kite_ports::queue::{MAX_VISIBILITY_TIMEOUT, MessageId};
    use kite_ports::{OutgoingMessage, QueueError, QueueSpec, ReceiptHandle, ReceivedMessage};
    use tokio::time::{Instant, sleep, sleep_until};

    const VT: Duration = Duration::from_secs(30);
    const SHORT: Duration = Duration::from_secs(1);
    /// Sleeping this long after a 1 s timeout is past it, whole-second rounding included.
    const PAST_SHORT: Duration = Duration::from_millis(1300);
    const NO_WAIT: Duration = Duration::ZERO;

    async fn create(q: &dyn Queue, spec: QueueSpec) {
        let name = spec.name.clone();
        q.ensure_queue(&spec)
            .await
            .unwrap_or_else(|e| panic!("ensure_queue({name}) failed: {e}"));
    }

    async fn send(q: &dyn Queue, queue: &str, msg: OutgoingMessage) -> MessageId {
        q.send(queue, msg)
            .await
            .unwrap_or_else(|e| panic!("send to {queue} failed: {e}"))
    }

    async fn receive_with(
        q: &dyn Queue,
        queue: &str,
        max: usize,
        vt: Duration,
        wait: Duration,
    ) -> Vec<ReceivedMessage> {
        q.receive(queue, max, vt, wait)
            .await
            .unwrap_or_else(|e| panic!("receive from {queue} failed: {e}"))
    }

    async fn receive_one_with(q: &dyn Queue, queue: &str, vt: Duration) -> ReceivedMessage {
        let mut got = receive_with(q, queue, 1, vt, NO_WAIT).await;
        assert_eq!(got.len(), 1, "expected exactly one message from {queue}");
        got.remove(0)
    }

    async fn delete(q: &dyn Queue, queue: &str, receipt: &ReceiptHandle) {
        q.delete(queue, receipt)
            .await
            .unwrap_or_else(|e| panic!("delete from {queue} failed: {e}"));
    }

    async fn len(q: &dyn Queue, queue: &str) -> usize {
        q.approximate_len(queue)
            .await
            .unwrap_or_else(|e| panic!("approximate_len({queue}) failed: {e}"))
    }

    fn bodies(msgs: &[ReceivedMessage]) -> Vec<&str> {
        msgs.iter().map(|m| m.body.as_str()).collect()
    }

    /// How long a test waits for a message that must come back (generous: a loaded
    /// machine passes, a message that never returns does not).
    const COMES_BACK_WITHIN: Duration = Duration::from_secs(60);
    /// SQS keeps whole seconds: a timeout may end up to this much before `start + timeout`
    /// measured on the test's clock.
    const ROUNDING: Duration = Duration::from_secs(1);

    /// Receives from `queue` (no wait, up to `max`) until a delivery holds `body`; returns
    /// every delivery (the one with `body` last) and the instant that receive returned.
    /// `check` sees each empty-of-`body` delivery before the next attempt.
    async fn until_body(
        q: &dyn Queue,
        queue: &str,
        body: &str,
        (max, vt): (usize, Duration),
        mut check: impl FnMut(&[ReceivedMessage]),
    ) -> (Vec<ReceivedMessage>, Instant) {
        let deadline = Instant::now() + COMES_BACK_WITHIN;
        loop {
            let got = receive_with(q, queue, max, vt, NO_WAIT).await;
            let returned = Instant::now();
            if got.iter().any(|m| m.body == body) {
                return (got, returned);
            }
            check(&got);
            assert!(
                Instant::now() < deadline,
                "`{body}` did not come back to {queue} within {COMES_BACK_WITHIN:?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The one delivery of `body` in `got`.
    fn one_of(got: Vec<ReceivedMessage>, body: &str) -> ReceivedMessage {
        let mut with: Vec<_> = got.into_iter().filter(|m| m.body == body).collect();
        assert_eq!(with.len(), 1, "one delivery of `{body}`");
        with.remove(0)
    }

    /// Asserts that something observed at `seen` (an instant after it happened) happened no
    /// earlier than `start + after` (less [`ROUNDING`]): load only makes `seen` later.
    #[track_caller]
    fn not_before(seen: Instant, start: Instant, after: Duration, what: &str) {
        let at = seen.duration_since(start);
        assert!(
            at + ROUNDING >= after,
            "{what} after {at:?}, before its {after:?}"
        );
    }

    /// An undeleted message comes back after its visibility timeout (not before), with a
    /// higher receive count and a new receipt. "Not before" is checked against the instant
    /// the receive that hid it was called: polling until it comes back, the first
    /// delivery that holds it must have returned after the timeout.
    pub async fn visibility_timeout_redelivers(q: Arc<dyn Queue>) {
        let q = &*q;
        let vt = Duration::from_secs(2);
        create(q, QueueSpec::standard("retry")).await;
        let id = send(q, "retry", OutgoingMessage::new("work")).await;
        let hidden = Instant::now();
        let first = receive_one_with(q, "retry", vt).await;
        let (got, back) = until_body(q, "retry", "work", (10, vt), |_| {}).await;
        not_before(back, hidden, vt, "redelivered");
        let second = one_of(got, "work");
        assert_eq!(second.id, id);
        assert_eq!(second.receive_count, 2, "redelivery increments the count");
        assert_ne!(
            second.receipt_handle, first.receipt_handle,
            "each delivery has its own receipt"
        );
        let hidden = back;
        let (got, back) = until_body(q, "retry", "work", (10, vt), |_| {}).await;
        not_before(back, hidden, vt, "redelivered again");
        assert_eq!(one_of(got, "work").receive_count, 3);
        assert_eq!(len(q, "retry").await, 1);
    }

    /// `change_visibility` extends the timeout, and zero makes the message visible at once.
    pub async fn change_visibility_extends_and_releases(q: Arc<dyn Queue>) {
        let q = &*q;
        create(q, QueueSpec::standard("lease")).await;
        send(q, "lease", OutgoingMessage::new("work")).await;
        // The extension must reach SQS before the first timeout ends: 5 s leaves a loaded
        // machine room; the check then waits until that timeout is surely over.
        let first_vt = Duration::from_secs(5);
        let hidden = Instant::now();
        let got = receive_one_with(q, "lease", first_vt).await;
        q.change_visibility("lease", &got.receipt_handle, Duration::from_secs(120))
            .await
            .unwrap_or_else(|e| panic!("extending visibility failed: {e}"));
        sleep_until(hidden + first_vt + ROUNDING).await;
        assert!(
            receive_with(q, "lease", 1, VT, NO_WAIT).await.is_empty(),
            "the extension holds past the original timeout"
        );
        q.change_visibility("lease", &got.receipt_handle, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("releasing failed: {e}"));
        let again = receive_one_with(q, "lease", VT).await;
        assert_eq!(again.receive_count, 2);
        assert!(
            q.change_visibility(
                "lease",
                &again.receipt_handle,
                MAX_VISIBILITY_TIMEOUT + Duration::from_secs(1)
            )
            .await
            .is_err(),
            "more than 12 h is refused"
        );
        delete(q, "lease", &again.receipt_handle).await;
        assert!(
            q.change_visibility("lease", &again.receipt_handle, VT)
                .await
                .is_err(),
            "a deleted message cannot be leased"
        );
    }

    /// Deleting twice is fine; a malformed receipt is `ReceiptInvalid`; a stale receipt
    /// either fails with `StaleReceipt` or is accepted (SQS), and the current receipt
    /// always finishes the job.
    pub async fn deletes_are_idempotent_and_receipts_checked(q: Arc<dyn Queue>) {
        let q = &*q;
        create(q, QueueSpec::standard("acks")).await;
        send(q, "acks", OutgoingMessage::new("once")).await;
        let got = receive_one_with(q, "acks", VT).await;
        delete(q, "acks", &got.receipt_handle).await;
        delete(q, "acks", &got.receipt_handle).await;

        match q.delete("acks", &ReceiptHandle::new("not-a-receipt")).await {
            Err(QueueError::ReceiptInvalid { queue, receipt }) => {
                assert_eq!(
                    (queue.as_str(), receipt.as_str()),
                    ("acks", "not-a-receipt")
                );
            }
            other => panic!("a malformed receipt should be ReceiptInvalid, got {other:?}"),
        }

        send(q, "acks", OutgoingMessage::new("twice")).await;
        let first = receive_one_with(q, "acks", SHORT).await;
        let (got, _) = until_body(q, "acks", "twice", (10, VT), |_| {}).await;
        let second = one_of(got, "twice");
        assert_eq!(second.id, first.id);
        match q.delete("acks", &first.receipt_handle).await {
            Ok(()) => {}
            Err(QueueError::StaleReceipt {
                queue, message_id, ..
            }) => {
                assert_eq!(queue, "acks");
                assert_eq!(message_id, first.id.to_string());
                assert_eq!(len(q, "acks").await, 1, "a stale delete deletes nothing");
            }
            Err(other) => panic!("a stale delete gave {other}"),
        }
        delete(q, "acks", &second.receipt_handle).await;
        assert_eq!(len(q, "acks").await, 0);
    }

    /// A delayed message stays invisible until due (standard queues): every receive before
    /// its first delivery misses it, and that delivery returns after the delay counted
    /// from the send.
    pub async fn standard_delay(q: Arc<dyn Queue>) {
        let q = &*q;
        let delay = Duration::from_secs(2);
        create(q, QueueSpec::standard("later")).await;
        let sent = Instant::now();
        send(
            q,
            "later",
            OutgoingMessage::new("delayed").with_delay(delay),
        )
        .await;
        send(q, "later", OutgoingMessage::new("now")).await;
        let (mut got, at) = until_body(q, "later", "now", (10, VT), |_| {}).await;
        let early = got.iter().any(|m| m.body == "delayed");
        if early {
            // Only possible on a machine slow enough for the delay to pass meanwhile.
            not_before(at, sent, delay, "the delayed message was delivered");
        }
        delete(q, "later", &one_of(got.clone(), "now").receipt_handle).await;
        if !early {
            assert_eq!(len(q, "later").await, 1, "delayed messages count");
            let at;
            (got, at) = until_body(q, "later", "delayed", (10, VT), |_| {}).await;
            not_before(at, sent, delay, "the delayed message was delivered");
        }
        let got = one_of(got, "delayed");
        assert_eq!(got.receive_count, 1);
    }

    /// A FIFO message whose timeout lapses is redelivered before the rest of its group.
    pub async fn fifo_redelivery_keeps_order(q: Arc<dyn Queue>) {
        let q = &*q;
        create(q, QueueSpec::fifo("steps.fifo")).await;
        for body in ["s1", "s2"] {
            send(
                q,
                "steps.fifo",
                OutgoingMessage::new(body).in_group("exec-1"),
            )
            .await;
        }
        let hidden = Instant::now();
        let first = receive_one_with(q, "steps.fifo", SHORT).await;
        assert_eq!(first.body, "s1");
        let (got, back) = until_body(q, "steps.fifo", "s1", (1, VT), |got| {
            assert!(
                got.is_empty(),
                "the group is blocked while s1 is in flight: {:?}",
                bodies(got)
            );
        })
        .await;
        not_before(back, hidden, SHORT, "s1 came back");
        assert_eq!(bodies(&got), ["s1"], "the lapsed head comes back before s2");
        let again = one_of(got, "s1");
        assert_eq!(again.receive_count, 2);
        delete(q, "steps.fifo", &again.receipt_handle).await;
        assert_eq!(receive_one_with(q, "steps.fifo", VT).await.body, "s2");
    }

    /// A deduplication id suppresses re-sends within the window; other ids are
    /// independent.
    ///
    /// Not checkable here: the end of the 5-minute window (too long for a test), and two
    /// things moto does differently from SQS: it forgets a deduplication id once its
    /// message is deleted (SQS keeps it for the whole window), and it answers a duplicate
    /// with a fresh message id (SQS with the original's).
    pub async fn fifo_deduplication(q: Arc<dyn Queue>) {
        let q = &*q;
        create(q, QueueSpec::fifo("once.fifo")).await;
        let msg = |body: &str| {
            OutgoingMessage::new(body)
                .in_group("g")
                .with_dedup_id("exec-42-step-1")
        };
        send(q, "once.fifo", msg("first")).await;
        sleep(Duration::from_secs(1)).await;
        send(q, "once.fifo", msg("second")).await;
        assert_eq!(len(q, "once.fifo").await, 1, "duplicates are not enqueued");
        let got = receive_one_with(q, "once.fifo", VT).await;
        assert_eq!(got.body, "first");
        send(q, "once.fifo", msg("third")).await;
        assert_eq!(
            len(q, "once.fifo").await,
            1,
            "a duplicate of an in-flight message is not enqueued"
        );
        send(
            q,
            "once.fifo",
            OutgoingMessage::new("other id")
                .in_group("g")
                .with_dedup_id("exec-42-step-2"),
        )
        .await;
        assert_eq!(len(q, "once.fifo").await, 2, "other ids are independent");
        send(q, "once.fifo", OutgoingMessage::new("no id").in_group("g")).await;
        send(q, "once.fifo", OutgoingMessage::new("no id").in_group("g")).await;
        assert_eq!(
            len(q, "once.fifo").await,
            4,
            "without a dedup_id nothing is deduplicated, equal bodies included"
        );
        delete(q, "once.fifo", &got.receipt_handle).await;
        let rest = receive_with(q, "once.fifo", 10, VT, NO_WAIT).await;
        assert_eq!(bodies(&rest), ["other id", "no id", "no id"]);
    }

    /// After `max_receive_count` deliveries the message moves to the dead-letter queue
    /// (same id and body) instead of being delivered again.
    pub async fn dead_letter_after_max_receives(q: Arc<dyn Queue>) {
        let q = &*q;
        create(q, QueueSpec::standard("poison-dlq")).await;
        create(
            q,
            QueueSpec::standard("poison").with_dead_letter("poison-dlq", 2),
        )
        .await;
        let id = send(q, "poison", OutgoingMessage::new("boom")).await;
        send(q, "poison", OutgoingMessage::new("fine")).await;
        for attempt in 1..=2 {
            let got = receive_with(q, "poison", 10, SHORT, NO_WAIT).await;
            let boom = got
                .iter()
                .find(|m| m.body == "boom")
                .unwrap_or_else(|| panic!("delivery #{attempt} of the poison message"));
            assert_eq!(boom.receive_count, attempt);
            for m in got.iter().filter(|m| m.body == "fine") {
                delete(q, "poison", &m.receipt_handle).await;
            }
            sleep(PAST_SHORT).await;
        }
        assert!(
            receive_with(q, "poison", 10, VT, NO_WAIT).await.is_empty(),
            "a third delivery does not happen"
        );
        assert_eq!(len(q, "poison").await, 0);
        assert_eq!(len(q, "poison-dlq").await, 1);
        let dead = receive_one_with(q, "poison-dlq", VT).await;
        assert_eq!(dead.id, id, "the dead letter keeps its id");
        assert_eq!(dead.body, "boom");
        assert!(dead.receive_count >= 1);
        delete(q, "poison-dlq", &dead.receipt_handle).await;
        assert_eq!(len(q, "poison-dlq").await, 0);
    }

    /// In a FIFO queue a dead-lettered head unblocks the rest of its group, and keeps its
    /// group in the FIFO dead-letter queue.
    pub async fn fifo_dead_letter_unblocks_group(q: Arc<dyn Queue>) {
        let q = &*q;
        create(q, QueueSpec::fifo("dead.fifo")).await;
        create(
            q,
            QueueSpec::fifo("steps.fifo").with_dead_letter("dead.fifo", 1),
        )
        .await;
        for body in ["bad", "good"] {
            send(q, "steps.fifo", OutgoingMessage::new(body).in_group("G")).await;
        }
        assert_eq!(receive_one_with(q, "steps.fifo", SHORT).await.body, "bad");
        sleep(PAST_SHORT).await;
        let next = receive_one_with(q, "steps.fifo", VT).await;
        assert_eq!(next.body, "good", "the group moves on past the dead letter");
        assert_eq!(next.receive_count, 1);
        let dead = receive_one_with(q, "dead.fifo", VT).await;
        assert_eq!(dead.body, "bad");
        assert_eq!(dead.group_id.as_deref(), Some("G"));
    }

    /// A long poll wakes when a delayed message becomes due, long before its wait ends:
    /// it returns the message after the delay (counted from the send) and well before
    /// the end of its 20 s wait.
    pub async fn long_poll_wakes_on_clock_advance(q: Arc<dyn Queue>) {
        let delay = Duration::from_secs(2);
        let wait = kite_ports::queue::MAX_WAIT;
        create(&*q, QueueSpec::standard("tick")).await;
        let sent = Instant::now();
        send(&*q, "tick", OutgoingMessage::new("due").with_delay(delay)).await;
        let polled = Instant::now();
        let got = receive_with(&*q, "tick", 1, VT, wait).await;
        let returned = Instant::now();
        assert_eq!(bodies(&got), ["due"]);
        not_before(returned, sent, delay, "the long poll returned the message");
        let waited = returned.duration_since(polled);
        assert!(
            waited < wait / 2,
            "the long poll woke when the message became due, not at the end of its {wait:?} wait (took {waited:?})"
        );
    }
}

/// `with_urls` queues make no lookup; a queue is found by its prefixed SQS name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_are_cached_or_given() {
    use kite_ports::{OutgoingMessage, QueueSpec};
    let clients = testing::clients().await;
    let queue = SqsQueue::new(&clients);
    queue
        .ensure_queue(&QueueSpec::standard("worker"))
        .await
        .expect("ensure");
    let url = queue.url("worker").await.expect("url");
    assert!(
        url.ends_with(&format!("/{}worker", clients.config.prefix)),
        "logical `worker` is SQS `{{prefix}}worker`: {url}"
    );

    let given = SqsQueue::with_urls(&clients, [("worker".to_owned(), url.clone())]);
    let before = clients.metrics.snapshot();
    given
        .send("worker", OutgoingMessage::new("hi"))
        .await
        .expect("send");
    let calls = clients.metrics.snapshot().since(&before);
    assert_eq!(
        calls
            .requests
            .keys()
            .map(|(_, op)| op.as_str())
            .collect::<Vec<_>>(),
        ["SendMessage"],
        "a given URL is not looked up"
    );
    assert_eq!(given.approximate_len("worker").await.expect("len"), 1);

    queue.delete_queue("worker").await.expect("delete");
    queue
        .delete_queue("worker")
        .await
        .expect("deleting again is fine");
    assert!(matches!(
        queue.approximate_len("worker").await,
        Err(kite_ports::QueueError::QueueNotFound { .. })
    ));
}

/// `create` applies a resource definition (redrive, retention, FIFO high throughput) and
/// is idempotent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_from_resource_definitions() {
    let clients = testing::clients().await;
    let queue = SqsQueue::new(&clients);
    let resources = kite_aws::resources::Resources::load();
    for _ in 0..2 {
        for def in &resources.queues {
            queue.create(def).await.expect("create");
        }
    }
    let url = queue.url("executor.fifo").await.expect("url");
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    let get = |name: &str| {
        attrs
            .get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(get("FifoQueue"), "true");
    assert_eq!(get("VisibilityTimeout"), "120");
    assert_eq!(get("MessageRetentionPeriod"), "1209600");
    assert_eq!(get("ContentBasedDeduplication"), "false");
    assert_eq!(get("DeduplicationScope"), "messageGroup");
    assert_eq!(get("FifoThroughputLimit"), "perMessageGroupId");
    let redrive: serde_json::Value =
        serde_json::from_str(&get("RedrivePolicy")).expect("redrive policy");
    assert_eq!(redrive["maxReceiveCount"], 10);
    assert!(
        redrive["deadLetterTargetArn"].as_str().is_some_and(
            |arn| arn.ends_with(&format!("{}executor-dlq.fifo", clients.config.prefix))
        ),
        "{redrive}"
    );
    for def in resources.queues.iter().rev() {
        queue.delete_queue(&def.name).await.expect("delete");
    }
}
