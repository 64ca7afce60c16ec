//! The TTL sweep: a paginated `Scan` for `exp_ms <= now`, and a `DeleteItem` of each item
//! found on the condition that it is still expired.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use kite_ports::DocumentError;

use super::DynamoDocuments;
use super::encoding::{Attrs, EXP, PK, instant_number, item_size, n, s};
use super::errors::sdk_failure;
use super::expr::Expr;
use crate::metrics::{read_units, write_units};

impl DynamoDocuments {
    /// [`DocumentStore::sweep_expired`](kite_ports::DocumentStore::sweep_expired): deletes
    /// the items expired at the clock's now; how many were deleted.
    pub(super) async fn sweep(&self) -> Result<usize, DocumentError> {
        let now = instant_number(self.clock.now());
        let mut start: Option<Attrs> = None;
        let mut swept = 0;
        loop {
            let out = self.scan_expired(start.take(), &now).await?;
            let found = out.items.unwrap_or_default();
            self.metrics
                .add_units(read_units(found.iter().map(item_size).sum()), 0.0);
            let pks: Vec<String> = found
                .into_iter()
                .filter_map(|mut item| match item.remove(PK) {
                    Some(AttributeValue::S(pk)) => Some(pk),
                    _ => None,
                })
                .collect();
            let mut deletes = futures::stream::iter(pks)
                .map(|pk_value| self.sweep_one(pk_value, &now))
                .buffer_unordered(8);
            while let Some(deleted) = deletes.next().await {
                if deleted? {
                    swept += 1;
                }
            }
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(swept),
            }
        }
    }

    /// One page of the scan for items expired at `now` (their `pk` and `exp_ms`).
    async fn scan_expired(
        &self,
        start: Option<Attrs>,
        now: &str,
    ) -> Result<ScanOutput, DocumentError> {
        let mut expr = Expr::default();
        let (pk_name, exp) = (expr.n(PK), expr.n(EXP));
        let now_value = expr.v("now", n(now));
        self.client
            .scan()
            .table_name(&self.table)
            .filter_expression(format!("attribute_exists({exp}) AND {exp} <= {now_value}"))
            .projection_expression(format!("{pk_name}, {exp}"))
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| {
                sdk_failure(
                    &self.table,
                    "Scan",
                    format!("sweeping expired items of DynamoDB table `{}`", self.table),
                    &e,
                )
            })
    }

    /// Deletes expired item `pk_value` if it is still expired; whether it was deleted.
    async fn sweep_one(&self, pk_value: String, now: &str) -> Result<bool, DocumentError> {
        let (table, key) = pk_value.split_once('#').unwrap_or((&pk_value, ""));
        let mut expr = Expr::default();
        let exp = expr.n(EXP);
        let now_value = expr.v("now", n(now));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk_value.clone()))
            .condition_expression(format!("{exp} <= {now_value}"))
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        self.metrics.add_units(0.0, write_units(pk_value.len()));
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_failure(
                    table,
                    "DeleteItem",
                    self.context(table, key),
                    &err,
                )),
            },
        }
    }
}
