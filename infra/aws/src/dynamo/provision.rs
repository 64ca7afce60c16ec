//! Provisioning: [`create_table`] (the table, its keys-only GSIs and TTL, waited for until
//! ACTIVE) and [`delete_table`].

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_table::DeleteTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use kite_ports::DocumentError;

use super::errors::{backend, sdk_failure};
use crate::config::Clients;
use crate::resources::{IndexDef, TableDef};

/// How long [`create_table`] and [`delete_table`] wait for DynamoDB.
const TABLE_WAIT: Duration = Duration::from_secs(600);

/// Creates the documents table `full_name` from `def` (on-demand billing, the GSIs with
/// keys only projected, TTL on `def.ttl_attribute`) and waits until it is ACTIVE.
/// Idempotent: an existing table is waited for and checked for the GSIs, and its TTL is
/// enabled if it is not yet.
pub async fn create_table(
    clients: &Clients,
    def: &TableDef,
    full_name: &str,
) -> Result<(), DocumentError> {
    let db = &clients.dynamodb;
    send_create_table(db, def, full_name).await?;
    wait_until_active(db, def, full_name).await?;
    enable_ttl(db, def, full_name).await
}

/// Deletes the table `full_name` and waits until it is gone; a missing table is fine.
pub async fn delete_table(clients: &Clients, full_name: &str) -> Result<(), DocumentError> {
    let db = &clients.dynamodb;
    match db.delete_table().table_name(full_name).send().await {
        Ok(_) => {}
        Err(err) => match err.as_service_error() {
            Some(DeleteTableError::ResourceNotFoundException(_)) => return Ok(()),
            _ => return Err(table_sdk_failure(full_name, "DeleteTable", &err)),
        },
    }
    let mut poll = Poll::new();
    loop {
        match db.describe_table().table_name(full_name).send().await {
            Ok(_) => {}
            Err(err) => match err.as_service_error() {
                Some(DescribeTableError::ResourceNotFoundException(_)) => return Ok(()),
                _ => return Err(table_sdk_failure(full_name, "DescribeTable", &err)),
            },
        }
        if !poll.wait().await {
            return Err(table_failure(
                full_name,
                "DeleteTable",
                format!("still there after {} s", TABLE_WAIT.as_secs()),
            ));
        }
    }
}

/// A failure of `operation` on table `full_name`.
fn table_failure(full_name: &str, operation: &'static str, detail: String) -> DocumentError {
    backend(
        full_name,
        operation,
        format!("DynamoDB table `{full_name}`"),
        detail,
    )
}

/// An SDK failure of `operation` on table `full_name`.
fn table_sdk_failure<E, R>(
    full_name: &str,
    operation: &'static str,
    err: &SdkError<E, R>,
) -> DocumentError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    sdk_failure(
        full_name,
        operation,
        format!("DynamoDB table `{full_name}`"),
        err,
    )
}

/// Maps a request part that does not build to a failure of `operation`.
fn build_failed<'a>(
    full_name: &'a str,
    operation: &'static str,
) -> impl Fn(BuildError) -> DocumentError + 'a {
    move |e| table_failure(full_name, operation, e.to_string())
}

/// The pauses between polls of [`create_table`] and [`delete_table`]: 100 ms, doubling up
/// to 5 s, until [`TABLE_WAIT`] has passed.
struct Poll {
    deadline: tokio::time::Instant,
    delay: Duration,
}

impl Poll {
    fn new() -> Self {
        Self {
            deadline: tokio::time::Instant::now() + TABLE_WAIT,
            delay: Duration::from_millis(100),
        }
    }

    /// Waits before the next poll; `false` (at once) when the deadline has passed.
    async fn wait(&mut self) -> bool {
        if tokio::time::Instant::now() >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(5));
        true
    }
}

/// Sends `CreateTable`; a table that exists already is fine.
async fn send_create_table(
    db: &Client,
    def: &TableDef,
    full_name: &str,
) -> Result<(), DocumentError> {
    let mut request = db
        .create_table()
        .table_name(full_name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element(full_name, &def.hash_key, KeyType::Hash)?);
    for attr in key_attributes(def) {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_failed(full_name, "CreateTable"))?,
        );
    }
    for index in &def.indexes {
        request = request.global_secondary_indexes(global_index(full_name, index)?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) => match err.as_service_error() {
            Some(CreateTableError::ResourceInUseException(_)) => Ok(()),
            _ => Err(table_sdk_failure(full_name, "CreateTable", &err)),
        },
    }
}

