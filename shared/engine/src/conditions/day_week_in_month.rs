//! `DayWeekInMonth`: the day of `date` (default `{{ trigger.date }}`, its local day) is the
//! `FIRST`, `SECOND`, `THIRD`, `FOURTH` or `LAST` `dayOfWeek` of its month (both rendered).

use chrono::{Datelike, Duration, NaiveDate};
use kite_flow::conditions::day_week_in_month::DayWeekInMonth;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, dates};

/// Which occurrence of a weekday in its month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occurrence {
    Nth(u32),
    Last,
}

fn occurrence(s: &str) -> Option<Occurrence> {
    const NAMES: [(&str, Occurrence); 5] = [
        ("FIRST", Occurrence::Nth(0)),
        ("SECOND", Occurrence::Nth(1)),
        ("THIRD", Occurrence::Nth(2)),
        ("FOURTH", Occurrence::Nth(3)),
        ("LAST", Occurrence::Last),
    ];
    let s = s.trim();
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, o)| *o)
}

/// Whether `day` is the `which` occurrence of its weekday in its month.
fn is_occurrence(day: NaiveDate, which: Occurrence) -> bool {
    match which {
        Occurrence::Nth(n) => (day.day() - 1) / 7 == n,
        Occurrence::Last => (day + Duration::days(7)).month() != day.month(),
    }
}

impl Evaluate for DayWeekInMonth {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let day = dates::local_date(scope, c, self.date.as_deref())?;
        let wanted = dates::weekday(scope, c, &self.day_of_week)?;
        let rendered = scope.render(c, "dayInMonth", &self.day_in_month)?;
        let which = occurrence(&rendered).ok_or_else(|| {
            ConditionError::invalid(
                c,
                format!(
                    "`dayInMonth` is `{rendered}`, which is not one of FIRST, SECOND, THIRD, \
                     FOURTH, LAST"
                ),
            )
        })?;
        Ok(day.weekday() == wanted && is_occurrence(day, which))
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    fn check(day: &str, which: &str, date: &str) -> bool {
        at(
            &format!(
                "type: io.kestra.plugin.core.condition.DayWeekInMonth\ndayOfWeek: {day}\ndayInMonth: {which}"
            ),
            date,
        )
        .unwrap()
    }

    #[test]
    fn nth_weekday_of_the_month() {
        // June 2024: Mondays on the 3rd, 10th, 17th and 24th.
        assert!(check("MONDAY", "FIRST", "2024-06-03T10:00:00Z"));
        assert!(!check("MONDAY", "FIRST", "2024-06-10T10:00:00Z"));
        assert!(check("MONDAY", "SECOND", "2024-06-10T10:00:00Z"));
        assert!(check("MONDAY", "THIRD", "2024-06-17T10:00:00Z"));
        assert!(check("MONDAY", "FOURTH", "2024-06-24T10:00:00Z"));
        assert!(!check("TUESDAY", "FIRST", "2024-06-03T10:00:00Z"));
    }

    #[test]
    fn last_weekday_of_the_month() {
        assert!(check("MONDAY", "LAST", "2024-06-24T10:00:00Z"));
        // June 2024 Fridays: the 7th, 14th, 21st and 28th.
        assert!(check("FRIDAY", "LAST", "2024-06-28T10:00:00Z"));
        assert!(!check("FRIDAY", "LAST", "2024-06-21T10:00:00Z"));
        // April 2024 has five Mondays: the 29th is both LAST and not FOURTH.
        assert!(check("MONDAY", "LAST", "2024-04-29T10:00:00Z"));
        assert!(!check("MONDAY", "FOURTH", "2024-04-29T10:00:00Z"));
        assert!(check("MONDAY", "FOURTH", "2024-04-22T10:00:00Z"));
    }

    #[test]
    fn unknown_occurrence_is_an_error() {
        let err = at(
            "type: io.kestra.plugin.core.condition.DayWeekInMonth\ndayOfWeek: MONDAY\ndayInMonth: FIFTH",
            "2024-06-03",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`dayInMonth` is `FIFTH`"), "{err}");
    }
}
