//! `Weekend`: the day of `date` (default `{{ trigger.date }}`, its local day) is a Saturday
//! or a Sunday.

use chrono::{Datelike, Weekday};
use kite_flow::conditions::weekend::Weekend;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, dates};

impl Evaluate for Weekend {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let day = dates::local_date(scope, c, self.date.as_deref())?;
        Ok(matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    const WEEKEND: &str = "type: io.kestra.plugin.core.condition.Weekend";

    #[test]
    fn saturday_and_sunday() {
        assert!(at(WEEKEND, "2024-06-01T10:00:00Z").unwrap());
        assert!(at(WEEKEND, "2024-06-02T10:00:00Z").unwrap());
        assert!(!at(WEEKEND, "2024-06-03T10:00:00Z").unwrap());
        // Friday 23:30 UTC is Saturday in Paris.
        assert!(at(WEEKEND, "2024-06-01T01:30:00+02:00").unwrap());
        assert!(!at(WEEKEND, "2024-05-31T23:30:00Z").unwrap());
    }
}
