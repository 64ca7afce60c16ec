//! Transactions: one `TransactWriteItems` per attempt. Puts with `Expect::Any` first read
//! the current versions and become version (or absence) conditions, so every put's new
//! version is known; a cancellation maps to a conflict on the first operation whose own
//! condition failed, or to another attempt.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use kite_ports::documents::validate_transaction;
use kite_ports::{Document, DocumentError, Expect, WriteOp};

use super::encoding::{PK, SlotValues, instant_number, item_size, pk};
use super::errors::{backend, invalid, sdk_failure};
use super::expr::{Conditional, Expr};
use super::index_cache::IndexKeys;
use super::{DynamoDocuments, MAX_ATTEMPTS};
use crate::metrics::write_units;

/// DynamoDB's limit on the items of one transaction (4 MiB).
const DYNAMO_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// The result of one attempt: `None` when it is to be tried again.
type Attempt = Option<Vec<Option<u64>>>;

/// The request of one attempt, built from the operations.
#[derive(Default)]
struct Prepared {
    /// The items to send.
    items: Vec<TransactWriteItem>,
    /// For each sent item: the index of its operation and the condition it carries.
    sent: Vec<(usize, Expect)>,
    /// Each operation's result (the new version of a put) if the transaction succeeds.
    results: Vec<Option<u64>>,
    /// The write units of the transaction if it succeeds.
    write_units: f64,
    /// The index keys of the items put, to remember if it succeeds.
    written: Vec<(String, IndexKeys)>,
}

