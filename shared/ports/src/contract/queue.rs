//! Contract cases of the [`Queue`] port.
//!
//! Each case creates its own queues, so the implementation handed in only has
//! to be empty. Real waiting is limited to the long-poll cases, whose time bounds
//! are generous (a loaded machine passes them, a poll that misses its wake-up does
//! not); everything else moves the [`ManualClock`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Fixture, run_cases};
use crate::clock::ManualClock;
use crate::queue::{
    MAX_BATCH, MAX_DELAY, MAX_MESSAGE_BYTES, MAX_VISIBILITY_TIMEOUT, MAX_WAIT, OutgoingMessage,
    Queue, QueueError, QueueSpec, ReceiptHandle, ReceivedMessage,
};

/// Cases that need the implementation to take time from the [`ManualClock`].
pub const TIME_TRAVEL: &[&str] = &[
    "visibility_timeout_redelivers",
    "change_visibility_extends_and_releases",
    "deletes_are_idempotent_and_receipts_checked",
    "standard_delay",
    "fifo_redelivery_keeps_order",
    "fifo_deduplication",
    "dead_letter_after_max_receives",
    "fifo_dead_letter_unblocks_group",
    "long_poll_wakes_on_clock_advance",
];

/// The cases of this suite, listed once: `__kite_queue_cases!([callback] args…)` expands to
/// `callback!(args… [case, …])`.
#[doc(hidden)]
#[macro_export]
macro_rules! __kite_queue_cases {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { $($args)* [
            send_receive_delete,
            unknown_queue_is_an_error,
            ensure_queue_is_idempotent_and_validated,
            queues_are_isolated,
            message_validation,
            message_size_limit,
            batches,
            receive_limits,
            visibility_timeout_redelivers,
            change_visibility_extends_and_releases,
            deletes_are_idempotent_and_receipts_checked,
            standard_delay,
            fifo_group_order_and_blocking,
            fifo_groups_in_parallel,
            fifo_redelivery_keeps_order,
            fifo_batch_receive_keeps_group_order,
            fifo_deduplication,
            dead_letter_after_max_receives,
            fifo_dead_letter_unblocks_group,
            purge_and_len,
            long_poll_wakes_on_send,
            long_poll_wakes_on_clock_advance,
            long_poll_times_out,
            concurrent_receivers_never_share,
        ] }
    };
}

/// The names of every case of this suite.
pub const CASES: &[&str] = crate::__kite_queue_cases!([crate::__kite_case_names]);

/// Runs every queue case, each on a fresh implementation from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = Fixture<dyn Queue>>,
{
    crate::__kite_queue_cases!([run_cases] queue, make,);
}

const VT: Duration = Duration::from_secs(30);
const NO_WAIT: Duration = Duration::ZERO;

async fn create(q: &dyn Queue, spec: QueueSpec) {
    let name = spec.name.clone();
    q.ensure_queue(&spec)
        .await
        .unwrap_or_else(|e| panic!("ensure_queue({name}) failed: {e}"));
}

async fn send(q: &dyn Queue, queue: &str, msg: OutgoingMessage) -> crate::queue::MessageId {
    q.send(queue, msg)
        .await
        .unwrap_or_else(|e| panic!("send to {queue} failed: {e}"))
}

async fn send_body(q: &dyn Queue, queue: &str, body: &str) -> crate::queue::MessageId {
    send(q, queue, OutgoingMessage::new(body)).await
}

async fn send_in_group(q: &dyn Queue, queue: &str, group: &str, body: &str) {
    send(q, queue, OutgoingMessage::new(body).in_group(group)).await;
}

async fn receive(q: &dyn Queue, queue: &str, max: usize) -> Vec<ReceivedMessage> {
    q.receive(queue, max, VT, NO_WAIT)
        .await
        .unwrap_or_else(|e| panic!("receive from {queue} failed: {e}"))
}

