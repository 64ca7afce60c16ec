//! `MultipleCondition` (deprecated): several conditions met within a time window. It keeps
//! state across executions, so it is not decided here: [`super::is_stateful`] is true for
//! it, [`super::evaluate`] answers [`ConditionError::Stateful`] and [`super::evaluate_all`]
//! skips it; the Flow-trigger preconditions store decides it.

use kite_flow::conditions::multiple::MultipleCondition;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, short_name};

impl Evaluate for MultipleCondition {
    const STATEFUL: bool = true;

    fn evaluate(&self, c: &Condition, _scope: &Scope<'_>) -> Result<bool, ConditionError> {
        Err(ConditionError::Stateful {
            path: c.path.clone(),
            condition: short_name(c),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::ConditionError;
    use crate::conditions::testing::eval;

    #[test]
    fn is_refused() {
        let cond = "type: io.kestra.plugin.core.condition.MultipleCondition\nid: both\nconditions:\n  a:\n    type: io.kestra.plugin.core.condition.ExecutionFlow\n    namespace: n\n    flowId: a";
        let err = eval(cond, json!({}), None).unwrap_err();
        assert!(matches!(err, ConditionError::Stateful { .. }), "{err}");
        assert!(
            err.to_string().contains("triggers[0].conditions[0]"),
            "{err}"
        );
    }
}