/// The key attributes of the table and its indexes, each once, in order of appearance.
fn key_attributes(def: &TableDef) -> Vec<&str> {
    let mut attributes: Vec<&str> = vec![&def.hash_key];
    for index in &def.indexes {
        for attr in [&index.hash_key, &index.range_key] {
            if !attributes.contains(&attr.as_str()) {
                attributes.push(attr);
            }
        }
    }
    attributes
}

/// A key schema element of `CreateTable`.
fn key_element(
    full_name: &str,
    attr: &str,
    key_type: KeyType,
) -> Result<KeySchemaElement, DocumentError> {
    KeySchemaElement::builder()
        .attribute_name(attr)
        .key_type(key_type)
        .build()
        .map_err(build_failed(full_name, "CreateTable"))
}

/// The GSI of `index`, projecting [`INDEX_PROJECTION`](crate::resources::INDEX_PROJECTION).
fn global_index(full_name: &str, index: &IndexDef) -> Result<GlobalSecondaryIndex, DocumentError> {
    GlobalSecondaryIndex::builder()
        .index_name(&index.name)
        .key_schema(key_element(full_name, &index.hash_key, KeyType::Hash)?)
        .key_schema(key_element(full_name, &index.range_key, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::from(crate::resources::INDEX_PROJECTION))
                .build(),
        )
        .build()
        .map_err(build_failed(full_name, "CreateTable"))
}

/// Waits until the table and its indexes are ACTIVE (at most [`TABLE_WAIT`]); fails at
/// once when the table lacks some of `def`'s indexes.
async fn wait_until_active(
    db: &Client,
    def: &TableDef,
    full_name: &str,
) -> Result<(), DocumentError> {
    let mut poll = Poll::new();
    loop {
        let out = db
            .describe_table()
            .table_name(full_name)
            .send()
            .await
            .map_err(|e| table_sdk_failure(full_name, "DescribeTable", &e))?;
        let Some(table) = out.table else {
            return Err(table_failure(
                full_name,
                "DescribeTable",
                "no table description returned".into(),
            ));
        };
        if is_active(def, full_name, &table)? {
            return Ok(());
        }
        if !poll.wait().await {
            return Err(table_failure(
                full_name,
                "DescribeTable",
                format!("not ACTIVE after {} s", TABLE_WAIT.as_secs()),
            ));
        }
    }
}

/// Whether `table` and its indexes are ACTIVE; an error when it lacks some of `def`'s
/// indexes.
fn is_active(
    def: &TableDef,
    full_name: &str,
    table: &TableDescription,
) -> Result<bool, DocumentError> {
    let missing: Vec<&str> = def
        .indexes
        .iter()
        .map(|i| i.name.as_str())
        .filter(|name| {
            !table
                .global_secondary_indexes()
                .iter()
                .any(|g| g.index_name() == Some(*name))
        })
        .collect();
    if !missing.is_empty() {
        return Err(table_failure(
            full_name,
            "DescribeTable",
            format!(
                "the existing table lacks the global secondary indexes {}; delete it \
                 (`kite infra down`) or add them",
                missing.join(", ")
            ),
        ));
    }
    let indexes_active = table
        .global_secondary_indexes()
        .iter()
        .all(|g| g.index_status().is_none_or(|s| *s == IndexStatus::Active));
    Ok(table.table_status() == Some(&TableStatus::Active) && indexes_active)
}

/// Enables TTL on `def.ttl_attribute` unless it is enabled already; fails when it is
/// enabled on another attribute.
async fn enable_ttl(db: &Client, def: &TableDef, full_name: &str) -> Result<(), DocumentError> {
    let ttl = db
        .describe_time_to_live()
        .table_name(full_name)
        .send()
        .await
        .map_err(|e| table_sdk_failure(full_name, "DescribeTimeToLive", &e))?;
    let description = ttl.time_to_live_description;
    let status = description.as_ref().and_then(|d| d.time_to_live_status());
    let attribute = description.as_ref().and_then(|d| d.attribute_name());
    match status {
        Some(TimeToLiveStatus::Enabled) | Some(TimeToLiveStatus::Enabling) => {
            if attribute != Some(def.ttl_attribute.as_str()) {
                return Err(table_failure(
                    full_name,
                    "DescribeTimeToLive",
                    format!(
                        "TTL is enabled on attribute `{}` instead of `{}`; disable it on the \
                         table first",
                        attribute.unwrap_or_default(),
                        def.ttl_attribute
                    ),
                ));
            }
        }
        _ => {
            db.update_time_to_live()
                .table_name(full_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(&def.ttl_attribute)
                        .build()
                        .map_err(build_failed(full_name, "UpdateTimeToLive"))?,
                )
                .send()
                .await
                .map_err(|e| table_sdk_failure(full_name, "UpdateTimeToLive", &e))?;
        }
    }
    Ok(())
}
