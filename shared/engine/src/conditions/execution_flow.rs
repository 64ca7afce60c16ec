//! `ExecutionFlow`: the upstream execution belongs to the flow `namespace`/`flowId`
//! (both rendered). Needs an upstream execution (Flow triggers).

use kite_flow::conditions::execution_flow::ExecutionFlow;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for ExecutionFlow {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let up = scope.upstream(c)?;
        let namespace = scope.render(c, "namespace", &self.namespace)?;
        let flow_id = scope.render(c, "flowId", &self.flow_id)?;
        Ok(up.namespace == namespace && up.flow_id == flow_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::ConditionError;
    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    const COND: &str =
        "type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: company.sales\nflowId: ";

    #[test]
    fn matches_the_upstream_flow_only() {
        let up = upstream(State::Success);
        assert!(eval(&format!("{COND}orders"), json!({}), Some(&up)).unwrap());
        assert!(!eval(&format!("{COND}invoices"), json!({}), Some(&up)).unwrap());
        let other_ns = "type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: company\nflowId: orders";
        assert!(!eval(other_ns, json!({}), Some(&up)).unwrap());
    }

    #[test]
    fn renders_its_properties() {
        let up = upstream(State::Success);
        let cond = "type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: \"{{ trigger.ns }}\"\nflowId: orders";
        assert!(eval(cond, json!({"ns": "company.sales"}), Some(&up)).unwrap());
    }

    #[test]
    fn needs_an_upstream_execution() {
        let err = eval(&format!("{COND}orders"), json!({}), None).unwrap_err();
        assert!(matches!(err, ConditionError::NoExecution { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "condition `triggers[0].conditions[0]` (ExecutionFlow) needs an upstream execution: \
             it only applies to Flow triggers"
        );
    }
}
