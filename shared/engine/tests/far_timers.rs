//! Timers further away than a queue delay wait in the timers table until a scheduler tick
//! moves them onto the timer queue.

use std::sync::Arc;
use std::time::Duration;

use kite_engine::executor::TimerKind;
use kite_engine::services::messages::TimerMessage;
use kite_engine::services::{Platform, QueueNames};
use kite_ports::{Clock, ManualClock, MemoryDocuments, MemoryQueue, MemoryStorage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_two_hours_away_is_released_by_the_tick_that_comes_within_a_queue_delay() {
    let manual = ManualClock::new(kite_ports::contract::start_time());
    let clock: Arc<dyn Clock> = Arc::new(manual.clone());
    let work = tempfile::tempdir().unwrap();
    let p = Platform::on_ports(
        Arc::new(MemoryQueue::new(clock.clone())),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryDocuments::new(clock.clone())),
        clock.clone(),
        QueueNames::with_prefix("t-"),
        work.path().to_owned(),
    );
    p.ensure_queues().await.unwrap();
    let at = clock.now() + chrono::Duration::hours(2);
    let timer = TimerMessage {
        execution_id: "exec1".into(),
        at,
        timer: TimerKind::Sleep {
            task_run_id: "tr1".into(),
        },
    };
    p.schedule_timer(timer.clone()).await.unwrap();
    // Scheduling twice (a redelivered decision) stores one timer.
    p.schedule_timer(timer.clone()).await.unwrap();
    assert_eq!(p.queue.approximate_len(&p.names.timers).await.unwrap(), 0);

    // An hour later, still more than 15 minutes away: nothing moves.
    manual.advance(Duration::from_secs(3600));
    assert_eq!(p.tick().await.unwrap().timers_released, 0);

    // 1h50: within a queue delay; it moves, delayed to its instant, exactly once.
    manual.advance(Duration::from_secs(50 * 60));
    assert_eq!(p.tick().await.unwrap().timers_released, 1);
    assert_eq!(p.tick().await.unwrap().timers_released, 0);
    let none = p
        .queue
        .receive(&p.names.timers, 10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert!(none.is_empty(), "not visible before its instant");
    manual.advance(Duration::from_secs(10 * 60));
    let got = p
        .queue
        .receive(&p.names.timers, 10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let back: TimerMessage = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(back, timer);
}
