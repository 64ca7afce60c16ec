//! `HasRetryAttempt`: some task run of the upstream execution was retried (has more than
//! one attempt) and one of its attempts ended in a state listed in `in` and not in `notIn`.
//! As in Kestra, an empty `in` accepts no state. Needs an upstream execution.

use kite_flow::conditions::has_retry_attempt::HasRetryAttempt;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, states};

impl Evaluate for HasRetryAttempt {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let up = scope.upstream(c)?;
        let accepted = states(scope, c, "in", &self.r#in)?;
        let refused = states(scope, c, "notIn", &self.not_in)?;
        Ok(up
            .attempt_states
            .iter()
            .filter(|attempts| attempts.len() > 1)
            .flatten()
            .any(|s| accepted.contains(s) && !refused.contains(s)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    fn check(attempts: Vec<Vec<State>>, lists: &str) -> bool {
        let mut up = upstream(State::Failed);
        up.attempt_states = attempts;
        eval(
            &format!("type: io.kestra.plugin.core.condition.HasRetryAttempt\n{lists}"),
            json!({}),
            Some(&up),
        )
        .unwrap()
    }

    #[test]
    fn a_retried_task_run_with_an_accepted_attempt() {
        let retried = vec![vec![State::Success], vec![State::Failed, State::Failed]];
        assert!(check(retried.clone(), "in: [FAILED]"));
        assert!(!check(retried.clone(), "in: [KILLED]"));
        assert!(!check(retried, "in: [FAILED]\nnotIn: [FAILED]"));
    }

    #[test]
    fn single_attempts_do_not_count() {
        assert!(!check(
            vec![vec![State::Failed], vec![State::Failed]],
            "in: [FAILED]"
        ));
    }

    #[test]
    fn empty_in_accepts_nothing() {
        assert!(!check(
            vec![vec![State::Failed, State::Success]],
            "notIn: [KILLED]"
        ));
    }
}
