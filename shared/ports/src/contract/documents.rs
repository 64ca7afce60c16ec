//! Contract cases of the [`DocumentStore`] port.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Fixture, run_cases};
use crate::clock::{Clock, ManualClock, add_duration};
use crate::documents::{
    Cursor, Document, DocumentError, DocumentStore, Expect, MAX_ITEM_BYTES, MAX_TRANSACTION_OPS,
    Query, QueryItem, RangeCond, Versioned, WriteOp,
};

/// Cases that need the implementation to take time from the [`ManualClock`].
pub const TIME_TRAVEL: &[&str] = &["ttl_hides_and_sweeps"];

/// The cases of this suite, listed once: `__kite_documents_cases!([callback] args…)` expands to
/// `callback!(args… [case, …])`.
#[doc(hidden)]
#[macro_export]
macro_rules! __kite_documents_cases {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { $($args)* [
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
            concurrent_conditional_writers,
            invalid_requests,
        ] }
    };
}

/// The names of every case of this suite.
pub const CASES: &[&str] = crate::__kite_documents_cases!([crate::__kite_case_names]);

/// Runs every document case, each on a fresh implementation from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = Fixture<dyn DocumentStore>>,
{
    crate::__kite_documents_cases!([run_cases] documents, make,);
}

async fn put(
    d: &dyn DocumentStore,
    table: &str,
    key: &str,
    doc: Document,
    expected: Expect,
) -> u64 {
    d.put(table, key, doc, expected)
        .await
        .unwrap_or_else(|e| panic!("put {table}/{key} ({expected}) failed: {e}"))
}

async fn get(d: &dyn DocumentStore, table: &str, key: &str) -> Option<Versioned<String>> {
    d.get(table, key)
        .await
        .unwrap_or_else(|e| panic!("get {table}/{key} failed: {e}"))
}

async fn version_of(d: &dyn DocumentStore, table: &str, key: &str) -> Option<u64> {
    get(d, table, key).await.map(|v| v.version)
}

fn assert_conflict<T: std::fmt::Debug>(
    result: Result<T, DocumentError>,
    table: &str,
    key: &str,
    expected: Expect,
    actual: Option<u64>,
) {
    match result {
        Err(DocumentError::Conflict {
            table: t,
            key: k,
            expected: e,
            actual: a,
        }) => assert_eq!(
            (t.as_str(), k.as_str(), e, a),
            (table, key, expected, actual),
            "the conflict names the item, the expectation and what was found"
        ),
        other => panic!("expected a conflict on {table}/{key} ({expected}), got {other:?}"),
    }
}

/// Pages through `query` to the end; checks each page's size.
async fn query_all(d: &dyn DocumentStore, query: Query) -> Vec<QueryItem> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = d
            .query(&query.clone().after(cursor))
            .await
            .unwrap_or_else(|e| panic!("query {query:?} failed: {e}"));
        assert!(page.items.len() <= query.limit, "a page exceeds its limit");
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
    panic!("query {query:?} never ended")
}

fn keys(items: &[QueryItem]) -> Vec<&str> {
    items.iter().map(|i| i.key.as_str()).collect()
}

