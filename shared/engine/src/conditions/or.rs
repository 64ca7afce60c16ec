//! `Or`: at least one of `conditions` holds (decided in order, stopping at the first that
//! holds).

use kite_flow::conditions::or::Or;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for Or {
    fn evaluate(&self, _c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        for inner in &self.conditions {
            if scope.evaluate(inner)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    const MONDAY_OR_FRIDAY: &str = "type: io.kestra.plugin.core.condition.Or\nconditions:\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: MONDAY\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: FRIDAY";

    #[test]
    fn one_must_hold() {
        assert!(at(MONDAY_OR_FRIDAY, "2024-06-03T09:00:00Z").unwrap());
        assert!(at(MONDAY_OR_FRIDAY, "2024-06-07T09:00:00Z").unwrap());
        assert!(!at(MONDAY_OR_FRIDAY, "2024-06-05T09:00:00Z").unwrap());
    }

    #[test]
    fn stops_at_the_first_that_holds() {
        let cond = "type: io.kestra.plugin.core.condition.Or\nconditions:\n  - type: io.kestra.plugin.core.condition.Expression\n    expression: \"{{ true }}\"\n  - type: io.kestra.plugin.core.condition.Expression\n    expression: \"{{ missing.variable }}\"";
        assert!(at(cond, "2024-06-05T09:00:00Z").unwrap());
    }
}
