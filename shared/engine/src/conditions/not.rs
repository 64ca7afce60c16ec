//! `Not`: none of `conditions` holds (decided in order, stopping at the first that holds).

use kite_flow::conditions::not::Not;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for Not {
    fn evaluate(&self, _c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        for inner in &self.conditions {
            if scope.evaluate(inner)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    const NOT_WEEKEND_NOR_MONDAY: &str = "type: io.kestra.plugin.core.condition.Not\nconditions:\n  - type: io.kestra.plugin.core.condition.Weekend\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: MONDAY";

    #[test]
    fn none_may_hold() {
        // 2024-06-04 is a Tuesday, 2024-06-03 a Monday, 2024-06-01 a Saturday.
        assert!(at(NOT_WEEKEND_NOR_MONDAY, "2024-06-04T09:00:00Z").unwrap());
        assert!(!at(NOT_WEEKEND_NOR_MONDAY, "2024-06-03T09:00:00Z").unwrap());
        assert!(!at(NOT_WEEKEND_NOR_MONDAY, "2024-06-01T09:00:00Z").unwrap());
    }

    #[test]
    fn an_inner_error_names_the_inner_path() {
        let err = at(NOT_WEEKEND_NOR_MONDAY, "not a date").unwrap_err();
        assert_eq!(err.path(), "triggers[0].conditions[0].conditions[0]");
    }
}
