//! `DateTimeBetween`: `date` (default `{{ trigger.date }}`) is at or after `after` and at
//! or before `before` (inclusive, as in Kestra; either may be left out, not both). All are
//! ISO-8601 date-times with an offset, compared as instants.

use kite_flow::conditions::date_time_between::DateTimeBetween;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, dates};

impl Evaluate for DateTimeBetween {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let date = dates::date_time(scope, c, self.date.as_deref())?;
        let after = dates::date_time_bound(scope, c, "after", self.after.as_deref())?;
        let before = dates::date_time_bound(scope, c, "before", self.before.as_deref())?;
        if after.is_none() && before.is_none() {
            return Err(ConditionError::invalid(c, "set `after`, `before` or both"));
        }
        Ok(after.is_none_or(|a| date >= a) && before.is_none_or(|b| date <= b))
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    fn check(bounds: &str, date: &str) -> bool {
        at(
            &format!("type: io.kestra.plugin.core.condition.DateTimeBetween\n{bounds}"),
            date,
        )
        .unwrap()
    }

    #[test]
    fn inclusive_range_of_instants() {
        let b = "after: \"2025-01-01T00:00:00Z\"\nbefore: \"2025-12-31T23:59:59Z\"";
        assert!(check(b, "2025-06-01T12:00:00Z"));
        assert!(check(b, "2025-01-01T00:00:00Z"));
        assert!(check(b, "2025-12-31T23:59:59Z"));
        assert!(!check(b, "2026-01-01T00:00:00Z"));
        // 00:30 in Paris on New Year's day is still 2024 in UTC.
        assert!(!check(b, "2025-01-01T00:30:00+01:00"));
        assert!(check(b, "2025-01-01T01:30:00+01:00"));
    }

    #[test]
    fn one_bound() {
        assert!(check(
            "after: \"2025-01-01T00:00:00Z\"",
            "2030-01-01T00:00:00Z"
        ));
        assert!(!check(
            "before: \"2025-01-01T00:00:00Z\"",
            "2030-01-01T00:00:00Z"
        ));
    }

    #[test]
    fn bad_bound_is_an_error() {
        let err = at(
            "type: io.kestra.plugin.core.condition.DateTimeBetween\nafter: \"2025-01-01\"",
            "2025-06-01T12:00:00Z",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`after` is `2025-01-01`, which is not an ISO-8601 date-time"),
            "{err}"
        );
    }
}
