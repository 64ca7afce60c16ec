//! Time as a port.
//!
//! Every implementation in Kite reads "now" through a [`Clock`] handed to it,
//! never from the system directly: queue visibility timeouts, delays,
//! deduplication windows and document TTLs are all computed from the injected
//! clock, so tests can move time forward deterministically with a
//! [`ManualClock`] instead of sleeping.
//!
//! Real waiting (long-poll receive) still uses tokio time for the *duration*
//! of the wait; a clock can additionally announce jumps through
//! [`Clock::watch`], which long-poll loops select on so that advancing a
//! [`ManualClock`] wakes a parked receiver at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// A receiver that changes whenever the clock is moved by hand.
    ///
    /// Real clocks return `None` (time passes by itself; waiting on tokio
    /// timers is enough). [`ManualClock`] returns a receiver so that waiters
    /// can re-check their condition after a test advances time.
    fn watch(&self) -> Option<watch::Receiver<DateTime<Utc>>> {
        None
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn watch(&self) -> Option<watch::Receiver<DateTime<Utc>>> {
        (**self).watch()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// Advancing it notifies every [`Clock::watch`] receiver, which is how a
/// long-polling `receive` notices that a delayed or in-flight message has
/// become visible without any real sleep.
#[derive(Clone)]
pub struct ManualClock {
    time: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock frozen at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (time, _initial_receiver) = watch::channel(start);
        Self {
            time: Arc::new(time),
        }
    }

    /// Jumps to `time` (which may be in the past) and wakes watchers.
    pub fn set(&self, time: DateTime<Utc>) {
        self.time.send_replace(time);
    }

    /// Moves the clock forward by `by` and wakes watchers.
    pub fn advance(&self, by: Duration) {
        self.time.send_modify(|now| *now = add_duration(*now, by));
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &*self.time.borrow())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.time.borrow()
    }

    fn watch(&self) -> Option<watch::Receiver<DateTime<Utc>>> {
        Some(self.time.subscribe())
    }
}

/// `time + duration`, saturating at the largest representable instant.
pub fn add_duration(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| time.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How long from `now` until `later`, zero if `later` is not after `now`.
pub fn duration_until(now: DateTime<Utc>, later: DateTime<Utc>) -> Duration {
    (later - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(t0());
        assert_eq!(clock.now(), t0());
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), t0() + TimeDelta::seconds(90));
        let twin = clock.clone();
        twin.set(t0());
        assert_eq!(clock.now(), t0(), "clones share the same time");
    }

    #[tokio::test]
    async fn manual_clock_wakes_watchers() {
        let clock = ManualClock::new(t0());
        let mut watcher = clock.watch().expect("manual clocks are watchable");
        clock.advance(Duration::from_secs(1));
        watcher.changed().await.expect("sender alive");
        assert_eq!(*watcher.borrow(), t0() + TimeDelta::seconds(1));
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(
            add_duration(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(duration_until(t0(), t0()), Duration::ZERO);
        assert_eq!(
            duration_until(t0() + TimeDelta::seconds(5), t0()),
            Duration::ZERO
        );
        assert_eq!(
            duration_until(t0(), t0() + TimeDelta::seconds(5)),
            Duration::from_secs(5)
        );
        assert!(SystemClock.watch().is_none());
    }
}
