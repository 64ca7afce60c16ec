//! A SQLite polling trigger on `kite server local`, in both homes: rows inserted into a
//! watched table start one execution that marks them processed; no execution starts while
//! the query returns nothing.

mod common;

use std::time::{Duration, Instant};

use common::{Api, Home, Server};
use kite_engine::worker::tasks::jdbc::{QuerySpec, run_query};
use kite_ports::{MemoryStorage, StorageKey};

fn flow(db: &str) -> String {
    format!(
        r#"id: watch-table
namespace: kite.e2e.jdbc
tasks:
  - id: mark
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: "jdbc:sqlite:{db}"
    sql: "UPDATE events SET processed = 1 WHERE id <= {{{{ trigger.rows | last | jq('.id') | first }}}}"
triggers:
  - id: rows
    type: io.kestra.plugin.jdbc.sqlite.Trigger
    url: "jdbc:sqlite:{db}"
    sql: "SELECT id, name FROM events WHERE processed = 0 ORDER BY id"
    fetchType: FETCH
    interval: PT1S
"#
    )
}

fn date(v: &serde_json::Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a date")).expect("an RFC 3339 date")
}

async fn sql(db: &str, statement: &str) {
    run_query(
        &QuerySpec::new(format!("jdbc:sqlite:{db}"), statement),
        &MemoryStorage::new(),
        &StorageKey::new("scratch/x.ion").unwrap(),
    )
    .await
    .unwrap();
}

async fn rows_start_one_execution(home: Home) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db").display().to_string();
    sql(&db, "CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT, processed INTEGER NOT NULL DEFAULT 0)").await;
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(flows.join("watch.yaml"), flow(&db)).unwrap();
    let server = Server::start(&home, &dir.path().join("data"), Some(&flows));
    let api = Api::new(&server);

    sql(
        &db,
        "INSERT INTO events (id, name) VALUES (1, 'first'), (2, 'second')",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let execution = loop {
        let execs = api.executions("kite.e2e.jdbc", "watch-table").await;
        if let Some(e) = execs.iter().find(|e| e["state"]["current"] == "SUCCESS") {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no execution ended: {execs:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        execution["trigger"]["type"],
        "io.kestra.plugin.jdbc.sqlite.Trigger"
    );
    assert_eq!(execution["trigger"]["variables"]["size"], 2);
    assert_eq!(
        execution["trigger"]["variables"]["rows"][1]["name"],
        "second"
    );
    // The rows are processed: the polls after the execution ended start nothing new. The
    // trigger's `date` is its last poll (interval PT1S): wait until two polls came after
    // the end, however slowly the machine runs them.
    let ended = date(&execution["state"]["endDate"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, t) = api.get("/api/v1/triggers/kite.e2e.jdbc/watch-table").await;
        let polled = t["results"][0]["date"]
            .as_str()
            .map(|_| date(&t["results"][0]["date"]));
        if polled.is_some_and(|p| p >= ended + chrono::Duration::seconds(2)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the trigger did not poll twice after {ended}: {t:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let execs = api.executions("kite.e2e.jdbc", "watch-table").await;
    assert_eq!(execs.len(), 1, "{execs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_rows_in_a_watched_table_start_one_execution() {
    rows_start_one_execution(Home::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_rows_in_a_watched_table_start_one_execution() {
    rows_start_one_execution(Home::emulator()).await;
}