/// Creation is version 1, each put adds one, a recreated item starts over.
pub async fn put_get_versions(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    assert_eq!(get(d, "flows", "ns/hello").await, None);
    assert_eq!(
        put(
            d,
            "flows",
            "ns/hello",
            Document::new(r#"{"rev":1}"#),
            Expect::Absent
        )
        .await,
        1
    );
    assert_eq!(
        get(d, "flows", "ns/hello").await,
        Some(Versioned {
            value: r#"{"rev":1}"#.to_owned(),
            version: 1,
            expires_at: None
        })
    );
    assert_eq!(
        put(
            d,
            "flows",
            "ns/hello",
            Document::new(r#"{"rev":2}"#),
            Expect::Any
        )
        .await,
        2
    );
    assert_eq!(
        put(
            d,
            "flows",
            "ns/hello",
            Document::new(r#"{"rev":3}"#),
            Expect::Version(2)
        )
        .await,
        3
    );
    let current = get(d, "flows", "ns/hello").await;
    assert_eq!(
        current.map(|v| (v.value, v.version)),
        Some((r#"{"rev":3}"#.to_owned(), 3))
    );
    assert_eq!(
        d.delete("flows", "ns/hello", Expect::Any).await.ok(),
        Some(true)
    );
    assert_eq!(get(d, "flows", "ns/hello").await, None);
    assert_eq!(
        put(d, "flows", "ns/hello", Document::new("{}"), Expect::Any).await,
        1,
        "a recreated item starts again at version 1"
    );
}

/// Failed conditions are `Conflict`s naming table, key, expectation and the
/// version found, and leave the item untouched.
pub async fn conditional_put_conflicts(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    assert_conflict(
        d.put("executions", "e1", Document::new("{}"), Expect::Version(1))
            .await,
        "executions",
        "e1",
        Expect::Version(1),
        None,
    );
    put(
        d,
        "executions",
        "e1",
        Document::new(r#""original""#),
        Expect::Absent,
    )
    .await;
    assert_conflict(
        d.put(
            "executions",
            "e1",
            Document::new(r#""second""#),
            Expect::Absent,
        )
        .await,
        "executions",
        "e1",
        Expect::Absent,
        Some(1),
    );
    let stale = d
        .put(
            "executions",
            "e1",
            Document::new(r#""stale""#),
            Expect::Version(5),
        )
        .await;
    let text = stale.as_ref().map_err(ToString::to_string).err();
    assert_conflict(stale, "executions", "e1", Expect::Version(5), Some(1));
    let text = text.unwrap_or_default();
    assert!(
        text.contains("executions") && text.contains("e1"),
        "the message names the item: {text}"
    );
    assert_eq!(
        get(d, "executions", "e1")
            .await
            .map(|v| (v.value, v.version)),
        Some((r#""original""#.to_owned(), 1)),
        "failed writes change nothing"
    );
}

/// Deletes are conditional too; deleting nothing is `false`, not an error,
/// unless the condition requires an item.
pub async fn conditional_delete(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    assert_eq!(
        d.delete("triggers", "t", Expect::Any).await.ok(),
        Some(false)
    );
    assert_eq!(
        d.delete("triggers", "t", Expect::Absent).await.ok(),
        Some(false)
    );
    assert_conflict(
        d.delete("triggers", "t", Expect::Version(1)).await,
        "triggers",
        "t",
        Expect::Version(1),
        None,
    );
    put(d, "triggers", "t", Document::new("{}"), Expect::Absent).await;
    assert_conflict(
        d.delete("triggers", "t", Expect::Version(2)).await,
        "triggers",
        "t",
        Expect::Version(2),
        Some(1),
    );
    assert_conflict(
        d.delete("triggers", "t", Expect::Absent).await,
        "triggers",
        "t",
        Expect::Absent,
        Some(1),
    );
    assert_eq!(version_of(d, "triggers", "t").await, Some(1));
    assert_eq!(
        d.delete("triggers", "t", Expect::Version(1)).await.ok(),
        Some(true)
    );
    assert_eq!(get(d, "triggers", "t").await, None);
}

/// The same key in two tables, and keys that prefix each other, are distinct
/// items; indexes are per table.
pub async fn tables_and_keys_are_isolated(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    let indexed = |json: &str| Document::new(json).index("by_ns", "ns", "1");
    put(d, "flows", "a", indexed(r#""flow a""#), Expect::Absent).await;
    put(d, "executions", "a", indexed(r#""exec a""#), Expect::Absent).await;
    put(
        d,
        "flows",
        "a#b",
        Document::new(r#""flow a#b""#),
        Expect::Absent,
    )
    .await;
    assert_eq!(
        get(d, "flows", "a").await.map(|v| v.value),
        Some(r#""flow a""#.into())
    );
    assert_eq!(
        get(d, "executions", "a").await.map(|v| v.value),
        Some(r#""exec a""#.into())
    );
    assert_eq!(
        get(d, "flows", "a#b").await.map(|v| v.value),
        Some(r#""flow a#b""#.into())
    );
    let flows = query_all(d, Query::new("flows", "by_ns", "ns")).await;
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].doc.value, r#""flow a""#);
    d.delete("flows", "a", Expect::Any)
        .await
        .unwrap_or_else(|e| panic!("delete failed: {e}"));
    assert_eq!(version_of(d, "executions", "a").await, Some(1));
    assert_eq!(version_of(d, "flows", "a#b").await, Some(1));
    assert_eq!(
        query_all(d, Query::new("executions", "by_ns", "ns"))
            .await
            .len(),
        1
    );
}

/// A transaction applies every operation or none; the first failed condition
/// is reported; index entries of a failed transaction never appear.
pub async fn transactions_are_all_or_nothing(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    put(d, "slots", "a", Document::new(r#"{"n":1}"#), Expect::Absent).await;
    put(d, "slots", "b", Document::new(r#"{"n":1}"#), Expect::Absent).await;
    let applied = d
        .transact(vec![
            WriteOp::put(
                "slots",
                "a",
                Document::new(r#"{"n":2}"#),
                Expect::Version(1),
            ),
            WriteOp::put(
                "slots",
                "b",
                Document::new(r#"{"n":2}"#),
                Expect::Version(1),
            ),
            WriteOp::put(
                "slots",
                "c",
                Document::new(r#"{"n":1}"#).index("by_state", "held", "c"),
                Expect::Absent,
            ),
            WriteOp::check("slots", "d", Expect::Absent),
        ])
        .await
        .unwrap_or_else(|e| panic!("a valid transaction failed: {e}"));
    assert_eq!(applied, [Some(2), Some(2), Some(1), None]);

    let failed = d
        .transact(vec![
            WriteOp::put(
                "slots",
                "a",
                Document::new(r#"{"n":3}"#),
                Expect::Version(2),
            ),
            WriteOp::delete("slots", "b", Expect::Version(2)),
            WriteOp::put(
                "slots",
                "e",
                Document::new("{}").index("by_state", "held", "e"),
                Expect::Absent,
            ),
            WriteOp::check("slots", "c", Expect::Version(99)),
            WriteOp::put("jobs", "x", Document::new("{}"), Expect::Absent),
        ])
        .await;
    assert_conflict(failed, "slots", "c", Expect::Version(99), Some(1));
    assert_eq!(
        get(d, "slots", "a").await.map(|v| (v.value, v.version)),
        Some((r#"{"n":2}"#.to_owned(), 2)),
        "a failed transaction rolls back its puts"
    );
    assert_eq!(
        version_of(d, "slots", "b").await,
        Some(2),
        "and its deletes"
    );
    assert_eq!(get(d, "slots", "e").await, None, "and its creations");
    assert_eq!(get(d, "jobs", "x").await, None, "in every table");
    assert_eq!(
        keys(&query_all(d, Query::new("slots", "by_state", "held")).await),
        ["c"],
        "and its index entries"
    );

    let applied = d
        .transact(vec![
            WriteOp::delete("slots", "c", Expect::Version(1)),
            WriteOp::delete("slots", "zz", Expect::Any),
            WriteOp::put("jobs", "x", Document::new("{}"), Expect::Absent),
        ])
        .await
        .unwrap_or_else(|e| panic!("a valid transaction failed: {e}"));
    assert_eq!(applied, [None, None, Some(1)]);
    assert_eq!(get(d, "slots", "c").await, None);
    assert!(
        query_all(d, Query::new("slots", "by_state", "held"))
            .await
            .is_empty()
    );
}

/// Transactions hold 1..=100 operations on distinct items, each valid; a bad
/// shape applies nothing.
pub async fn transaction_shape_is_validated(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    let invalid = |result: Result<Vec<Option<u64>>, DocumentError>, what: &str| match result {
        Err(DocumentError::Invalid { .. }) => {}
        other => panic!("{what} should be Invalid, got {other:?}"),
    };
    invalid(d.transact(Vec::new()).await, "an empty transaction");
    let too_many = (0..=MAX_TRANSACTION_OPS)
        .map(|i| WriteOp::put("many", format!("k{i}"), Document::new("{}"), Expect::Any))
        .collect();
    invalid(d.transact(too_many).await, "101 operations");
    invalid(
        d.transact(vec![
            WriteOp::put("dups", "k", Document::new("{}"), Expect::Any),
            WriteOp::check("dups", "k", Expect::Any),
        ])
        .await,
        "the same item twice",
    );
    let oversized = d
        .transact(vec![
            WriteOp::put("dups", "ok", Document::new("{}"), Expect::Any),
            WriteOp::put(
                "dups",
                "big",
                Document::new("x".repeat(MAX_ITEM_BYTES)),
                Expect::Any,
            ),
        ])
        .await;
    assert!(
        matches!(oversized, Err(DocumentError::TooLarge { ref key, .. }) if key == "big"),
        "an oversized item fails the transaction: {oversized:?}"
    );
    assert_eq!(get(d, "many", "k0").await, None);
    assert_eq!(get(d, "dups", "k").await, None);
    assert_eq!(get(d, "dups", "ok").await, None);
    let exactly_max = (0..MAX_TRANSACTION_OPS)
        .map(|i| WriteOp::put("many", format!("k{i}"), Document::new("{}"), Expect::Absent))
        .collect();
    assert_eq!(
        d.transact(exactly_max).await.map(|r| r.len()).ok(),
        Some(MAX_TRANSACTION_OPS)
    );
}

async fn seed_runs(d: &dyn DocumentStore) {
    for i in 0..25 {
        let doc = Document::new(format!(r#"{{"i":{i}}}"#)).index(
            "by_flow",
            "ns.hello",
            format!("2024-01-01T00:00:{i:02}Z"),
        );
        put(
            d,
            "executions",
            &format!("exec-{i:02}"),
            doc,
            Expect::Absent,
        )
        .await;
    }
    for i in 0..3 {
        let doc =
            Document::new("{}").index("by_flow", "ns.hello", format!("2023-12-31T00:00:{i:02}Z"));
        put(d, "executions", &format!("old-{i}"), doc, Expect::Absent).await;
        let doc =
            Document::new("{}").index("by_flow", "ns.other", format!("2024-01-01T00:00:{i:02}Z"));
        put(d, "executions", &format!("other-{i}"), doc, Expect::Absent).await;
    }
}

/// Prefix queries page forward through exactly the matching entries, in sort
/// order, with documents and versions.
pub async fn query_prefix_and_paging(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    seed_runs(d).await;
    let query = Query::new("executions", "by_flow", "ns.hello")
        .range(RangeCond::Prefix("2024-".into()))
        .limit(10);
    let first = d
        .query(&query)
        .await
        .unwrap_or_else(|e| panic!("query failed: {e}"));
    assert_eq!(first.items.len(), 10, "a full first page");
    assert!(first.next.is_some(), "more pages follow");
    assert_eq!(first.items[0].key, "exec-00");
    assert_eq!(first.items[0].sort, "2024-01-01T00:00:00Z");
    assert_eq!(first.items[0].doc.value, r#"{"i":0}"#);
    assert_eq!(first.items[0].doc.version, 1);

    let all = query_all(d, query).await;
    let expected: Vec<String> = (0..25).map(|i| format!("exec-{i:02}")).collect();
    assert_eq!(
        keys(&all),
        expected,
        "pages join up without gaps or repeats"
    );

    let everything = query_all(
        d,
        Query::new("executions", "by_flow", "ns.hello").limit(100),
    )
    .await;
    assert_eq!(everything.len(), 28);
    assert_eq!(everything[0].key, "old-0", "2023 sorts before 2024");
    let single = d
        .query(&Query::new("executions", "by_flow", "ns.hello").limit(100))
        .await
        .unwrap_or_else(|e| panic!("query failed: {e}"));
    assert_eq!(single.items.len(), 28);
    assert_eq!(single.next, None, "no cursor after the last page");
    assert!(
        query_all(d, Query::new("executions", "by_flow", "ns.none"))
            .await
            .is_empty()
    );
}

/// Descending queries page backwards through the same entries.
pub async fn query_descending_paging(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    seed_runs(d).await;
    let query = Query::new("executions", "by_flow", "ns.hello")
        .range(RangeCond::Prefix("2024-01-01".into()))
        .limit(7)
        .descending();
    let all = query_all(d, query).await;
    let expected: Vec<String> = (0..25).rev().map(|i| format!("exec-{i:02}")).collect();
    assert_eq!(keys(&all), expected);
    let newest = d
        .query(
            &Query::new("executions", "by_flow", "ns.hello")
                .limit(1)
                .descending(),
        )
        .await
        .unwrap_or_else(|e| panic!("query failed: {e}"));
    assert_eq!(keys(&newest.items), ["exec-24"], "latest first");
}

/// Eq, Between (inclusive), Gte, Gt, Lte, Lt; equal sort values are ordered
/// by key and paged through without loss.
pub async fn query_range_conditions(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    for (key, sort) in [
        ("k1", "a"),
        ("k3", "b"),
        ("k2", "b"),
        ("k4", "c"),
        ("k5", "d"),
    ] {
        put(
            d,
            "kvs",
            key,
            Document::new("{}").index("by_sort", "p", sort),
            Expect::Absent,
        )
        .await;
    }
    let run = |range: RangeCond| async move {
        let all = query_all(
            d,
            Query::new("kvs", "by_sort", "p")
                .range(range.clone())
                .limit(1),
        )
        .await;
        let found: Vec<String> = all.iter().map(|i| i.key.clone()).collect();
        (range, found)
    };
    let cases = [
        (RangeCond::All, vec!["k1", "k2", "k3", "k4", "k5"]),
        (RangeCond::Eq("b".into()), vec!["k2", "k3"]),
        (
            RangeCond::Between("b".into(), "c".into()),
            vec!["k2", "k3", "k4"],
        ),
        (RangeCond::Gte("c".into()), vec!["k4", "k5"]),
        (RangeCond::Gt("b".into()), vec!["k4", "k5"]),
        (RangeCond::Lte("b".into()), vec!["k1", "k2", "k3"]),
        (RangeCond::Lt("b".into()), vec!["k1"]),
        (RangeCond::Prefix("c".into()), vec!["k4"]),
        (RangeCond::Between("e".into(), "z".into()), vec![]),
    ];
    for (range, expected) in cases {
        let (range, found) = run(range).await;
        assert_eq!(found, expected, "{range:?}");
    }
    let ties_desc = query_all(
        d,
        Query::new("kvs", "by_sort", "p")
            .range(RangeCond::Eq("b".into()))
            .limit(1)
            .descending(),
    )
    .await;
    assert_eq!(
        keys(&ties_desc),
        ["k3", "k2"],
        "ties reverse with the order"
    );
}

/// Index entries follow the latest put and vanish with the item.
pub async fn index_entries_follow_writes(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    let by_state = |state: &str| Query::new("executions", "by_state", state.to_owned());
    let doc = |state: &str| {
        Document::new(format!(r#""{state}""#))
            .index("by_state", state.to_owned(), "e1")
            .index("by_flow", "ns.f", "2024")
    };
    put(d, "executions", "e1", doc("RUNNING"), Expect::Absent).await;
    assert_eq!(keys(&query_all(d, by_state("RUNNING")).await), ["e1"]);
    put(d, "executions", "e1", doc("SUCCESS"), Expect::Version(1)).await;
    assert!(
        query_all(d, by_state("RUNNING")).await.is_empty(),
        "the old entry is replaced"
    );
    let success = query_all(d, by_state("SUCCESS")).await;
    assert_eq!(keys(&success), ["e1"]);
    assert_eq!(success[0].doc.version, 2);
    assert_eq!(success[0].doc.value, r#""SUCCESS""#);
    let by_flow = Query::new("executions", "by_flow", "ns.f");
    assert_eq!(keys(&query_all(d, by_flow.clone()).await), ["e1"]);
    put(d, "executions", "e1", Document::new("{}"), Expect::Any).await;
    assert!(query_all(d, by_state("SUCCESS")).await.is_empty());
    assert!(
        query_all(d, by_flow.clone()).await.is_empty(),
        "a put without indexes drops them"
    );
    put(d, "executions", "e1", doc("FAILED"), Expect::Any).await;
    d.delete("executions", "e1", Expect::Any)
        .await
        .unwrap_or_else(|e| panic!("delete failed: {e}"));
    assert!(query_all(d, by_state("FAILED")).await.is_empty());
    assert!(
        query_all(d, by_flow).await.is_empty(),
        "a delete drops every entry"
    );
}

/// An item is absent from its expiry on (reads, conditions, queries), can be
/// recreated at version 1, and `sweep_expired` deletes it for real.
pub async fn ttl_hides_and_sweeps(d: Arc<dyn DocumentStore>, clock: ManualClock) {
    let d = &*d;
    let now = clock.now();
    let expiring = |secs: u64| {
        Document::new(format!(r#"{{"ttl":{secs}}}"#))
            .index("by_kind", "lock", format!("{secs:04}"))
            .expires_at(add_duration(now, Duration::from_secs(secs)))
    };
    put(d, "locks", "t60", expiring(60), Expect::Absent).await;
    put(d, "locks", "t30", expiring(30), Expect::Absent).await;
    put(d, "locks", "t120", expiring(120), Expect::Absent).await;
    put(
        d,
        "locks",
        "keep",
        Document::new("{}").index("by_kind", "lock", "9999"),
        Expect::Absent,
    )
    .await;
    assert_eq!(
        get(d, "locks", "t60").await.and_then(|v| v.expires_at),
        Some(add_duration(now, Duration::from_secs(60))),
        "the expiry is returned"
    );
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        version_of(d, "locks", "t60").await,
        Some(1),
        "alive until due"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        get(d, "locks", "t60").await,
        None,
        "expired at its expiry instant"
    );
    assert_eq!(get(d, "locks", "t30").await, None);
    assert_eq!(version_of(d, "locks", "t120").await, Some(1));
    let lock = Query::new("locks", "by_kind", "lock");
    assert_eq!(keys(&query_all(d, lock.clone()).await), ["t120", "keep"]);
    assert_conflict(
        d.put("locks", "t60", Document::new("{}"), Expect::Version(1))
            .await,
        "locks",
        "t60",
        Expect::Version(1),
        None,
    );
    assert_eq!(
        d.delete("locks", "t60", Expect::Any).await.ok(),
        Some(false),
        "an expired item is not there to delete"
    );
    assert_eq!(
        put(
            d,
            "locks",
            "t30",
            Document::new(r#""again""#),
            Expect::Absent
        )
        .await,
        1,
        "an expired item can be recreated from version 1"
    );
    let swept = d
        .sweep_expired()
        .await
        .unwrap_or_else(|e| panic!("sweep failed: {e}"));
    assert!(
        swept <= 1,
        "only t60 was still stored expired (swept {swept})"
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(d.sweep_expired().await.ok(), Some(1), "t120 is swept");
    assert_eq!(d.sweep_expired().await.ok(), Some(0));
    assert_eq!(keys(&query_all(d, lock).await), ["keep"]);
    assert_eq!(
        get(d, "locks", "t30").await.map(|v| v.value),
        Some(r#""again""#.to_owned())
    );
}

/// Items up to the size limit round-trip; one byte more (index values
/// included) is `TooLarge`, naming the item.
pub async fn size_limit(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    let key = "big";
    let json = format!("\"{}\"", "x".repeat(MAX_ITEM_BYTES - key.len() - 2));
    assert_eq!(Document::new(json.clone()).size(key), MAX_ITEM_BYTES);
    put(d, "blobs", key, Document::new(json.clone()), Expect::Absent).await;
    assert!(
        get(d, "blobs", key).await.is_some_and(|v| v.value == json),
        "the largest item round-trips"
    );
    let over = format!("\"{}\"", "x".repeat(MAX_ITEM_BYTES - key.len() - 1));
    match d.put("blobs", key, Document::new(over), Expect::Any).await {
        Err(err @ DocumentError::TooLarge { .. }) => {
            let text = err.to_string();
            assert!(text.contains("blobs") && text.contains("big"), "{text}");
        }
        other => panic!("an oversized item should be TooLarge, got {other:?}"),
    }
    let indexed = Document::new(json).index("by_x", "p", "s");
    assert!(
        matches!(
            d.put("blobs", key, indexed, Expect::Any).await,
            Err(DocumentError::TooLarge { .. })
        ),
        "index values count towards the limit"
    );
    assert_eq!(version_of(d, "blobs", key).await, Some(1));
}

/// Races are settled by conditions: one creator wins, and optimistic
/// read-modify-write loops lose no update.
pub async fn concurrent_conditional_writers(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let mut creators = Vec::new();
    for i in 0..8 {
        let d = Arc::clone(&d);
        creators.push(tokio::spawn(async move {
            d.put(
                "leases",
                "leader",
                Document::new(format!("{i}")),
                Expect::Absent,
            )
            .await
        }));
    }
    let mut winners = 0;
    for creator in creators {
        match creator.await.unwrap_or_else(|e| panic!("task failed: {e}")) {
            Ok(1) => winners += 1,
            Ok(v) => panic!("a creation returned version {v}"),
            Err(DocumentError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(winners, 1, "exactly one creator wins");

    put(&*d, "counters", "c", Document::new("0"), Expect::Absent).await;
    let mut workers = Vec::new();
    for _ in 0..8 {
        let d = Arc::clone(&d);
        workers.push(tokio::spawn(async move {
            for _ in 0..5 {
                loop {
                    let current = get(&*d, "counters", "c")
                        .await
                        .unwrap_or_else(|| panic!("the counter vanished"));
                    let n: u64 = current
                        .value
                        .parse()
                        .unwrap_or_else(|e| panic!("bad counter: {e}"));
                    match d
                        .put(
                            "counters",
                            "c",
                            Document::new((n + 1).to_string()),
                            Expect::Version(current.version),
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(DocumentError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker
            .await
            .unwrap_or_else(|e| panic!("worker failed: {e}"));
    }
    assert_eq!(
        get(&*d, "counters", "c")
            .await
            .map(|v| (v.value, v.version)),
        Some(("40".to_owned(), 41)),
        "no increment is lost"
    );
}

/// Malformed requests are `Invalid`, naming the table.
pub async fn invalid_requests(d: Arc<dyn DocumentStore>, _clock: ManualClock) {
    let d = &*d;
    let invalid = |result: Result<(), DocumentError>, what: &str| match result {
        Err(DocumentError::Invalid { .. }) => {}
        other => panic!("{what} should be Invalid, got {other:?}"),
    };
    invalid(d.get("x", "k").await.map(drop), "a too-short table name");
    invalid(
        d.get("bad table", "k").await.map(drop),
        "a table name with a space",
    );
    invalid(d.get("flows", "").await.map(drop), "an empty key");
    invalid(
        d.put(
            "flows",
            "k",
            Document::new("{}").index("by_ns", "", "s"),
            Expect::Any,
        )
        .await
        .map(drop),
        "an empty partition value",
    );
    invalid(
        d.put(
            "flows",
            "k",
            Document::new("{}")
                .index("by_ns", "a", "s")
                .index("by_ns", "b", "s"),
            Expect::Any,
        )
        .await
        .map(drop),
        "two entries in one index",
    );
    invalid(
        d.query(&Query::new("flows", "by_ns", "p").limit(0))
            .await
            .map(drop),
        "a zero page size",
    );
    invalid(
        d.query(&Query::new("flows", "by_ns", "")).await.map(drop),
        "an empty partition",
    );
    invalid(
        d.query(&Query::new("flows", "by_ns", "p").after(Some(Cursor::new("garbage"))))
            .await
            .map(drop),
        "a forged cursor",
    );
    assert_eq!(get(d, "flows", "k").await, None, "nothing was written");
}