async fn receive_one(q: &dyn Queue, queue: &str) -> ReceivedMessage {
    let mut got = receive(q, queue, 1).await;
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

/// Send, receive (id, body, count, receipt), delete: the message is gone.
pub async fn send_receive_delete(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("jobs")).await;
    let id = send_body(q, "jobs", "hello").await;
    assert_eq!(len(q, "jobs").await, 1);
    let got = receive_one(q, "jobs").await;
    assert_eq!(got.id, id, "the received id is the sent id");
    assert_eq!(got.body, "hello");
    assert_eq!(got.receive_count, 1, "first delivery counts 1");
    assert_eq!(got.group_id, None);
    assert!(
        receive(q, "jobs", 10).await.is_empty(),
        "an in-flight message is invisible"
    );
    delete(q, "jobs", &got.receipt_handle).await;
    assert_eq!(len(q, "jobs").await, 0, "deleted messages are gone");
    clock.advance(VT * 2);
    assert!(
        receive(q, "jobs", 10).await.is_empty(),
        "a deleted message never comes back"
    );
}

/// Every operation on a queue that was never created fails with
/// `QueueNotFound` naming it.
pub async fn unknown_queue_is_an_error(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    let receipt = ReceiptHandle::new("whatever");
    let results = [
        q.send("nope", OutgoingMessage::new("x")).await.err(),
        q.send_batch("nope", vec![OutgoingMessage::new("x")])
            .await
            .err(),
        q.receive("nope", 1, VT, NO_WAIT).await.err(),
        q.purge("nope").await.err(),
        q.approximate_len("nope").await.err(),
        q.delete_batch("nope", std::slice::from_ref(&receipt))
            .await
            .err(),
    ];
    for (i, err) in results.into_iter().enumerate() {
        match err {
            Some(QueueError::QueueNotFound { queue }) => assert_eq!(queue, "nope"),
            other => panic!("operation #{i} on a missing queue gave {other:?}"),
        }
    }
}

/// `ensure_queue` is idempotent, updates attributes, and refuses bad
/// definitions (FIFO naming, missing or mismatched dead-letter queue).
pub async fn ensure_queue_is_idempotent_and_validated(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("work")).await;
    send_body(q, "work", "kept").await;
    create(q, QueueSpec::standard("work")).await;
    create(
        q,
        QueueSpec::standard("work").with_visibility_timeout(Duration::from_secs(60)),
    )
    .await;
    assert_eq!(
        len(q, "work").await,
        1,
        "re-ensuring a queue keeps its messages"
    );

    let invalid = [
        QueueSpec::fifo("no-suffix"),
        QueueSpec::standard("suffix.fifo"),
        QueueSpec::standard("bad name"),
        QueueSpec::standard("work2").with_dead_letter("missing-dlq", 3),
        QueueSpec::standard("work2").with_dead_letter("work2", 3),
    ];
    for spec in invalid {
        match q.ensure_queue(&spec).await {
            Err(QueueError::InvalidSpec { .. }) => {}
            other => panic!("{spec:?} should be refused as InvalidSpec, got {other:?}"),
        }
    }
    create(q, QueueSpec::fifo("dlq.fifo")).await;
    match q
        .ensure_queue(&QueueSpec::standard("work2").with_dead_letter("dlq.fifo", 3))
        .await
    {
        Err(QueueError::InvalidSpec { queue, .. }) => assert_eq!(queue, "work2"),
        other => panic!("a standard queue cannot redrive to a FIFO one, got {other:?}"),
    }
    create(q, QueueSpec::standard("dlq")).await;
    create(q, QueueSpec::standard("work2").with_dead_letter("dlq", 3)).await;
    create(q, QueueSpec::standard("work2")).await;
}

/// Messages of one queue are never delivered from another.
pub async fn queues_are_isolated(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("left")).await;
    create(q, QueueSpec::standard("right")).await;
    send_body(q, "left", "l").await;
    assert!(receive(q, "right", 10).await.is_empty());
    assert_eq!(len(q, "right").await, 0);
    let got = receive_one(q, "left").await;
    assert_eq!(got.body, "l");
    match q.delete("right", &got.receipt_handle).await {
        Ok(()) | Err(QueueError::ReceiptInvalid { .. }) => {}
        Err(other) => panic!("deleting with another queue's receipt gave {other}"),
    }
    assert_eq!(
        len(q, "left").await,
        1,
        "a receipt only deletes in its own queue"
    );
}

