//! `ExecutionOutputs`: `expression`, rendered with `trigger.outputs` set to the upstream
//! execution's flow outputs, is truthy (Kestra's truthiness, as for `runIf`). An upstream
//! execution without outputs never matches (the expression is not rendered). Needs an
//! upstream execution.

use kite_flow::conditions::execution_outputs::ExecutionOutputs;
use kite_flow::plugin::Condition;
use serde_json::Value;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for ExecutionOutputs {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let up = scope.upstream(c)?;
        if up.outputs.is_empty() {
            return Ok(false);
        }
        let mut trigger = scope.cx().trigger.clone();
        trigger.insert("outputs".into(), Value::Object(up.outputs.clone()));
        let ctx = scope
            .expr_context()
            .with_var("trigger", Value::Object(trigger));
        let rendered = scope.render_in(&ctx, c, "expression", &self.expression)?;
        Ok(kite_expr::is_truthy(&rendered))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::ConditionError;
    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    fn check(expression: &str, outputs: serde_json::Value) -> Result<bool, ConditionError> {
        let mut up = upstream(State::Success);
        if let serde_json::Value::Object(m) = outputs {
            up.outputs = m;
        }
        eval(
            &format!(
                "type: io.kestra.plugin.core.condition.ExecutionOutputs\nexpression: \"{expression}\""
            ),
            json!({"executionId": "up1"}),
            Some(&up),
        )
    }

    #[test]
    fn expression_over_upstream_outputs() {
        let cond = "{{ trigger.outputs.total > 10 }}";
        assert!(check(cond, json!({"total": 12})).unwrap());
        assert!(!check(cond, json!({"total": 3})).unwrap());
    }

    #[test]
    fn other_trigger_variables_stay_visible() {
        let cond = "{{ trigger.executionId == 'up1' and trigger.outputs.ok }}";
        assert!(check(cond, json!({"ok": true})).unwrap());
    }

    #[test]
    fn no_outputs_never_matches() {
        assert!(!check("{{ true }}", json!({})).unwrap());
    }

    #[test]
    fn render_error_names_path_and_expression() {
        let err = check("{{ trigger.outputs.missing.deeper }}", json!({"total": 1})).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConditionError::Render { .. }), "{msg}");
        assert!(
            msg.starts_with(
                "condition `triggers[0].conditions[0]` (ExecutionOutputs): `expression` did not \
                 render (`{{ trigger.outputs.missing.deeper }}`)"
            ),
            "{msg}"
        );
    }
}
