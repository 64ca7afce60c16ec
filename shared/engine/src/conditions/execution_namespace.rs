//! `ExecutionNamespace`: the upstream execution's namespace equals `namespace`, or starts or
//! ends with it (`comparison: EQUALS` (default), `PREFIX`, `SUFFIX`; the legacy
//! `prefix: true` means `PREFIX` when `comparison` is not set). Needs an upstream execution.

use kite_flow::conditions::execution_namespace::ExecutionNamespace;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope};

impl Evaluate for ExecutionNamespace {
    fn evaluate(&self, c: &Condition, scope: &Scope<'_>) -> Result<bool, ConditionError> {
        let up = scope.upstream(c)?;
        let comparison = match (&self.comparison, self.prefix) {
            (Some(cmp), _) => cmp.trim().to_ascii_uppercase(),
            (None, Some(true)) => "PREFIX".to_owned(),
            (None, _) => "EQUALS".to_owned(),
        };
        let actual = up.namespace.as_str();
        let wanted = self.namespace.as_str();
        match comparison.as_str() {
            "EQUALS" => Ok(actual == wanted),
            "PREFIX" => Ok(actual.starts_with(wanted)),
            "SUFFIX" => Ok(actual.ends_with(wanted)),
            _ => Err(ConditionError::invalid(
                c,
                format!(
                    "`comparison` is `{}`, which is not one of EQUALS, PREFIX, SUFFIX",
                    self.comparison.as_deref().unwrap_or_default()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conditions::testing::{eval, upstream};
    use crate::model::State;

    fn check(extra: &str) -> Result<bool, crate::conditions::ConditionError> {
        let up = upstream(State::Success); // namespace company.sales
        eval(
            &format!("type: io.kestra.plugin.core.condition.ExecutionNamespace\n{extra}"),
            json!({}),
            Some(&up),
        )
    }

    #[test]
    fn equals_by_default() {
        assert!(check("namespace: company.sales").unwrap());
        assert!(!check("namespace: company").unwrap());
    }

    #[test]
    fn prefix_and_suffix() {
        assert!(check("namespace: company\ncomparison: PREFIX").unwrap());
        assert!(!check("namespace: sales\ncomparison: PREFIX").unwrap());
        assert!(check("namespace: sales\ncomparison: SUFFIX").unwrap());
        assert!(!check("namespace: company\ncomparison: SUFFIX").unwrap());
    }

    #[test]
    fn legacy_prefix_flag() {
        assert!(check("namespace: company\nprefix: true").unwrap());
        assert!(!check("namespace: company\nprefix: false").unwrap());
        // `comparison` wins over the legacy flag.
        assert!(!check("namespace: company\nprefix: true\ncomparison: EQUALS").unwrap());
    }

    #[test]
    fn unknown_comparison_is_an_error() {
        let err = check("namespace: company\ncomparison: CONTAINS").unwrap_err();
        assert!(
            err.to_string().contains("`comparison` is `CONTAINS`"),
            "{err}"
        );
        assert!(
            err.to_string().contains("triggers[0].conditions[0]"),
            "{err}"
        );
    }
}