/// FIFO needs a group and refuses delays; standard refuses group and dedup
/// ids and delays over 15 minutes; bodies use the SQS character set.
pub async fn message_validation(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("std")).await;
    create(q, QueueSpec::fifo("ordered.fifo")).await;
    let cases = [
        ("ordered.fifo", OutgoingMessage::new("no group")),
        (
            "ordered.fifo",
            OutgoingMessage::new("delayed")
                .in_group("g")
                .with_delay(Duration::from_secs(1)),
        ),
        (
            "ordered.fifo",
            OutgoingMessage::new("empty group").in_group(""),
        ),
        (
            "ordered.fifo",
            OutgoingMessage::new("long group").in_group("g".repeat(129)),
        ),
        ("std", OutgoingMessage::new("grouped").in_group("g")),
        ("std", OutgoingMessage::new("dedup").with_dedup_id("d")),
        (
            "std",
            OutgoingMessage::new("late").with_delay(MAX_DELAY + Duration::from_secs(1)),
        ),
        ("std", OutgoingMessage::new("")),
        ("std", OutgoingMessage::new("nul \u{0} byte")),
        ("std", OutgoingMessage::new("bell \u{7}")),
    ];
    for (queue, msg) in cases {
        match q.send(queue, msg.clone()).await {
            Err(QueueError::InvalidMessage { queue: named, .. }) => assert_eq!(named, queue),
            other => panic!("{msg:?} on {queue} should be InvalidMessage, got {other:?}"),
        }
    }
    assert_eq!(len(q, "std").await, 0);
    assert_eq!(len(q, "ordered.fifo").await, 0);
    send(q, "std", OutgoingMessage::new("tab\tnewline\n ünïcødé 🚀")).await;
    send(
        q,
        "std",
        OutgoingMessage::new("max delay").with_delay(MAX_DELAY),
    )
    .await;
    assert_eq!(
        receive_one(q, "std").await.body,
        "tab\tnewline\n ünïcødé 🚀"
    );
}

/// 256 KiB (counted in UTF-8 bytes) is accepted and delivered intact; one
/// byte more is refused with a message pointing at storage; batches are
/// limited to 256 KiB in total.
pub async fn message_size_limit(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("big")).await;
    let max = "m".repeat(MAX_MESSAGE_BYTES);
    send_body(q, "big", &max).await;
    let got = receive_one(q, "big").await;
    assert_eq!(got.body.len(), MAX_MESSAGE_BYTES);
    assert!(got.body == max, "the largest message arrives intact");

    match q
        .send(
            "big",
            OutgoingMessage::new("m".repeat(MAX_MESSAGE_BYTES + 1)),
        )
        .await
    {
        Err(err @ QueueError::MessageTooLarge { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("big") && text.contains("storage"),
                "the error names the queue and the way out: {text}"
            );
        }
        other => panic!("an oversized message should be refused, got {other:?}"),
    }
    let multibyte = "é".repeat(MAX_MESSAGE_BYTES / 2 + 1);
    assert!(
        matches!(
            q.send("big", OutgoingMessage::new(multibyte)).await,
            Err(QueueError::MessageTooLarge { .. })
        ),
        "the limit counts bytes, not characters"
    );
    let third = "b".repeat(MAX_MESSAGE_BYTES / 3 + 1);
    let batch = vec![OutgoingMessage::new(third); 3];
    assert!(
        matches!(
            q.send_batch("big", batch).await,
            Err(QueueError::BatchTooLarge { .. })
        ),
        "a batch is limited to 256 KiB in total"
    );
    assert_eq!(len(q, "big").await, 1, "refused sends leave nothing behind");
}

