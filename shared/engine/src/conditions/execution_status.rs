//! `ExecutionStatus`: the upstream execution's state is in `in` (when given) and not in
//! `notIn` (when given); both lists are rendered. Needs an upstream execution.

use kite_flow::conditions::execution_status::ExecutionStatus;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, states};

impl Evaluate for ExecutionStatus {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let up = scope.upstream(c)?;
        let accepted = states(scope, c, "in", &self.r#in)?;
        let refused = states(scope, c, "notIn", &self.not_in)?;
        Ok((self.r#in.is_empty() || accepted.contains(&up.state)) && !refused.contains(&up.state))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    fn check(state: State, lists: &str) -> Result<bool, crate::conditions::ConditionError> {
        let up = upstream(state);
        eval(
            &format!("type: io.kestra.plugin.core.condition.ExecutionStatus\n{lists}"),
            json!({}),
            Some(&up),
        )
    }

    #[test]
    fn in_list() {
        assert!(check(State::Failed, "in: [FAILED, WARNING]").unwrap());
        assert!(!check(State::Success, "in: [FAILED, WARNING]").unwrap());
    }

    #[test]
    fn not_in_list() {
        assert!(check(State::Success, "notIn: [FAILED]").unwrap());
        assert!(!check(State::Failed, "notIn: [FAILED]").unwrap());
    }

    #[test]
    fn both_lists() {
        assert!(check(State::Warning, "in: [WARNING, FAILED]\nnotIn: [FAILED]").unwrap());
        assert!(!check(State::Failed, "in: [WARNING, FAILED]\nnotIn: [FAILED]").unwrap());
    }

    #[test]
    fn unknown_state_is_an_error() {
        let err = check(State::Failed, "in: [BROKEN]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "condition `triggers[0].conditions[0]` (ExecutionStatus): `in` lists `BROKEN`, \
             which is not an execution state"
        );
    }
}
