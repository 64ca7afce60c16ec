//! Single-item reads and writes: `GetItem` (consistent), puts (`PutItem` on a version or
//! absence condition, `UpdateItem` for `Expect::Any`), `DeleteItem`, and the conflict
//! reported when a condition fails, with the version found.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use kite_ports::documents::{validate_key, validate_table};
use kite_ports::{Document, DocumentError, Expect, Versioned};

use super::encoding::{
    Attrs, DOC, EXP, SlotValues, Stored, TBL, TTL, VER, gpk_attr, gsk_attr, instant_number,
    item_size, n, pk, s, ttl_seconds,
};
use super::errors::{WriteFail, backend, invalid, sdk_failure};
use super::expr::{Conditional, Expr};
use super::{DynamoDocuments, MAX_ATTEMPTS};
use crate::metrics::{read_units, write_units};

impl DynamoDocuments {
    /// [`DocumentStore::get`](kite_ports::DocumentStore::get): the live item, if any.
    pub(super) async fn get_live(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now = self.clock.now();
        Ok(self
            .read(table, key)
            .await?
            .filter(|stored| stored.live(now))
            .map(|stored| Versioned {
                value: stored.doc,
                version: stored.version,
                expires_at: stored.expires_at,
            }))
    }

    /// [`DocumentStore::put`](kite_ports::DocumentStore::put): a conditional `PutItem`, or
    /// for `Expect::Any` an `UpdateItem` (a fresh put when the item is stored expired),
    /// retried while racing with other writers.
    pub(super) async fn put_doc(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        doc.validate(table, key)?;
        let slots = self.slot_values(table, key, &doc)?;
        let operation = match expected {
            Expect::Any => "UpdateItem",
            _ => "PutItem",
        };
        for _attempt in 0..MAX_ATTEMPTS {
            let now = instant_number(self.clock.now());
            let (version, condition) = match expected {
                Expect::Absent => (1, Expect::Absent),
                Expect::Version(v) => (
                    v.checked_add(1)
                        .ok_or_else(|| invalid(table, format!("item `{key}`: version overflow")))?,
                    expected,
                ),
                Expect::Any => match self.update_any(table, key, &doc, &slots, &now).await {
                    Ok(version) => return Ok(version),
                    Err(WriteFail::Other(err)) => return Err(err),
                    // Stored but expired: recreate it at version 1.
                    Err(WriteFail::Condition(_)) => (1, Expect::Absent),
                },
            };
            let item = self.item(table, key, &doc, &slots, version);
            match self.put_item(table, key, item, condition, &now).await {
                Ok(()) => return Ok(version),
                Err(WriteFail::Other(err)) => return Err(err),
                // Revived meanwhile: continue its version.
                Err(WriteFail::Condition(_)) if expected == Expect::Any => continue,
                Err(WriteFail::Condition(old)) => {
                    return Err(self.conflict(table, key, expected, operation, old).await);
                }
            }
        }
        Err(backend(
            table,
            operation,
            self.context(table, key),
            format!("gave up after {MAX_ATTEMPTS} attempts racing with other writers"),
        ))
    }

