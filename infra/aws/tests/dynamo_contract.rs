//! The `DocumentStore` contract suite on [`DynamoDocuments`] against the moto emulator: each
//! case gets a fresh single table (`{unique prefix}documents`) and the case's
//! [`ManualClock`], so TTL is computed from the injected clock.

#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::Duration;

use kite_aws::dynamo::{IndexSlots, create_table, delete_table};
use kite_aws::resources::Resources;
use kite_aws::{Clients, DynamoDocuments, testing};
use kite_ports::contract::Fixture;
use kite_ports::{
    Clock, Document, DocumentError, DocumentStore, Expect, ManualClock, Query, WriteOp,
};

/// A fresh documents table on the shared moto server.
async fn fresh(clock: ManualClock) -> (DynamoDocuments, Clients, String) {
    let clients = testing::clients().await;
    let name = clients.config.name(&Resources::load().table.name);
    create_table(&clients, &Resources::load().table, &name)
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e}"));
    let docs = DynamoDocuments::new(&clients, name.clone(), Arc::new(clock));
    (docs, clients, name)
}

async fn fixture(clock: ManualClock) -> Fixture<dyn DocumentStore> {
    let (docs, _clients, _name) = fresh(clock).await;
    Fixture::new(Arc::new(docs) as Arc<dyn DocumentStore>)
}

/// The cases run here unchanged, as tests of their own (module `documents`).
macro_rules! dynamo_cases {
    ($($case:ident),+ $(,)?) => {
        const RUN: &[&str] = &[$(stringify!($case)),+];

        mod documents {
            use super::*;

            kite_ports::__kite_contract_cases!(documents, fixture, [$($case),+]);
        }
    };
}

// Every case of the document suite but `concurrent_conditional_writers`, which runs below:
// moto (a threaded Python server) does not make a conditional write atomic against a
// concurrent one, and once in many runs lets two writers of the same version both succeed.
// DynamoDB does. (`every_case_is_run` keeps this list complete.)
dynamo_cases![
    put_get_versions,
    conditional_put_conflicts,
    conditional_delete,
    tables_and_keys_are_isolated,
    transactions_are_all_or_nothing,
    transaction_shape_is_validated,
    query_prefix_and_paging,
    query_descending_paging,
    query_range_conditions,
    index_entries_follow_writes,
    ttl_hides_and_sweeps,
    size_limit,
    invalid_requests,
];

/// The concurrent-writers case, up to three times: an adapter that loses increments fails
/// every run; moto's occasional non-atomic conditional write fails one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_writers_allowing_for_moto() {
    let mut failures = Vec::new();
    for _ in 0..3 {
        let run = tokio::spawn(async {
            let clock = kite_ports::contract::clock();
            let fixture = fixture(clock.clone()).await;
            kite_ports::contract::documents::concurrent_conditional_writers(fixture.port(), clock)
                .await;
        })
        .await;
        match run {
            Ok(()) => return,
            Err(e) => failures.push(e.to_string()),
        }
    }
    panic!("lost increments in 3 runs out of 3: {failures:?}");
}

