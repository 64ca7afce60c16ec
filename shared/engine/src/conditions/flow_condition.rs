//! `FlowCondition` (deprecated): the flow owning the trigger is `namespace`/`flowId`. As in
//! Kestra, it looks at the current flow, not at an upstream execution (use `ExecutionFlow`
//! for that).

use kite_flow::conditions::flow_condition::FlowCondition;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for FlowCondition {
    fn evaluate(&self, _c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let flow = scope.cx().flow;
        Ok(flow.namespace == self.namespace && flow.id == self.flow_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    #[test]
    fn matches_the_current_flow() {
        // The test flow is company.team/downstream; the upstream is company.sales/orders.
        let up = upstream(State::Success);
        let cond = |ns: &str, id: &str| {
            format!(
                "type: io.kestra.plugin.core.condition.FlowCondition\nnamespace: {ns}\nflowId: {id}"
            )
        };
        assert!(eval(&cond("company.team", "downstream"), json!({}), None).unwrap());
        assert!(eval(&cond("company.team", "downstream"), json!({}), Some(&up)).unwrap());
        assert!(!eval(&cond("company.sales", "orders"), json!({}), Some(&up)).unwrap());
        assert!(!eval(&cond("company.team", "other"), json!({}), None).unwrap());
    }
}
