//! `Expression`: `expression`, rendered, is truthy (Kestra's truthiness, as for `runIf`:
//! everything but `false`, `0`, `-0` and the empty string).

use kite_flow::conditions::expression::Expression;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for Expression {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let rendered = scope.render(c, "expression", &self.expression)?;
        Ok(kite_expr::is_truthy(&rendered))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::ConditionError;
    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    fn check(expression: &str, trigger: serde_json::Value) -> Result<bool, ConditionError> {
        eval(
            &format!(
                "type: io.kestra.plugin.core.condition.Expression\nexpression: \"{expression}\""
            ),
            trigger,
            None,
        )
    }

    #[test]
    fn truthy_and_falsy() {
        let webhook = json!({"body": {"kind": "order", "amount": 0}});
        assert!(check("{{ trigger.body.kind == 'order' }}", webhook.clone()).unwrap());
        assert!(!check("{{ trigger.body.kind == 'refund' }}", webhook.clone()).unwrap());
        assert!(!check("{{ trigger.body.amount }}", webhook.clone()).unwrap());
        assert!(!check("", webhook).unwrap());
    }

    #[test]
    fn sees_flow_execution_and_now() {
        let up = upstream(State::Success);
        let cond = "type: io.kestra.plugin.core.condition.Expression\nexpression: \"{{ flow.id == 'downstream' and execution.flowId == 'orders' and now() | date('yyyy') == '2024' }}\"";
        assert!(eval(cond, json!({}), Some(&up)).unwrap());
    }

    #[test]
    fn render_error_names_path_and_expression() {
        let err = check("{{ trigger.body.missing }}", json!({"body": {}})).unwrap_err();
        assert_eq!(err.path(), "triggers[0].conditions[0]");
        let msg = err.to_string();
        assert!(msg.contains("(Expression)"), "{msg}");
        assert!(msg.contains("`{{ trigger.body.missing }}`"), "{msg}");
    }
}