#[test]
fn every_case_is_run() {
    let mut run: Vec<&str> = RUN.to_vec();
    run.push("concurrent_conditional_writers");
    run.sort_unstable();
    let mut suite = kite_ports::contract::documents::CASES.to_vec();
    suite.sort_unstable();
    assert_eq!(
        run, suite,
        "every document contract case must run on DynamoDB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_table_are_idempotent() {
    let (_docs, clients, name) = fresh(kite_ports::contract::clock()).await;
    let def = Resources::load().table;
    create_table(&clients, &def, &name)
        .await
        .unwrap_or_else(|e| panic!("second create: {e}"));
    let ttl = clients
        .dynamodb
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describe ttl: {e}"));
    assert_eq!(
        ttl.time_to_live_description
            .and_then(|d| d.attribute_name)
            .as_deref(),
        Some("ttl")
    );
    delete_table(&clients, &name)
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    delete_table(&clients, &name)
        .await
        .unwrap_or_else(|e| panic!("second delete: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_in_one_slot_are_rejected_with_a_fix() {
    let (docs, _clients, _name) = fresh(kite_ports::contract::clock()).await;
    let doc = Document::new("{}")
        .index("namespace", "ns", "a")
        .index("execution", "e1", "b");
    match docs.put("logs", "k", doc.clone(), Expect::Any).await {
        Err(DocumentError::Invalid { reason, .. }) => {
            assert!(
                reason.contains("namespace") && reason.contains("execution"),
                "{reason}"
            );
            assert!(reason.contains("different slots"), "{reason}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let docs = docs.with_slots(IndexSlots::default().with("execution", 2));
    assert_eq!(docs.put("logs", "k", doc, Expect::Any).await.ok(), Some(1));
    let found = docs
        .query(&Query::new("logs", "execution", "e1"))
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].sort, "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_limits_are_invalid() {
    let (docs, _clients, _name) = fresh(kite_ports::contract::clock()).await;
    let long_sort = "s".repeat(1000);
    let doc = Document::new("{}").index("namespace", "ns", long_sort);
    assert!(matches!(
        docs.put("flows", &"k".repeat(100), doc, Expect::Any).await,
        Err(DocumentError::Invalid { .. })
    ));
    let doc = Document::new("{}").index("namespace", "ns", "a\u{1}b");
    assert!(matches!(
        docs.put("flows", "k", doc, Expect::Any).await,
        Err(DocumentError::Invalid { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_units_are_counted() {
    let (docs, clients, _name) = fresh(kite_ports::contract::clock()).await;
    let before = clients.metrics.snapshot();
    docs.put(
        "flows",
        "k",
        Document::new("x".repeat(3000)),
        Expect::Absent,
    )
    .await
    .unwrap_or_else(|e| panic!("put: {e}"));
    docs.get("flows", "k")
        .await
        .unwrap_or_else(|e| panic!("get: {e}"));
    let used = clients.metrics.snapshot().since(&before);
    assert_eq!(used.write_units, 3.0, "3 KB written");
    assert_eq!(used.read_units, 1.0, "one 4 KB read");
    assert_eq!(used.service("dynamodb"), 2, "{:?}", used.requests);

    // The GSIs project keys only: a new item in two indexes is billed its size in the
    // table plus one small entry per index.
    let indexed = || {
        Document::new("x".repeat(2500))
            .index("flow", "ns|f", "s")
            .index("namespace", "ns", "s")
    };
    let before = clients.metrics.snapshot();
    let v = docs
        .put("executions", "e", indexed(), Expect::Absent)
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    let used = clients.metrics.snapshot().since(&before);
    assert_eq!(
        used.write_units, 5.0,
        "3 KB in the table, 1 per index entry"
    );

    // Rewritten with the same index keys: nothing is written to the indexes.
    let before = clients.metrics.snapshot();
    let v = docs
        .put("executions", "e", indexed(), Expect::Version(v))
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    let used = clients.metrics.snapshot().since(&before);
    assert_eq!(used.write_units, 3.0, "the table only");

    // One index key changed: that entry is deleted and put again.
    let before = clients.metrics.snapshot();
    docs.put(
        "executions",
        "e",
        Document::new("x".repeat(2500))
            .index("flow", "ns|f", "s")
            .index("namespace", "ns", "t"),
        Expect::Version(v),
    )
    .await
    .unwrap_or_else(|e| panic!("put: {e}"));
    let used = clients.metrics.snapshot().since(&before);
    assert_eq!(
        used.write_units, 5.0,
        "the table, and 2 for the moved entry"
    );

    // A query reads the keys from the index, then the documents with one BatchGetItem.
    let before = clients.metrics.snapshot();
    let page = docs
        .query(
            &kite_ports::Query::new("executions", "flow", "ns|f").range(kite_ports::RangeCond::All),
        )
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].doc.value.len(), 2500);
    let used = clients.metrics.snapshot().since(&before);
    assert_eq!(used.service("dynamodb"), 2, "{:?}", used.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_report_the_old_item_without_an_extra_read() {
    let (docs, clients, _name) = fresh(kite_ports::contract::clock()).await;
    docs.put("flows", "k", Document::new("{}"), Expect::Absent)
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    let before = clients.metrics.snapshot();
    assert!(matches!(
        docs.put("flows", "k", Document::new("{}"), Expect::Version(7))
            .await,
        Err(DocumentError::Conflict {
            actual: Some(1),
            ..
        })
    ));
    assert!(matches!(
        docs.delete("flows", "k", Expect::Absent).await,
        Err(DocumentError::Conflict {
            actual: Some(1),
            ..
        })
    ));
    let used = clients.metrics.snapshot().since(&before);
    assert_eq!(
        used.service("dynamodb"),
        2,
        "ALL_OLD on condition failure gives the version: {:?}",
        used.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_puts_continue_versions_and_restart_after_expiry() {
    let clock = kite_ports::contract::clock();
    let (docs, _clients, _name) = fresh(clock.clone()).await;
    let soon = kite_ports::clock::add_duration(clock.now(), Duration::from_millis(1500));
    let expiring = Document::new("1").expires_at(soon);
    assert_eq!(
        docs.put("locks", "a", expiring.clone(), Expect::Any)
            .await
            .ok(),
        Some(1)
    );
    assert_eq!(
        docs.put("locks", "a", expiring, Expect::Any).await.ok(),
        Some(2)
    );
    assert_eq!(
        docs.get("locks", "a")
            .await
            .ok()
            .flatten()
            .and_then(|v| v.expires_at),
        Some(soon),
        "the exact expiry is kept"
    );
    clock.advance(Duration::from_millis(1500));
    assert_eq!(
        docs.put("locks", "a", Document::new("3"), Expect::Any)
            .await
            .ok(),
        Some(1),
        "an expired item is recreated"
    );
    assert_eq!(
        docs.put("locks", "a", Document::new("4"), Expect::Any)
            .await
            .ok(),
        Some(2),
        "and no longer expires"
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        docs.get("locks", "a")
            .await
            .ok()
            .flatten()
            .map(|v| v.version),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_return_versions_of_any_puts() {
    let clock = kite_ports::contract::clock();
    let (docs, _clients, _name) = fresh(clock.clone()).await;
    docs.put("slots", "live", Document::new("{}"), Expect::Absent)
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    docs.put("slots", "live", Document::new("{}"), Expect::Any)
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    let soon = kite_ports::clock::add_duration(clock.now(), Duration::from_secs(5));
    docs.put(
        "slots",
        "expired",
        Document::new("{}").expires_at(soon),
        Expect::Absent,
    )
    .await
    .unwrap_or_else(|e| panic!("put: {e}"));
    clock.advance(Duration::from_secs(5));
    let applied = docs
        .transact(vec![
            WriteOp::put("slots", "live", Document::new("{}"), Expect::Any),
            WriteOp::put(
                "slots",
                "new",
                Document::new("{}").index("by_state", "held", "new"),
                Expect::Any,
            ),
            WriteOp::put("slots", "expired", Document::new("{}"), Expect::Any),
            WriteOp::check("slots", "whatever", Expect::Any),
            WriteOp::delete("slots", "nothing", Expect::Any),
        ])
        .await
        .unwrap_or_else(|e| panic!("transaction: {e}"));
    assert_eq!(applied, [Some(3), Some(1), Some(1), None, None]);
    let only_any_check = docs
        .transact(vec![WriteOp::check("slots", "x", Expect::Any)])
        .await
        .unwrap_or_else(|e| panic!("transaction: {e}"));
    assert_eq!(only_any_check, [None]);
    let failed = docs
        .transact(vec![
            WriteOp::put("slots", "live", Document::new("{}"), Expect::Any),
            WriteOp::put("slots", "new", Document::new("{}"), Expect::Absent),
        ])
        .await;
    assert!(
        matches!(
            failed,
            Err(DocumentError::Conflict { ref key, expected: Expect::Absent, actual: Some(1), .. })
                if key == "new"
        ),
        "{failed:?}"
    );
    assert_eq!(
        docs.get("slots", "live")
            .await
            .ok()
            .flatten()
            .map(|v| v.version),
        Some(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_skip_expired_items_and_stay_full() {
    let clock = kite_ports::contract::clock();
    let (docs, _clients, _name) = fresh(clock.clone()).await;
    let soon = kite_ports::clock::add_duration(clock.now(), Duration::from_secs(1));
    for i in 0..12 {
        let mut doc = Document::new("{}").index("namespace", "ns", format!("{i:02}"));
        if i % 3 != 0 {
            doc = doc.expires_at(soon);
        }
        docs.put("kv_store", &format!("k{i:02}"), doc, Expect::Absent)
            .await
            .unwrap_or_else(|e| panic!("put: {e}"));
    }
    clock.advance(Duration::from_secs(1));
    for descending in [false, true] {
        let mut query = Query::new("kv_store", "namespace", "ns").limit(2);
        query.descending = descending;
        let first = docs
            .query(&query)
            .await
            .unwrap_or_else(|e| panic!("query: {e}"));
        let second = docs
            .query(&query.clone().after(first.next.clone()))
            .await
            .unwrap_or_else(|e| panic!("query: {e}"));
        let keys: Vec<&str> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|i| i.key.as_str())
            .collect();
        let mut expected = vec!["k00", "k03", "k06", "k09"];
        if descending {
            expected.reverse();
        }
        assert_eq!(keys, expected);
        assert!(first.next.is_some());
        assert_eq!(second.next, None, "the look-ahead knows the end");
    }
}