    /// [`DocumentStore::delete`](kite_ports::DocumentStore::delete): a conditional
    /// `DeleteItem`; whether a live item was deleted.
    pub(super) async fn delete_doc(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        validate_table(table)?;
        validate_key(table, key)?;
        let now_instant = self.clock.now();
        let now = instant_number(now_instant);
        let mut expr = Expr::default();
        let condition = expr.expect(expected, &now);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table, key)))
            .conditioned(condition, &expr)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                let old = out.attributes;
                self.metrics.add_units(
                    0.0,
                    write_units(old.as_ref().map_or(pk(table, key).len(), item_size)),
                );
                return match old {
                    None => Ok(false),
                    Some(item) => Ok(self
                        .decode(table, key, "DeleteItem", &item)?
                        .live(now_instant)),
                };
            }
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(DeleteItemError::ConditionalCheckFailedException(e)) => Some(e.item().cloned()),
            _ => None,
        };
        match self.write_failed(table, key, "DeleteItem", &err, old) {
            WriteFail::Condition(old) => {
                Err(self.conflict(table, key, expected, "DeleteItem", old).await)
            }
            WriteFail::Other(err) => Err(err),
        }
    }

    /// The live version in an old item returned by a failed condition (`None` = absent or
    /// expired); reads the item when the service did not return it.
    async fn actual_version(
        &self,
        table: &str,
        key: &str,
        operation: &'static str,
        old: Option<Attrs>,
    ) -> Result<Option<u64>, DocumentError> {
        let now = self.clock.now();
        let stored = match old {
            Some(item) => Some(self.decode(table, key, operation, &item)?),
            None => self.read(table, key).await?,
        };
        Ok(stored.filter(|s| s.live(now)).map(|s| s.version))
    }

    /// The [`DocumentError::Conflict`] of a failed condition, with the version found in
    /// `old` (or read).
    pub(super) async fn conflict(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
        operation: &'static str,
        old: Option<Attrs>,
    ) -> DocumentError {
        match self.actual_version(table, key, operation, old).await {
            Ok(actual) => DocumentError::Conflict {
                table: table.to_owned(),
                key: key.to_owned(),
                expected,
                actual,
            },
            Err(err) => err,
        }
    }

    /// A consistent read of the stored item, expired or not.
    async fn read(&self, table: &str, key: &str) -> Result<Option<Stored>, DocumentError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure(table, "GetItem", self.context(table, key), &e))?;
        let item = out.item;
        self.metrics
            .add_units(read_units(item.as_ref().map_or(0, item_size)), 0.0);
        if let Some(item) = &item {
            self.seen_index_keys.remember_item(item);
        }
        item.map(|item| self.decode(table, key, "GetItem", &item))
            .transpose()
    }

    /// A `PutItem` of `item` on the condition of `expected` (`Absent` or `Version`).
    async fn put_item(
        &self,
        table: &str,
        key: &str,
        item: Attrs,
        expected: Expect,
        now: &str,
    ) -> Result<(), WriteFail> {
        let (units, written) = self.seen_index_keys.write_units_of(&item);
        let mut expr = Expr::default();
        let condition = expr.expect(expected, now);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .conditioned(condition, &expr)
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                self.record_write(units, written);
                return Ok(());
            }
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(e)) => Some(e.item().cloned()),
            _ => None,
        };
        Err(self.write_failed(table, key, "PutItem", &err, old))
    }

    /// The `Expect::Any` put: an `UpdateItem` continuing the version of an absent or live
    /// item; `Condition` when the item is stored expired.
    async fn update_any(
        &self,
        table: &str,
        key: &str,
        doc: &Document,
        slots: &SlotValues,
        now: &str,
    ) -> Result<u64, WriteFail> {
        let mut expr = Expr::default();
        let condition = expr.absent_or_live(now);
        let update = any_update(&mut expr, table, doc, slots);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table, key)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let (units, written) = self.seen_index_keys.write_units_of(&item);
                self.record_write(units, written);
                let stored = self.decode(table, key, "UpdateItem", &item)?;
                return Ok(stored.version);
            }
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Some(None),
            _ => None,
        };
        Err(self.write_failed(table, key, "UpdateItem", &err, old))
    }

    /// Counts a failed write (a unit) and says why it failed: its condition, with the old
    /// item in `condition_failed` (`Some(None)`: the service returned none), or `err`.
    fn write_failed<E, R>(
        &self,
        table: &str,
        key: &str,
        operation: &'static str,
        err: &SdkError<E, R>,
        condition_failed: Option<Option<Attrs>>,
    ) -> WriteFail
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.metrics.add_units(0.0, write_units(0));
        match condition_failed {
            Some(old) => WriteFail::Condition(old),
            None => WriteFail::Other(sdk_failure(table, operation, self.context(table, key), err)),
        }
    }
}

/// The update expression of an `Expect::Any` put: sets every attribute of the item, with
/// `ver = if_not_exists(ver, 0) + 1`, and removes the expiry and the slots it does not use.
fn any_update(expr: &mut Expr, table: &str, doc: &Document, slots: &SlotValues) -> String {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    let tbl = expr.n(TBL);
    set.push(format!("{tbl} = {}", expr.v("tbl", s(table))));
    let doc_name = expr.n(DOC);
    set.push(format!(
        "{doc_name} = {}",
        expr.v("doc", s(doc.json.clone()))
    ));
    let ver = expr.n(VER);
    let zero = expr.v("zero", n("0"));
    let one = expr.v("one", n("1"));
    set.push(format!("{ver} = if_not_exists({ver}, {zero}) + {one}"));
    let (exp, ttl) = (expr.n(EXP), expr.n(TTL));
    match doc.expires_at {
        Some(at) => {
            set.push(format!("{exp} = {}", expr.v("exp", n(&instant_number(at)))));
            set.push(format!(
                "{ttl} = {}",
                expr.v("ttl", n(&ttl_seconds(at).to_string()))
            ));
        }
        None => remove.extend([exp, ttl]),
    }
    for (i, values) in slots.iter().enumerate() {
        let slot = i as u8 + 1;
        let (gpk, gsk) = (expr.n(&gpk_attr(slot)), expr.n(&gsk_attr(slot)));
        match values {
            Some((pv, sv)) => {
                set.push(format!(
                    "{gpk} = {}",
                    expr.v(&format!("g{slot}pk"), s(pv.clone()))
                ));
                set.push(format!(
                    "{gsk} = {}",
                    expr.v(&format!("g{slot}sk"), s(sv.clone()))
                ));
            }
            None => remove.extend([gpk, gsk]),
        }
    }
    let mut update = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        update.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    update
}
