//! `PublicHoliday`: not supported. Kestra reads a holiday calendar (Jollyday, 70+ countries
//! and their subdivisions); the Rust ecosystem has no maintained, small pure-Rust equivalent
//! (the one multi-country crate is a frozen 100k-line table without subdivisions), and a
//! condition that guessed would fire or skip schedules silently. It is an error that names
//! the condition and the replacement: an `Expression` over the dates to skip.

use kite_flow::conditions::public_holiday::PublicHoliday;
use kite_flow::plugin::Condition;

use super::{ConditionError, Evaluate, Scope, short_name};

/// The replacement suggested in the error.
pub const SUGGESTION: &str = "Kite has no public holiday calendar; list the days in an \
    Expression condition instead, e.g. `expression: \"{{ not (['2025-01-01', '2025-12-25'] \
    contains (trigger.date | date('yyyy-MM-dd'))) }}\"`";

impl Evaluate for PublicHoliday {
    fn evaluate(&self, c: &Condition, _scope: &Scope<'_>) -> Result<bool, ConditionError> {
        Err(ConditionError::Unsupported {
            path: c.path.clone(),
            condition: short_name(c),
            reason: SUGGESTION.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::conditions::testing::at;

    #[test]
    fn is_refused_at_validation_never_a_guess() {
        // Validation refuses it, so the evaluator's `Unsupported` answer is only a safeguard.
        let source = "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.PublicHoliday\n        country: FR\n";
        let parsed = kite_flow::parse_flow(source);
        assert!(parsed.flow.is_none());
        let msg = parsed
            .errors()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            msg.contains("triggers[0].conditions[0]: io.kestra.plugin.core.condition.PublicHoliday is not supported"),
            "{msg}"
        );
        assert!(msg.contains("Expression"), "{msg}");
    }

    #[test]
    fn the_suggested_expression_works() {
        let cond = "type: io.kestra.plugin.core.condition.Expression\nexpression: \"{{ not (['2025-01-01', '2025-12-25'] contains (trigger.date | date('yyyy-MM-dd'))) }}\"";
        assert!(!at(cond, "2025-12-25T10:00:00+01:00").unwrap());
        assert!(at(cond, "2025-12-26T10:00:00+01:00").unwrap());
    }
}
