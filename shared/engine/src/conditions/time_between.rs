//! `TimeBetween`: the time of day of `date` (default `{{ trigger.date }}`) is strictly after
//! `after` and strictly before `before` (either may be left out, not both). A bound with an
//! offset (`16:00:00+02:00`) is compared as Kestra compares `OffsetTime`s: both times moved
//! to UTC on the same day, without wrapping around midnight. A bound without an offset is
//! the date's own local time of day.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveTime, Timelike};
use kite_flow::conditions::time_between::TimeBetween;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, dates};

/// Nanoseconds of `t` from midnight, less `offset` (Java's `OffsetTime` ordering key).
fn utc_nanos(t: NaiveTime, offset: &FixedOffset) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond())
        - i64::from(offset.local_minus_utc()) * 1_000_000_000
}

/// How the time of day of `date` compares to `bound`.
fn compare(date: &DateTime<FixedOffset>, bound: &(NaiveTime, Option<FixedOffset>)) -> Ordering {
    match &bound.1 {
        Some(offset) => utc_nanos(date.time(), date.offset()).cmp(&utc_nanos(bound.0, offset)),
        None => date.time().cmp(&bound.0),
    }
}

impl Evaluate for TimeBetween {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let date = dates::date_time(scope, c, self.date.as_deref())?;
        let after = dates::time_bound(scope, c, "after", self.after.as_deref())?;
        let before = dates::time_bound(scope, c, "before", self.before.as_deref())?;
        if after.is_none() && before.is_none() {
            return Err(ConditionError::invalid(c, "set `after`, `before` or both"));
        }
        Ok(
            after.is_none_or(|a| compare(&date, &a) == Ordering::Greater)
                && before.is_none_or(|b| compare(&date, &b) == Ordering::Less),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    fn check(bounds: &str, date: &str) -> bool {
        at(
            &format!("type: io.kestra.plugin.core.condition.TimeBetween\n{bounds}"),
            date,
        )
        .unwrap()
    }

    #[test]
    fn local_bounds() {
        let b = "after: \"09:00:00\"\nbefore: \"17:00\"";
        assert!(check(b, "2024-06-03T10:00:00+02:00"));
        assert!(!check(b, "2024-06-03T18:00:00+02:00"));
        // Strict: the bounds themselves are outside.
        assert!(!check(b, "2024-06-03T09:00:00+02:00"));
        assert!(!check(b, "2024-06-03T17:00:00+02:00"));
    }

    #[test]
    fn one_bound() {
        assert!(check("after: \"12:00:00\"", "2024-06-03T12:00:01Z"));
        assert!(!check("after: \"12:00:00\"", "2024-06-03T11:59:59Z"));
        assert!(check("before: \"12:00:00\"", "2024-06-03T11:59:59Z"));
        assert!(!check("before: \"12:00:00\"", "2024-06-03T12:00:00Z"));
    }

    #[test]
    fn bounds_with_offsets_compare_instants_of_the_day() {
        let b = "after: \"16:00:00+02:00\"\nbefore: \"20:00:00+02:00\"";
        // 15:00Z is 17:00+02:00.
        assert!(check(b, "2024-06-03T15:00:00Z"));
        assert!(check(b, "2024-06-03T17:00:00+02:00"));
        // 18:30Z is 20:30+02:00; 13:30Z is 15:30+02:00.
        assert!(!check(b, "2024-06-03T18:30:00Z"));
        assert!(!check(b, "2024-06-03T13:30:00Z"));
    }

    #[test]
    fn no_bound_is_an_error() {
        let err = at(
            "type: io.kestra.plugin.core.condition.TimeBetween",
            "2024-06-03T10:00:00Z",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "condition `triggers[0].conditions[0]` (TimeBetween): set `after`, `before` or both"
        );
    }

    #[test]
    fn bad_bound_is_an_error() {
        let err = at(
            "type: io.kestra.plugin.core.condition.TimeBetween\nafter: 4pm",
            "2024-06-03T10:00:00Z",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`after` is `4pm`"), "{err}");
    }
}
