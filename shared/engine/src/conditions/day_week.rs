//! `DayWeek`: the day of `date` (default `{{ trigger.date }}`, its local day) is
//! `dayOfWeek` (`MONDAY`..`SUNDAY`, rendered).

use kite_flow::conditions::day_week::DayWeek;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, dates};
use chrono::Datelike;

impl Evaluate for DayWeek {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let day = dates::local_date(scope, c, self.date.as_deref())?;
        let wanted = dates::weekday(scope, c, &self.day_of_week)?;
        Ok(day.weekday() == wanted)
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    const MONDAY: &str = "type: io.kestra.plugin.core.condition.DayWeek\ndayOfWeek: MONDAY";

    #[test]
    fn the_local_day_counts() {
        assert!(at(MONDAY, "2024-06-03T09:00:00Z").unwrap());
        assert!(!at(MONDAY, "2024-06-04T09:00:00Z").unwrap());
        // Sunday 23:30 UTC is already Monday in Paris.
        assert!(at(MONDAY, "2024-06-03T01:30:00+02:00").unwrap());
        assert!(!at(MONDAY, "2024-06-02T23:30:00Z").unwrap());
    }

    #[test]
    fn a_plain_date_and_an_explicit_date() {
        assert!(at(MONDAY, "2024-06-03").unwrap());
        let cond = "type: io.kestra.plugin.core.condition.DayWeek\ndate: \"2024-06-07\"\ndayOfWeek: FRIDAY";
        assert!(at(cond, "ignored").unwrap());
    }

    #[test]
    fn bad_values_are_errors() {
        let err = at(MONDAY, "next monday").unwrap_err();
        assert_eq!(
            err.to_string(),
            "condition `triggers[0].conditions[0]` (DayWeek): `date` is `next monday`, which is \
             not an ISO-8601 date (`2024-03-31`) or date-time with an offset \
             (`2024-03-31T10:00:00+02:00`)"
        );
        let err = at(
            "type: io.kestra.plugin.core.condition.DayWeek\ndayOfWeek: MON",
            "2024-06-03",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`dayOfWeek` is `MON`"), "{err}");
    }
}
