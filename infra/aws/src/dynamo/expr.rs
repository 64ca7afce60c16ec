//! [`Expr`]: the attribute names and values of a condition, update, key or projection
//! expression, and the conditions of [`Expect`] on an item; [`Conditional`], the requests
//! that carry such a condition.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, PutBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use kite_ports::Expect;

use super::encoding::{Attrs, EXP, PK, VER, n};

/// Expression attribute names and values, added as they are used (DynamoDB rejects unused
/// ones).
#[derive(Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The placeholder `#attr` of attribute name `attr`.
    pub(super) fn n(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    /// The placeholder `:name` of `value`.
    pub(super) fn v(&mut self, name: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{name}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// The names used, if any.
    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values used, if any.
    pub(super) fn values(&self) -> Option<Attrs> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// "Absent or expired".
    pub(super) fn absent(&mut self, now: &str) -> String {
        let (pk, exp) = (self.n(PK), self.n(EXP));
        let now = self.v("now", n(now));
        format!("attribute_not_exists({pk}) OR {exp} <= {now}")
    }

    /// "Absent or live".
    pub(super) fn absent_or_live(&mut self, now: &str) -> String {
        let (pk, exp) = (self.n(PK), self.n(EXP));
        let now = self.v("now", n(now));
        format!("attribute_not_exists({pk}) OR attribute_not_exists({exp}) OR {exp} > {now}")
    }

    /// "Live with exactly this version".
    pub(super) fn version(&mut self, version: u64, now: &str) -> String {
        let (ver, exp) = (self.n(VER), self.n(EXP));
        let expected = self.v("expected", n(&version.to_string()));
        let now = self.v("now", n(now));
        format!("{ver} = {expected} AND (attribute_not_exists({exp}) OR {exp} > {now})")
    }

    /// The condition of `expected`, none for `Any`.
    pub(super) fn expect(&mut self, expected: Expect, now: &str) -> Option<String> {
        match expected {
            Expect::Any => None,
            Expect::Absent => Some(self.absent(now)),
            Expect::Version(version) => Some(self.version(version, now)),
        }
    }
}

/// A write request (or transaction item) that carries a condition expression and returns
/// the old item when the condition fails.
pub(super) trait Conditional: Sized {
    /// Sets `condition` (none: unconditional) with the names and values of `expr`, and asks
    /// for the old item (`ALL_OLD`) when the condition fails.
    fn conditioned(self, condition: Option<String>, expr: &Expr) -> Self;
}

macro_rules! conditional {
    ($($builder:ty),*) => {$(
        impl Conditional for $builder {
            fn conditioned(self, condition: Option<String>, expr: &Expr) -> Self {
                self.set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
            }
        }
    )*};
}

conditional!(
    PutItemFluentBuilder,
    DeleteItemFluentBuilder,
    PutBuilder,
    DeleteBuilder,
    ConditionCheckBuilder
);