/// Batches of 1..=10 keep their order; invalid batches send nothing;
/// `delete_batch` answers per entry.
pub async fn batches(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("batch.fifo")).await;
    let msgs: Vec<_> = (0..MAX_BATCH)
        .map(|i| OutgoingMessage::new(format!("m{i}")).in_group("g"))
        .collect();
    let ids = q
        .send_batch("batch.fifo", msgs)
        .await
        .unwrap_or_else(|e| panic!("a batch of 10 is fine: {e}"));
    assert_eq!(ids.len(), MAX_BATCH);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        MAX_BATCH,
        "ids are unique"
    );

    for size in [0, MAX_BATCH + 1] {
        let msgs = vec![OutgoingMessage::new("x").in_group("g"); size];
        assert!(
            matches!(
                q.send_batch("batch.fifo", msgs).await,
                Err(QueueError::InvalidArgument { .. })
            ),
            "a batch of {size} is refused"
        );
    }
    let mixed = vec![
        OutgoingMessage::new("fine").in_group("g"),
        OutgoingMessage::new("no group"),
    ];
    assert!(q.send_batch("batch.fifo", mixed).await.is_err());
    assert_eq!(
        len(q, "batch.fifo").await,
        MAX_BATCH,
        "an invalid batch sends nothing"
    );

    let got = receive(q, "batch.fifo", MAX_BATCH).await;
    let expected: Vec<String> = (0..MAX_BATCH).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies(&got), expected, "batch order is send order");
    let got_ids: Vec<_> = got.iter().map(|m| m.id.clone()).collect();
    assert_eq!(got_ids, ids, "ids match the batch answer, in order");
    let receipts: Vec<_> = got.iter().map(|m| m.receipt_handle.clone()).collect();
    let results = q
        .delete_batch("batch.fifo", &receipts)
        .await
        .unwrap_or_else(|e| panic!("delete_batch failed: {e}"));
    assert_eq!(results.len(), MAX_BATCH);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(len(q, "batch.fifo").await, 0);
    for receipts in [Vec::new(), vec![receipts[0].clone(); MAX_BATCH + 1]] {
        assert!(matches!(
            q.delete_batch("batch.fifo", &receipts).await,
            Err(QueueError::InvalidArgument { .. })
        ));
    }
}

/// `receive` takes 1..=10 messages, waits at most 20 s, hides at most 12 h,
/// and never returns more than asked.
pub async fn receive_limits(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("limits")).await;
    for i in 0..5 {
        send_body(q, "limits", &format!("m{i}")).await;
    }
    let bad = [
        (0, VT, NO_WAIT),
        (MAX_BATCH + 1, VT, NO_WAIT),
        (1, MAX_VISIBILITY_TIMEOUT + Duration::from_secs(1), NO_WAIT),
        (1, VT, MAX_WAIT + Duration::from_secs(1)),
    ];
    for (max, vt, wait) in bad {
        assert!(
            matches!(
                q.receive("limits", max, vt, wait).await,
                Err(QueueError::InvalidArgument { .. })
            ),
            "receive({max}, {vt:?}, {wait:?}) should be refused"
        );
    }
    assert_eq!(receive(q, "limits", 3).await.len(), 3);
    assert_eq!(receive(q, "limits", 10).await.len(), 2);
}

/// An undeleted message comes back after its visibility timeout (not
/// before), with a higher receive count and a new receipt.
pub async fn visibility_timeout_redelivers(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("retry")).await;
    let id = send_body(q, "retry", "work").await;
    let first = receive_one(q, "retry").await;
    clock.advance(VT - Duration::from_secs(1));
    assert!(
        receive(q, "retry", 10).await.is_empty(),
        "still invisible 1 s before the timeout"
    );
    clock.advance(Duration::from_secs(1));
    let second = receive_one(q, "retry").await;
    assert_eq!(second.id, id);
    assert_eq!(second.body, "work");
    assert_eq!(second.receive_count, 2, "redelivery increments the count");
    assert_ne!(
        second.receipt_handle, first.receipt_handle,
        "each delivery has its own receipt"
    );
    clock.advance(VT);
    assert_eq!(receive_one(q, "retry").await.receive_count, 3);
    assert_eq!(len(q, "retry").await, 1);
}