impl DynamoDocuments {
    /// [`DocumentStore::transact`](kite_ports::DocumentStore::transact): checks the limits,
    /// then attempts the transaction until it succeeds or fails for good.
    pub(super) async fn transact_ops(
        &self,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<Option<u64>>, DocumentError> {
        validate_transaction(&ops)?;
        let mut slots = Vec::with_capacity(ops.len());
        for op in &ops {
            slots.push(match op {
                WriteOp::Put {
                    table, key, doc, ..
                } => Some(self.slot_values(table, key, doc)?),
                _ => None,
            });
        }
        self.check_transaction_size(&ops, &slots)?;
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(results) = self.transact_once(&ops, &slots).await? {
                return Ok(results);
            }
            tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1))).await;
        }
        let first_table = ops.first().map_or("", |op| op.target().0);
        Err(backend(
            first_table,
            "TransactWriteItems",
            format!("a transaction in DynamoDB table `{}`", self.table),
            format!("gave up after {MAX_ATTEMPTS} attempts racing with other writers"),
        ))
    }

    /// Rejects a transaction over DynamoDB's size limit, which counts attribute names and
    /// the composite keys too.
    fn check_transaction_size(
        &self,
        ops: &[WriteOp],
        slots: &[Option<SlotValues>],
    ) -> Result<(), DocumentError> {
        let bytes: usize = ops
            .iter()
            .zip(slots)
            .map(|(op, slots)| match (op, slots) {
                (
                    WriteOp::Put {
                        table, key, doc, ..
                    },
                    Some(slots),
                ) => item_size(&self.item(table, key, doc, slots, u64::MAX)),
                _ => PK.len() + pk(op.target().0, op.target().1).len(),
            })
            .sum();
        if bytes > DYNAMO_TRANSACTION_BYTES {
            let first_table = ops.first().map_or("", |op| op.target().0);
            return Err(invalid(
                first_table,
                format!(
                    "the transaction is {bytes} bytes as DynamoDB items, over DynamoDB's \
                     {DYNAMO_TRANSACTION_BYTES}-byte limit"
                ),
            ));
        }
        Ok(())
    }

    /// One attempt of a transaction. `Ok(None)`: only conditions derived from `Any` puts
    /// failed; try again.
    async fn transact_once(
        &self,
        ops: &[WriteOp],
        slots: &[Option<SlotValues>],
    ) -> Result<Attempt, DocumentError> {
        let prepared = self.prepare(ops, slots).await?;
        if prepared.items.is_empty() {
            return Ok(Some(prepared.results));
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(prepared.items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match result {
            Ok(_) => {
                self.record_write(prepared.write_units, prepared.written);
                Ok(Some(prepared.results))
            }
            Err(err) => {
                self.metrics.add_units(0.0, 2.0 * write_units(0));
                self.cancelled(ops, &prepared.sent, &err).await
            }
        }
    }

    /// The request of one attempt: the versions of `Any` puts read, each operation turned
    /// into its item.
    async fn prepare(
        &self,
        ops: &[WriteOp],
        slots: &[Option<SlotValues>],
    ) -> Result<Prepared, DocumentError> {
        let current = self.any_put_versions(ops).await?;
        let now = instant_number(self.clock.now());
        let mut prepared = Prepared {
            results: Vec::with_capacity(ops.len()),
            ..Prepared::default()
        };
        for (i, op) in ops.iter().enumerate() {
            match op {
                WriteOp::Put {
                    table,
                    key,
                    doc,
                    expected,
                } => {
                    let slots = slots.get(i).cloned().flatten().unwrap_or_default();
                    let put = PutOp {
                        table,
                        key,
                        doc,
                        expected: *expected,
                        current: current.get(&pk(table, key)).copied().flatten(),
                        slots: &slots,
                    };
                    self.prepare_put(&mut prepared, i, put, &now)?;
                }
                WriteOp::Delete { expected, .. } | WriteOp::Check { expected, .. } => {
                    self.prepare_keyed(&mut prepared, i, op, *expected, &now)?;
                }
            }
        }
        Ok(prepared)
    }

    /// The current live versions of the items of `Any` puts (none without such puts).
    async fn any_put_versions(
        &self,
        ops: &[WriteOp],
    ) -> Result<HashMap<String, Option<u64>>, DocumentError> {
        let any_targets: Vec<(&str, &str)> = ops
            .iter()
            .filter(|op| {
                matches!(
                    op,
                    WriteOp::Put {
                        expected: Expect::Any,
                        ..
                    }
                )
            })
            .map(WriteOp::target)
            .collect();
        if any_targets.is_empty() {
            Ok(HashMap::new())
        } else {
            self.live_versions(&any_targets).await
        }
    }

    /// Current live versions of items (consistent reads), for transactions with `Any` puts.
    async fn live_versions(
        &self,
        targets: &[(&str, &str)],
    ) -> Result<HashMap<String, Option<u64>>, DocumentError> {
        let now = self.clock.now();
        let mut found: HashMap<String, Option<u64>> =
            targets.iter().map(|(t, k)| (pk(t, k), None)).collect();
        let first_table = targets.first().map_or("", |(t, _)| *t);
        let keys = targets.iter().map(|(t, k)| Self::key_attrs(t, k)).collect();
        for item in self.batch_get(first_table, keys, true).await? {
            let Some(AttributeValue::S(item_pk)) = item.get(PK) else {
                continue;
            };
            let (table, key) = item_pk.split_once('#').unwrap_or((item_pk, ""));
            let (version, expires_at) = self.decode_meta(table, key, "BatchGetItem", &item)?;
            let live = expires_at.is_none_or(|at| at > now);
            found.insert(item_pk.clone(), live.then_some(version));
        }
        Ok(found)
    }

    /// Adds operation `i`, a put, to `prepared`.
    fn prepare_put(
        &self,
        prepared: &mut Prepared,
        i: usize,
        op: PutOp<'_>,
        now: &str,
    ) -> Result<(), DocumentError> {
        let PutOp { table, key, .. } = op;
        let effective = match op.expected {
            Expect::Any => match op.current {
                Some(v) => Expect::Version(v),
                None => Expect::Absent,
            },
            other => other,
        };
        let version = match effective {
            Expect::Version(v) => v
                .checked_add(1)
                .ok_or_else(|| invalid(table, format!("item `{key}`: version overflow")))?,
            _ => 1,
        };
        let item = self.item(table, key, op.doc, op.slots, version);
        let (units, written) = self.seen_index_keys.write_units_of(&item);
        prepared.write_units += 2.0 * units;
        prepared.written.extend(written);
        let mut expr = Expr::default();
        let condition = expr.expect(effective, now);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .conditioned(condition, &expr)
            .build()
            .map_err(|e| self.build_failed(table, key, e))?;
        prepared
            .items
            .push(TransactWriteItem::builder().put(put).build());
        prepared.sent.push((i, op.expected));
        prepared.results.push(Some(version));
        Ok(())
    }

    /// Adds operation `i`, a delete or a check, to `prepared` (nothing is sent for a check
    /// with `Expect::Any`).
    fn prepare_keyed(
        &self,
        prepared: &mut Prepared,
        i: usize,
        op: &WriteOp,
        expected: Expect,
        now: &str,
    ) -> Result<(), DocumentError> {
        let (table, key) = op.target();
        let is_check = matches!(op, WriteOp::Check { .. });
        prepared.results.push(None);
        let mut expr = Expr::default();
        let condition = expr.expect(expected, now);
        if is_check && condition.is_none() {
            return Ok(());
        }
        prepared.write_units += 2.0 * write_units(pk(table, key).len());
        let item_key = Some(Self::key_attrs(table, key));
        let build_failed = |e| self.build_failed(table, key, e);
        let item = if is_check {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(item_key)
                .conditioned(condition, &expr)
                .build()
                .map_err(build_failed)?;
            TransactWriteItem::builder().condition_check(check).build()
        } else {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(item_key)
                .conditioned(condition, &expr)
                .build()
                .map_err(build_failed)?;
            TransactWriteItem::builder().delete(delete).build()
        };
        prepared.items.push(item);
        prepared.sent.push((i, expected));
        Ok(())
    }

    /// The error of a request item that does not build.
    fn build_failed(
        &self,
        table: &str,
        key: &str,
        err: aws_sdk_dynamodb::error::BuildError,
    ) -> DocumentError {
        backend(table, "TransactWriteItems", self.context(table, key), err)
    }

    /// The outcome of a failed `TransactWriteItems`: a conflict on the first operation whose
    /// own condition failed, another attempt (`Ok(None)`) when only derived conditions
    /// failed or another write was in flight, else a backend error.
    async fn cancelled<R: fmt::Debug>(
        &self,
        ops: &[WriteOp],
        sent: &[(usize, Expect)],
        err: &SdkError<TransactWriteItemsError, R>,
    ) -> Result<Attempt, DocumentError> {
        let first_table = ops.first().map_or("", |op| op.target().0);
        let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
            err.as_service_error()
        else {
            return Err(sdk_failure(
                first_table,
                "TransactWriteItems",
                format!(
                    "a transaction of {} operations in DynamoDB table `{}`",
                    ops.len(),
                    self.table
                ),
                err,
            ));
        };
        let mut retry = false;
        for (reason, (i, expected)) in cancel.cancellation_reasons().iter().zip(sent) {
            let (table, key) = ops[*i].target();
            match reason.code() {
                None | Some("None") => {}
                Some("ConditionalCheckFailed") if *expected == Expect::Any => retry = true,
                Some("ConditionalCheckFailed") => {
                    let old = reason.item().cloned();
                    let operation = "TransactWriteItems";
                    return Err(self.conflict(table, key, *expected, operation, old).await);
                }
                // Another transaction or write was in flight on the item: try again.
                Some("TransactionConflict")
                | Some("ThrottlingError")
                | Some("ProvisionedThroughputExceeded") => retry = true,
                Some(code) => {
                    let detail = format!(
                        "the transaction was cancelled: {code}: {}",
                        reason.message().unwrap_or_default()
                    );
                    let context = self.context(table, key);
                    return Err(backend(table, "TransactWriteItems", context, detail));
                }
            }
        }
        if retry {
            Ok(None)
        } else {
            Err(sdk_failure(
                first_table,
                "TransactWriteItems",
                format!("a transaction in DynamoDB table `{}`", self.table),
                err,
            ))
        }
    }
}

/// A put of a transaction, with the live version read for an `Any` put.
struct PutOp<'a> {
    table: &'a str,
    key: &'a str,
    doc: &'a Document,
    expected: Expect,
    current: Option<u64>,
    slots: &'a SlotValues,
}
