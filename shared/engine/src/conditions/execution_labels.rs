//! `ExecutionLabels`: every listed label is on the upstream execution with the same value.
//! Needs an upstream execution.

use kite_flow::conditions::execution_labels::ExecutionLabels;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for ExecutionLabels {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let up = scope.upstream(c)?;
        Ok(self.labels.iter().all(|wanted| {
            up.labels
                .iter()
                .any(|l| l.key == wanted.key && l.value == wanted.value)
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::testing::{eval, upstream};
    use crate::model::{Label, State};

    fn check(labels: &str) -> bool {
        let mut up = upstream(State::Success); // env: prod
        up.labels.push(Label {
            key: "team".into(),
            value: "sales".into(),
        });
        eval(
            &format!("type: io.kestra.plugin.core.condition.ExecutionLabels\nlabels:\n{labels}"),
            json!({}),
            Some(&up),
        )
        .unwrap()
    }

    #[test]
    fn every_label_must_match() {
        assert!(check("  env: prod"));
        assert!(check("  env: prod\n  team: sales"));
        assert!(!check("  env: dev"));
        assert!(!check("  env: prod\n  owner: john"));
    }

    #[test]
    fn list_form() {
        assert!(check("  - key: team\n    value: sales"));
        assert!(!check("  - key: team\n    value: ops"));
    }
}
