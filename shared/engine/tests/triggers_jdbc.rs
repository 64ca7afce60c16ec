//! The JDBC polling triggers (SQLite, and PostgreSQL on a server the test starts): a poll
//! that returns rows starts one execution with them; the flow marks them processed; a
//! poll returning nothing starts nothing; a due date polled twice starts one execution.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kite_engine::model::State;
use kite_engine::worker::tasks::jdbc::{QuerySpec, run_query};
use kite_ports::{Clock, ManualClock, MemoryStorage, StorageKey};
use serde_json::{Value, json};
use support::{Kite, Setup};

fn flow(dialect: &str, url: &str, auth: &str) -> String {
    format!(
        r#"id: new-rows
namespace: kite.tests.jdbc
tasks:
  - id: mark
    type: io.kestra.plugin.jdbc.{dialect}.Query
    url: "{url}"{auth}
    sql: "UPDATE events SET processed = 1 WHERE id <= {{{{ trigger.rows | last | jq('.id') | first }}}}"
triggers:
  - id: rows
    type: io.kestra.plugin.jdbc.{dialect}.Trigger
    url: "{url}"{auth}
    sql: "SELECT id, name FROM events WHERE processed = 0 ORDER BY id"
    fetchType: FETCH
    interval: PT10S
"#
    )
}

async fn sql(url: &str, user: Option<&str>, password: Option<&str>, statement: &str) {
    let mut spec = QuerySpec::new(url, statement);
    spec.username = user.map(str::to_owned);
    spec.password = password.map(str::to_owned);
    run_query(
        &spec,
        &MemoryStorage::new(),
        &StorageKey::new("scratch/x.ion").unwrap(),
    )
    .await
    .unwrap();
}

async fn executions(kite: &Kite) -> Vec<kite_engine::model::Execution> {
    kite.platform
        .repos
        .executions
        .list("kite.tests.jdbc", Some("new-rows"), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.execution)
        .collect()
}

async fn new_rows_start_one_execution_each_poll(
    dialect: &str,
    url: &str,
    user: Option<&str>,
    password: Option<&str>,
) {
    let manual = ManualClock::new(kite_ports::contract::start_time());
    let kite = Setup::new().clock(Arc::new(manual.clone())).start().await;
    sql(url, user, password, "CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT, processed INTEGER NOT NULL DEFAULT 0)").await;
    let auth = match (user, password) {
        (Some(u), Some(p)) => format!("\n    username: {u}\n    password: {p}"),
        _ => String::new(),
    };
    kite.deploy(&flow(dialect, url, &auth)).await;
    let poll = || async {
        manual.advance(Duration::from_secs(10));
        kite.platform.tick().await.unwrap()
    };

    // Nothing to read: nothing starts.
    poll().await;
    assert!(executions(&kite).await.is_empty());

    sql(
        url,
        user,
        password,
        "INSERT INTO events (id, name) VALUES (1, 'a'), (2, 'b')",
    )
    .await;
    poll().await;
    // The same due date again (a retried tick): no second execution.
    kite.platform.tick().await.unwrap();
    let execs = executions(&kite).await;
    assert_eq!(execs.len(), 1);
    let e = kite.wait_end(&execs[0].id).await;
    assert_eq!(e.state.current, State::Success, "{e:?}");
    let t = e.trigger.unwrap();
    assert_eq!(t.kind, format!("io.kestra.plugin.jdbc.{dialect}.Trigger"));
    assert_eq!(t.variables["size"], json!(2));
    assert_eq!(
        t.variables["rows"],
        json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    );

    // Marked processed by the flow: the next poll finds nothing.
    poll().await;
    assert_eq!(executions(&kite).await.len(), 1);

    sql(
        url,
        user,
        password,
        "INSERT INTO events (id, name) VALUES (3, 'c')",
    )
    .await;
    poll().await;
    let execs = executions(&kite).await;
    assert_eq!(execs.len(), 2);
    let newest = execs
        .iter()
        .find(|e| e.trigger.as_ref().unwrap().variables["size"] == json!(1))
        .expect("the execution of row 3");
    assert_eq!(
        newest.trigger.as_ref().unwrap().variables["rows"][0]["name"],
        Value::from("c")
    );
    let state = kite
        .platform
        .repos
        .triggers
        .get("kite.tests.jdbc", "new-rows", "rows")
        .await
        .unwrap()
        .unwrap()
        .0;
    assert!(state.state.next_execution_date.unwrap() > manual.now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_start_executions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("jdbc:sqlite:{}", dir.path().join("events.db").display());
    new_rows_start_one_execution_each_poll("sqlite", &url, None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_start_executions() {
    let pg = kite_engine::testing::PgServer::start();
    new_rows_start_one_execution_each_poll(
        "postgresql",
        &pg.url,
        Some(&pg.user),
        Some(&pg.password),
    )
    .await;
}