/// `change_visibility` extends the timeout, and zero makes the message
/// visible at once.
pub async fn change_visibility_extends_and_releases(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("lease")).await;
    send_body(q, "lease", "work").await;
    let got = receive_one(q, "lease").await;
    q.change_visibility("lease", &got.receipt_handle, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("extending visibility failed: {e}"));
    clock.advance(VT + Duration::from_secs(1));
    assert!(
        receive(q, "lease", 1).await.is_empty(),
        "the extension holds past the original timeout"
    );
    q.change_visibility("lease", &got.receipt_handle, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("releasing failed: {e}"));
    let again = receive_one(q, "lease").await;
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

/// Deleting twice is fine; a malformed receipt is `ReceiptInvalid`; a stale
/// receipt (message received again since) never deletes anything but the
/// message: it either fails with `StaleReceipt` or is accepted like SQS does,
/// and the current receipt always finishes the job.
pub async fn deletes_are_idempotent_and_receipts_checked(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("acks")).await;
    send_body(q, "acks", "once").await;
    let got = receive_one(q, "acks").await;
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

    send_body(q, "acks", "twice").await;
    let first = receive_one(q, "acks").await;
    clock.advance(VT);
    let second = receive_one(q, "acks").await;
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

/// A delayed message stays invisible until due (standard queues).
pub async fn standard_delay(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("later")).await;
    send(
        q,
        "later",
        OutgoingMessage::new("delayed").with_delay(Duration::from_secs(60)),
    )
    .await;
    send_body(q, "later", "now").await;
    let now = receive(q, "later", 10).await;
    assert_eq!(
        bodies(&now),
        ["now"],
        "only the undelayed message is visible"
    );
    delete(q, "later", &now[0].receipt_handle).await;
    assert_eq!(len(q, "later").await, 1, "delayed messages count");
    clock.advance(Duration::from_secs(59));
    assert!(receive(q, "later", 10).await.is_empty());
    clock.advance(Duration::from_secs(1));
    let got = receive_one(q, "later").await;
    assert_eq!(got.body, "delayed");
    assert_eq!(got.receive_count, 1);
}

/// One group is delivered in send order and blocked while a message of it is
/// in flight; deleting (or releasing) the head unblocks it.
pub async fn fifo_group_order_and_blocking(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("orders.fifo")).await;
    for body in ["a1", "a2", "a3"] {
        send_in_group(q, "orders.fifo", "A", body).await;
    }
    let head = receive_one(q, "orders.fifo").await;
    assert_eq!(head.body, "a1");
    assert_eq!(head.group_id.as_deref(), Some("A"));
    assert!(
        receive(q, "orders.fifo", 10).await.is_empty(),
        "the group is blocked while a1 is in flight"
    );
    delete(q, "orders.fifo", &head.receipt_handle).await;
    let next = receive_one(q, "orders.fifo").await;
    assert_eq!(next.body, "a2");
    q.change_visibility("orders.fifo", &next.receipt_handle, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("releasing a2 failed: {e}"));
    let rest = receive(q, "orders.fifo", 10).await;
    assert_eq!(
        bodies(&rest),
        ["a2", "a3"],
        "a released head comes first again, then the rest in order"
    );
    assert_eq!(rest[0].receive_count, 2);
}

/// Different groups proceed in parallel: a blocked group does not hold back
/// another one.
pub async fn fifo_groups_in_parallel(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("lanes.fifo")).await;
    send_in_group(q, "lanes.fifo", "A", "a1").await;
    send_in_group(q, "lanes.fifo", "A", "a2").await;
    send_in_group(q, "lanes.fifo", "B", "b1").await;
    send_in_group(q, "lanes.fifo", "B", "b2").await;
    let first = receive_one(q, "lanes.fifo").await;
    assert_eq!(first.body, "a1", "the oldest message goes first");
    let second = receive_one(q, "lanes.fifo").await;
    assert_eq!(second.body, "b1", "group B proceeds while A is blocked");
    assert!(receive(q, "lanes.fifo", 10).await.is_empty());
    delete(q, "lanes.fifo", &second.receipt_handle).await;
    assert_eq!(receive_one(q, "lanes.fifo").await.body, "b2");
    delete(q, "lanes.fifo", &first.receipt_handle).await;
    assert_eq!(receive_one(q, "lanes.fifo").await.body, "a2");
}

