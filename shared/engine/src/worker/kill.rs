//! How a kill reaches a running attempt: the executor's
//! [`Action::KillTask`](crate::executor::Action::KillTask) is carried out as a kill request
//! document ([`crate::repo::KillRepo`]); while an attempt runs, [`wait_for_kill`] reads that
//! document every [`KillPolling::interval`] (the first read one interval after the start,
//! so an attempt shorter than one interval costs no read). When it finds one, the worker
//! drops the attempt (a shell task's process group is killed as on a timeout) and reports
//! it KILLED.
//!
//! The interval is 200 ms locally (the process group is gone within a second of the kill)
//! and 2 s on AWS (one strongly consistent read per 2 s of a running task); the variable
//! [`INTERVAL_VARIABLE`] (milliseconds) overrides it.

use std::time::Duration;

use crate::repo::KillRepo;

/// The variable overriding the polling interval, in milliseconds.
pub const INTERVAL_VARIABLE: &str = "KITE_KILL_POLL_MS";

/// How a worker watches for kills of the attempts it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillPolling {
    /// Time between two reads of the kill request (and before the first).
    pub interval: Duration,
}

impl KillPolling {
    /// The local default: 200 ms.
    pub const LOCAL: Self = Self {
        interval: Duration::from_millis(200),
    };
    /// The AWS default: 2 s.
    pub const AWS: Self = Self {
        interval: Duration::from_secs(2),
    };

    /// `default`, or the interval [`INTERVAL_VARIABLE`] names in `env` (milliseconds, at
    /// least 10).
    pub fn from_env(env: &[(String, String)], default: Self) -> Result<Self, String> {
        let Some((_, v)) = env.iter().find(|(k, _)| k == INTERVAL_VARIABLE) else {
            return Ok(default);
        };
        match v.trim().parse::<u64>() {
            Ok(ms) if ms >= 10 => Ok(Self {
                interval: Duration::from_millis(ms),
            }),
            _ => Err(format!(
                "{INTERVAL_VARIABLE} must be a number of milliseconds of at least 10, not `{v}`"
            )),
        }
    }
}

impl Default for KillPolling {
    fn default() -> Self {
        Self::LOCAL
    }
}

/// Resolves once a kill of `task_run_id` was requested, reading every `polling.interval`
/// (first read after one interval). A failed read is retried at the next interval.
pub async fn wait_for_kill(kills: &KillRepo, task_run_id: &str, polling: KillPolling) {
    watch(kills, task_run_id, polling, tokio::time::sleep).await;
}

/// [`wait_for_kill`] with its pause between reads given (tests pace it by hand).
async fn watch<F: std::future::Future<Output = ()>>(
    kills: &KillRepo,
    task_run_id: &str,
    polling: KillPolling,
    pause: impl Fn(Duration) -> F,
) {
    loop {
        pause(polling.interval).await;
        match kills.requested(task_run_id).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(task_run = %task_run_id, "cannot read the kill request: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::Utc;
    use futures::poll;
    use kite_ports::{MemoryDocuments, SystemClock};
    use tokio::sync::Semaphore;

    use super::*;

    fn repo() -> KillRepo {
        KillRepo::new(Arc::new(MemoryDocuments::new(Arc::new(SystemClock))))
    }

    /// A pause that ends when the test adds a permit, recording the duration asked.
    struct Pacer {
        ticks: Semaphore,
        asked: Mutex<Vec<Duration>>,
    }

    impl Pacer {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                ticks: Semaphore::new(0),
                asked: Mutex::new(Vec::new()),
            })
        }

        fn pause(self: &Arc<Self>) -> impl Fn(Duration) -> futures::future::BoxFuture<'static, ()> {
            let me = self.clone();
            move |d| {
                me.asked.lock().unwrap().push(d);
                let me = me.clone();
                Box::pin(async move {
                    me.ticks.acquire().await.unwrap().forget();
                })
            }
        }
    }

    #[tokio::test]
    async fn the_first_read_is_one_interval_after_the_start() {
        let kills = repo();
        kills.request("run", "exec", Utc::now()).await.unwrap();
        let polling = KillPolling {
            interval: Duration::from_millis(500),
        };
        let pacer = Pacer::new();
        let mut w = std::pin::pin!(watch(&kills, "run", polling, pacer.pause()));
        assert!(poll!(&mut w).is_pending(), "no read before one interval");
        assert!(poll!(&mut w).is_pending());
        pacer.ticks.add_permits(1);
        assert!(poll!(&mut w).is_ready(), "read at one interval");
        assert_eq!(*pacer.asked.lock().unwrap(), vec![polling.interval]);
    }

    #[tokio::test]
    async fn a_later_kill_is_seen_at_the_next_read() {
        let kills = repo();
        let polling = KillPolling {
            interval: Duration::from_millis(200),
        };
        let pacer = Pacer::new();
        let mut w = std::pin::pin!(watch(&kills, "run", polling, pacer.pause()));
        assert!(poll!(&mut w).is_pending());
        for _ in 0..3 {
            pacer.ticks.add_permits(1);
            assert!(poll!(&mut w).is_pending(), "not killed yet");
        }
        kills.request("run", "exec", Utc::now()).await.unwrap();
        kills.request("other", "exec", Utc::now()).await.unwrap();
        assert!(poll!(&mut w).is_pending(), "seen only at the next read");
        pacer.ticks.add_permits(1);
        assert!(poll!(&mut w).is_ready());
        assert_eq!(*pacer.asked.lock().unwrap(), vec![polling.interval; 4]);
    }

    #[tokio::test]
    async fn the_real_pause_is_the_interval() {
        // An upper bound only: the watcher must not read later than about one interval
        // after the kill (a loaded machine still meets 5 s for a 50 ms interval).
        let kills = repo();
        kills.request("run", "exec", Utc::now()).await.unwrap();
        let polling = KillPolling {
            interval: Duration::from_millis(50),
        };
        let started = std::time::Instant::now();
        tokio::time::timeout(
            Duration::from_secs(5),
            wait_for_kill(&kills, "run", polling),
        )
        .await
        .expect("seen");
        assert!(
            started.elapsed() >= polling.interval,
            "not before one interval"
        );
    }

    #[test]
    fn the_interval_comes_from_the_environment() {
        let env = |v: &str| vec![(INTERVAL_VARIABLE.to_owned(), v.to_owned())];
        assert_eq!(
            KillPolling::from_env(&[], KillPolling::AWS),
            Ok(KillPolling::AWS)
        );
        assert_eq!(
            KillPolling::from_env(&env("750"), KillPolling::AWS)
                .unwrap()
                .interval,
            Duration::from_millis(750)
        );
        assert!(KillPolling::from_env(&env("5"), KillPolling::LOCAL).is_err());
        assert!(KillPolling::from_env(&env("soon"), KillPolling::LOCAL).is_err());
        assert_eq!(KillPolling::default().interval, Duration::from_millis(200));
    }
}
