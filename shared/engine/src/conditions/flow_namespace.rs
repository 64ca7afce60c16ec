//! `FlowNamespace` (`FlowNamespaceCondition`, deprecated): the flow owning the trigger is in `namespace`
//! (or, with `prefix: true`, in a namespace starting with it). As in Kestra, it looks at the
//! current flow, not at an upstream execution (use `ExecutionNamespace` for that).

use kite_flow::conditions::flow_namespace::FlowNamespace;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for FlowNamespace {
    fn evaluate(&self, _c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let namespace = scope.cx().flow.namespace.as_str();
        Ok(if self.prefix.unwrap_or(false) {
            namespace.starts_with(&self.namespace)
        } else {
            namespace == self.namespace
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::testing::eval;

    fn check(props: &str) -> bool {
        // The test flow is in company.team.
        eval(
            &format!(
                "type: io.kestra.core.models.conditions.types.FlowNamespaceCondition\n{props}"
            ),
            json!({}),
            None,
        )
        .unwrap()
    }

    #[test]
    fn equals_or_prefix() {
        assert!(check("namespace: company.team"));
        assert!(!check("namespace: company"));
        assert!(check("namespace: company\nprefix: true"));
        assert!(!check("namespace: other\nprefix: true"));
    }
}