/// A FIFO message whose timeout lapses is redelivered before the rest of its
/// group.
pub async fn fifo_redelivery_keeps_order(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("steps.fifo")).await;
    send_in_group(q, "steps.fifo", "exec-1", "s1").await;
    send_in_group(q, "steps.fifo", "exec-1", "s2").await;
    let first = receive_one(q, "steps.fifo").await;
    assert_eq!(first.body, "s1");
    clock.advance(VT);
    let again = receive_one(q, "steps.fifo").await;
    assert_eq!(again.body, "s1", "the lapsed head comes back before s2");
    assert_eq!(again.receive_count, 2);
    delete(q, "steps.fifo", &again.receipt_handle).await;
    assert_eq!(receive_one(q, "steps.fifo").await.body, "s2");
}

/// Interleaved groups: every message is eventually received, and each group
/// in send order, even when one receive returns several messages.
pub async fn fifo_batch_receive_keeps_group_order(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("mix.fifo")).await;
    let sent = [
        ("A", "a1"),
        ("B", "b1"),
        ("A", "a2"),
        ("C", "c1"),
        ("B", "b2"),
        ("A", "a3"),
    ];
    for (group, body) in sent {
        send_in_group(q, "mix.fifo", group, body).await;
    }
    let mut seen = Vec::new();
    for _ in 0..sent.len() {
        let got = receive(q, "mix.fifo", 10).await;
        for m in &got {
            seen.push((m.group_id.clone().unwrap_or_default(), m.body.clone()));
            delete(q, "mix.fifo", &m.receipt_handle).await;
        }
        if seen.len() == sent.len() {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        sent.len(),
        "every message is received: {seen:?}"
    );
    for group in ["A", "B", "C"] {
        let order: Vec<&str> = seen
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, b)| b.as_str())
            .collect();
        let expected: Vec<&str> = sent
            .iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, b)| *b)
            .collect();
        assert_eq!(order, expected, "group {group} is delivered in send order");
    }
}

/// A deduplication id suppresses re-sends for 5 minutes after the first send
/// (even after the first was deleted); the duplicate returns the first id.
pub async fn fifo_deduplication(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("once.fifo")).await;
    let msg = |body: &str| {
        OutgoingMessage::new(body)
            .in_group("g")
            .with_dedup_id("exec-42-step-1")
    };
    let first = send(q, "once.fifo", msg("first")).await;
    clock.advance(Duration::from_secs(60));
    let dup = send(q, "once.fifo", msg("second")).await;
    assert_eq!(dup, first, "a duplicate send returns the original id");
    assert_eq!(len(q, "once.fifo").await, 1, "duplicates are not enqueued");
    let got = receive_one(q, "once.fifo").await;
    assert_eq!(got.body, "first");
    delete(q, "once.fifo", &got.receipt_handle).await;
    clock.advance(Duration::from_secs(239));
    send(q, "once.fifo", msg("third")).await;
    assert_eq!(
        len(q, "once.fifo").await,
        0,
        "the window outlives the deleted original"
    );
    send(
        q,
        "once.fifo",
        OutgoingMessage::new("other id")
            .in_group("g")
            .with_dedup_id("exec-42-step-2"),
    )
    .await;
    assert_eq!(len(q, "once.fifo").await, 1, "other ids are independent");
    clock.advance(Duration::from_secs(1));
    let fresh = send(q, "once.fifo", msg("fourth")).await;
    assert_ne!(fresh, first, "after 5 minutes the id is new again");
    assert_eq!(len(q, "once.fifo").await, 2);
}

/// After `max_receive_count` deliveries the message moves to the dead-letter
/// queue (same id and body) instead of being delivered again.
pub async fn dead_letter_after_max_receives(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("poison-dlq")).await;
    create(
        q,
        QueueSpec::standard("poison").with_dead_letter("poison-dlq", 2),
    )
    .await;
    let id = send_body(q, "poison", "boom").await;
    send_body(q, "poison", "fine").await;
    for attempt in 1..=2 {
        let got = receive(q, "poison", 10).await;
        let boom = got
            .iter()
            .find(|m| m.body == "boom")
            .unwrap_or_else(|| panic!("delivery #{attempt} of the poison message"));
        assert_eq!(boom.receive_count, attempt);
        for m in got.iter().filter(|m| m.body == "fine") {
            delete(q, "poison", &m.receipt_handle).await;
        }
        clock.advance(VT);
    }
    assert!(
        receive(q, "poison", 10).await.is_empty(),
        "a third delivery does not happen"
    );
    assert_eq!(len(q, "poison").await, 0);
    assert_eq!(len(q, "poison-dlq").await, 1);
    let dead = receive_one(q, "poison-dlq").await;
    assert_eq!(dead.id, id, "the dead letter keeps its id");
    assert_eq!(dead.body, "boom");
    assert!(dead.receive_count >= 1);
    delete(q, "poison-dlq", &dead.receipt_handle).await;
}

/// In a FIFO queue a dead-lettered head unblocks the rest of its group, and
/// keeps its group in the FIFO dead-letter queue.
pub async fn fifo_dead_letter_unblocks_group(q: Arc<dyn Queue>, clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::fifo("dead.fifo")).await;
    create(
        q,
        QueueSpec::fifo("steps.fifo").with_dead_letter("dead.fifo", 1),
    )
    .await;
    send_in_group(q, "steps.fifo", "G", "bad").await;
    send_in_group(q, "steps.fifo", "G", "good").await;
    assert_eq!(receive_one(q, "steps.fifo").await.body, "bad");
    clock.advance(VT);
    let next = receive_one(q, "steps.fifo").await;
    assert_eq!(next.body, "good", "the group moves on past the dead letter");
    assert_eq!(next.receive_count, 1);
    let dead = receive_one(q, "dead.fifo").await;
    assert_eq!(dead.body, "bad");
    assert_eq!(dead.group_id.as_deref(), Some("G"));
}

/// `purge` empties one queue; `approximate_len` counts visible, in-flight and
/// delayed messages.
pub async fn purge_and_len(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("full")).await;
    create(q, QueueSpec::standard("other")).await;
    send_body(q, "full", "visible").await;
    send_body(q, "full", "in flight").await;
    send(
        q,
        "full",
        OutgoingMessage::new("delayed").with_delay(Duration::from_secs(600)),
    )
    .await;
    send_body(q, "other", "stays").await;
    receive_one(q, "full").await;
    assert_eq!(len(q, "full").await, 3);
    q.purge("full")
        .await
        .unwrap_or_else(|e| panic!("purge failed: {e}"));
    assert_eq!(len(q, "full").await, 0);
    assert!(receive(q, "full", 10).await.is_empty());
    assert_eq!(len(q, "other").await, 1, "purge touches one queue only");
    send_body(q, "full", "after").await;
    assert_eq!(receive_one(q, "full").await.body, "after");
}

/// Starts a long poll of `queue` (the longest wait allowed) on its own task and returns it
/// once that task is about to call `receive`: the caller's next step happens while the poll
/// waits (or, if the poll is slow to start, before it, which it must also handle).
async fn long_poll_in_background(
    q: &Arc<dyn Queue>,
    queue: &'static str,
) -> tokio::task::JoinHandle<Result<Vec<ReceivedMessage>, QueueError>> {
    let receiver = Arc::clone(q);
    let (polling, started) = tokio::sync::oneshot::channel();
    let waiting = tokio::spawn(async move {
        let _ = polling.send(());
        receiver.receive(queue, 1, VT, MAX_WAIT).await
    });
    started
        .await
        .unwrap_or_else(|e| panic!("receiver task did not start: {e}"));
    waiting
}

/// A long poll that returned within this woke on its event: one that missed the event
/// returns at the end of its wait ([`MAX_WAIT`]). Half of it leaves a loaded machine ample
/// time.
const WOKE_WITHIN: Duration = Duration::from_secs(MAX_WAIT.as_secs() / 2);

/// A long poll returns as soon as a message is sent, not at the end of its
/// wait.
pub async fn long_poll_wakes_on_send(q: Arc<dyn Queue>, _clock: ManualClock) {
    create(&*q, QueueSpec::standard("wake")).await;
    let started = Instant::now();
    let waiting = long_poll_in_background(&q, "wake").await;
    send_body(&*q, "wake", "ping").await;
    let got = waiting
        .await
        .unwrap_or_else(|e| panic!("receiver task failed: {e}"))
        .unwrap_or_else(|e| panic!("long poll failed: {e}"));
    assert_eq!(bodies(&got), ["ping"]);
    let took = started.elapsed();
    assert!(
        took < WOKE_WITHIN,
        "the long poll woke when the message was sent, not at the end of its {MAX_WAIT:?} wait (took {took:?})"
    );
}

/// A long poll also wakes when the clock moves a delayed message into view.
pub async fn long_poll_wakes_on_clock_advance(q: Arc<dyn Queue>, clock: ManualClock) {
    create(&*q, QueueSpec::standard("tick")).await;
    send(
        &*q,
        "tick",
        OutgoingMessage::new("due").with_delay(Duration::from_secs(300)),
    )
    .await;
    let started = Instant::now();
    let waiting = long_poll_in_background(&q, "tick").await;
    clock.advance(Duration::from_secs(300));
    let got = waiting
        .await
        .unwrap_or_else(|e| panic!("receiver task failed: {e}"))
        .unwrap_or_else(|e| panic!("long poll failed: {e}"));
    assert_eq!(bodies(&got), ["due"]);
    let took = started.elapsed();
    assert!(
        took < WOKE_WITHIN,
        "the long poll woke when the clock moved, not at the end of its {MAX_WAIT:?} wait (took {took:?})"
    );
}

/// An empty long poll returns empty after its wait (never before it; the upper bound only
/// catches a wait taken in the wrong unit), and a zero wait returns at once (well before a
/// long poll would).
pub async fn long_poll_times_out(q: Arc<dyn Queue>, _clock: ManualClock) {
    let q = &*q;
    create(q, QueueSpec::standard("quiet")).await;
    let started = Instant::now();
    let got = q
        .receive("quiet", 10, VT, Duration::from_millis(100))
        .await
        .unwrap_or_else(|e| panic!("long poll failed: {e}"));
    assert!(got.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(90) && waited < WOKE_WITHIN,
        "waited {waited:?} for a 100 ms poll"
    );
    let started = Instant::now();
    assert!(receive(q, "quiet", 10).await.is_empty());
    let waited = started.elapsed();
    assert!(
        waited < WOKE_WITHIN,
        "a zero wait does not long-poll (took {waited:?})"
    );
}

/// Concurrent receivers split the messages: none is delivered twice while
/// its visibility timeout holds.
pub async fn concurrent_receivers_never_share(q: Arc<dyn Queue>, _clock: ManualClock) {
    const MESSAGES: usize = 40;
    create(&*q, QueueSpec::standard("shared")).await;
    for chunk in 0..MESSAGES / MAX_BATCH {
        let msgs = (0..MAX_BATCH)
            .map(|i| OutgoingMessage::new(format!("m{}", chunk * MAX_BATCH + i)))
            .collect();
        q.send_batch("shared", msgs)
            .await
            .unwrap_or_else(|e| panic!("send_batch failed: {e}"));
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let q = Arc::clone(&q);
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = q
                    .receive("shared", 3, Duration::from_secs(600), NO_WAIT)
                    .await
                    .unwrap_or_else(|e| panic!("receive failed: {e}"));
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|m| m.id));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(
            worker
                .await
                .unwrap_or_else(|e| panic!("worker failed: {e}")),
        );
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), MESSAGES, "every message delivered exactly once");
    assert_eq!(unique.len(), MESSAGES, "no message delivered twice");
}
