//! The JDBC Query tasks end to end (flows run on the in-memory installation): SQLite on a
//! file in a temporary folder, PostgreSQL on a throw-away server
//! (`kite_engine::testing::PgServer`: needs the Debian `postgresql` package), and
//! `run_query` called directly as the JDBC triggers call it.

mod support;

use kite_engine::model::{Execution, State};
use kite_engine::testing::PgServer;
use kite_engine::worker::tasks::jdbc::{FetchType, JdbcError, QuerySpec, run_query};
use kite_ports::{MemoryStorage, Storage, StorageError, StorageKey};
use serde_json::{Value, json};
use support::Setup;

fn out(e: &Execution, task: &str) -> serde_json::Map<String, Value> {
    let runs: Vec<_> = e
        .task_run_list
        .iter()
        .filter(|r| r.task_id == task)
        .collect();
    assert_eq!(runs.len(), 1, "one run of {task}: {:#?}", e.task_run_list);
    runs[0].outputs.clone()
}

fn state_of(e: &Execution, task: &str) -> State {
    e.task_run_list
        .iter()
        .find(|r| r.task_id == task)
        .map(|r| r.state.current)
        .unwrap_or_else(|| panic!("no run of {task}"))
}

async fn read_lines(kite: &support::Kite, uri: &str) -> Vec<Value> {
    let key = StorageKey::parse_uri(uri).expect("uri");
    let bytes = kite.platform.storage.get(&key).await.expect("stored file");
    String::from_utf8(bytes.to_vec())
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

async fn error_lines(kite: &support::Kite, e: &Execution) -> String {
    kite.logs_until(&e.id, |l| {
        l.iter()
            .any(|x| x.level == kite_flow::plugin::LogLevel::Error)
    })
    .await
    .iter()
    .filter(|l| l.level == kite_flow::plugin::LogLevel::Error)
    .map(|l| l.message.clone())
    .collect::<Vec<_>>()
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_query_creates_fetches_and_stores_rows() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("jdbc:sqlite:{}", dir.path().join("shop.db").display());
    let kite = Setup::new().start().await;
    let e = kite
        .run(
            &format!(
                r#"id: sqlite_rows
namespace: kite.tests
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: {url}
    sql: |
      CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL,
                          ripe BOOLEAN, photo BLOB);
      INSERT INTO fruit VALUES (1, 'apple', 1.5, 1, x'CAFE'), (2, 'pear', NULL, 0, NULL);
  - id: all
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: {url}
    sql: SELECT * FROM fruit ORDER BY id
    fetchType: FETCH
  - id: one
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: {url}
    sql: SELECT name, price FROM fruit WHERE price > :min AND name <> :skip
    parameters:
      min: "{{{{ 1 }}}}"
      skip: pear
    fetchType: FETCH_ONE
  - id: none_found
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: {url}
    sql: SELECT name FROM fruit WHERE id = 99
    fetchType: FETCH_ONE
  - id: stored
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: {url}
    sql: SELECT id, name FROM fruit ORDER BY id
    fetchType: STORE
  - id: legacy
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: {url}
    sql: SELECT count(*) AS n FROM fruit
    fetchOne: true
"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Success, "{:#?}", e.task_run_list);
    assert!(out(&e, "create").is_empty(), "NONE has no outputs");
    assert_eq!(
        Value::Object(out(&e, "all")),
        json!({
            "rows": [
                {"id": 1, "name": "apple", "price": 1.5, "ripe": true, "photo": "yv4="},
                {"id": 2, "name": "pear", "price": null, "ripe": false, "photo": null}
            ],
            "size": 2
        })
    );
    assert_eq!(
        Value::Object(out(&e, "one")),
        json!({"row": {"name": "apple", "price": 1.5}, "size": 1})
    );
    assert_eq!(Value::Object(out(&e, "none_found")), json!({"size": 0}));
    let stored = out(&e, "stored");
    assert_eq!(stored["size"], json!(2));
    let uri = stored["uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("kestra:///kite.tests/sqlite_rows/executions/"),
        "{uri}"
    );
    assert!(uri.ends_with(".ion"), "{uri}");
    assert_eq!(
        read_lines(&kite, uri).await,
        vec![
            json!({"id": 1, "name": "apple"}),
            json!({"id": 2, "name": "pear"})
        ]
    );
    assert_eq!(
        Value::Object(out(&e, "legacy")),
        json!({"row": {"n": 2}, "size": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_file_travels_through_internal_storage() {
    let kite = Setup::new().start().await;
    let e = kite
        .run(
            r#"id: sqlite_file
namespace: kite.tests
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:notes.db
    outputDbFile: true
    sql: CREATE TABLE note (body TEXT); INSERT INTO note VALUES ('kept');
  - id: read
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:notes.db
    sqliteFile: "{{ outputs.create.databaseUri }}"
    sql: SELECT body FROM note
    fetchType: FETCH
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Success, "{:#?}", e.task_run_list);
    let db = out(&e, "create");
    assert!(
        db["databaseUri"].as_str().unwrap().ends_with("/notes.db"),
        "{db:?}"
    );
    assert_eq!(out(&e, "read")["rows"], json!([{"body": "kept"}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_failing_query_fails_the_task_with_the_database_message() {
    let kite = Setup::new().start().await;
    let e = kite
        .run(
            r#"id: sqlite_fail
namespace: kite.tests
tasks:
  - id: bad
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: "jdbc:sqlite::memory:"
    sql: SELECT * FROM missing_table
    fetchType: FETCH
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Failed);
    assert_eq!(state_of(&e, "bad"), State::Failed);
    let errors = error_lines(&kite, &e).await;
    assert!(errors.contains("no such table: missing_table"), "{errors}");

    let e = kite
        .run(
            r#"id: sqlite_missing_param
namespace: kite.tests
tasks:
  - id: bad
    type: io.kestra.plugin.jdbc.sqlite.Query
    sql: SELECT :wanted AS v
    parameters:
      other: 1
    fetchType: FETCH_ONE
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Failed);
    let errors = error_lines(&kite, &e).await;
    assert!(
        errors.contains("placeholder `:wanted`") && errors.contains("`other`"),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_query_creates_fetches_and_stores_rows() {
    let pg = PgServer::start();
    let kite = Setup::new().start().await;
    let conn = format!(
        "    url: {}\n    username: {}\n    password: {}\n",
        pg.url, pg.user, pg.password
    );
    let e = kite
        .run(
            &format!(
                r#"id: pg_rows
namespace: kite.tests
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.postgresql.Query
{conn}    sql: |
      CREATE TYPE mood AS ENUM ('calm', 'busy');
      CREATE TABLE item (
        id serial PRIMARY KEY, name text NOT NULL, qty int2, big int8, price numeric(10,2),
        ratio float8, ok boolean, doc jsonb, raw bytea, born date, at timestamp,
        at_tz timestamptz, wait interval, tags text[], uid uuid, feel mood, addr inet
      );
      INSERT INTO item (name, qty, big, price, ratio, ok, doc, raw, born, at, at_tz, wait,
                        tags, uid, feel, addr)
      VALUES ('bolt', 3, 9007199254740993, 12.50, 0.25, true, '{{"a": [1, 2]}}', '\xcafe',
              '2024-02-29', '2024-02-29 10:11:12.5', '2024-02-29 10:11:12+00', '1 day 2 hours',
              ARRAY['x', 'y'], 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'busy', '10.0.0.1'),
             ('nut', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
              NULL, NULL, NULL, NULL);
  - id: all
    type: io.kestra.plugin.jdbc.postgresql.Query
{conn}    sql: SELECT * FROM item ORDER BY id
    fetchType: FETCH
    timeZoneId: Europe/Paris
  - id: one
    type: io.kestra.plugin.jdbc.postgresql.Query
{conn}    sql: SELECT name, qty FROM item WHERE qty >= :least AND name = ANY(:names) ORDER BY id
    parameters:
      least: 2
      names: [bolt, nut]
    fetchType: FETCH_ONE
  - id: stored
    type: io.kestra.plugin.jdbc.postgresql.Query
{conn}    sql: SELECT id, name FROM item ORDER BY id
    fetchType: STORE
"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        e.state.current,
        State::Success,
        "{:#?}\n{}",
        e.task_run_list,
        pg.log()
    );
    assert!(out(&e, "create").is_empty());
    let all = out(&e, "all");
    assert_eq!(all["size"], json!(2));
    assert_eq!(
        all["rows"][0],
        json!({
            "id": 1, "name": "bolt", "qty": 3, "big": 9007199254740993_i64, "price": 12.5,
            "ratio": 0.25, "ok": true, "doc": {"a": [1, 2]}, "raw": "yv4=",
            "born": "2024-02-29", "at": "2024-02-29T10:11:12.500",
            "at_tz": "2024-02-29T11:11:12+01:00", "wait": "P1DT2H", "tags": ["x", "y"],
            "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "feel": "busy", "addr": "10.0.0.1"
        })
    );
    let second = all["rows"][1].as_object().unwrap();
    assert_eq!(second["name"], json!("nut"));
    assert!(
        second
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "id" | "name"))
            .all(|(_, v)| v.is_null()),
        "{second:?}"
    );
    assert_eq!(
        Value::Object(out(&e, "one")),
        json!({"row": {"name": "bolt", "qty": 3}, "size": 1})
    );
    let stored = out(&e, "stored");
    assert_eq!(stored["size"], json!(2));
    assert_eq!(
        read_lines(&kite, stored["uri"].as_str().unwrap()).await,
        vec![
            json!({"id": 1, "name": "bolt"}),
            json!({"id": 2, "name": "nut"})
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failing_query_fails_with_the_server_message_and_never_logs_the_password() {
    let pg = PgServer::start();
    let kite = Setup::new().start().await;
    let e = kite
        .run(
            &format!(
                r#"id: pg_fail
namespace: kite.tests
tasks:
  - id: bad
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: {}
    username: {}
    password: {}
    sql: SELECT * FROM no_such_relation
    fetchType: FETCH
"#,
                pg.url, pg.user, pg.password
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Failed);
    assert_eq!(state_of(&e, "bad"), State::Failed);
    let errors = error_lines(&kite, &e).await;
    assert!(
        errors.contains("relation \"no_such_relation\" does not exist") && errors.contains("42P01"),
        "{errors}"
    );

    // A wrong password (in the URL) fails at login; no log line holds it.
    let wrong = "Wr0ngSecretPassw0rd";
    let e = kite
        .run(
            &format!(
                r#"id: pg_login
namespace: kite.tests
tasks:
  - id: login
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "{}?user={}&password={wrong}"
    sql: SELECT 1
    fetchType: FETCH_ONE
"#,
                pg.url, pg.user
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Failed);
    let errors = error_lines(&kite, &e).await;
    assert!(
        errors.contains("password authentication failed"),
        "{errors}"
    );
    let logs = kite.logs_until(&e.id, |_| true).await;
    assert!(!logs.is_empty());
    for l in &logs {
        assert!(!l.message.contains(wrong), "password logged: {}", l.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_query_serves_the_triggers() {
    let pg = PgServer::start();
    let storage = MemoryStorage::new();
    let key = StorageKey::new("kite.tests/poll/executions/e1/trigger/rows.ion").unwrap();
    let mut spec = QuerySpec::new(
        pg.url.clone(),
        "CREATE TABLE job (id int, state text); INSERT INTO job VALUES (1, 'new'), (2, 'done');",
    );
    spec.username = Some(pg.user.clone());
    spec.password = Some(pg.password.clone());
    let none = run_query(&spec, &storage, &key).await.expect("create");
    assert_eq!(none.size, 0);

    spec.sql = "SELECT id FROM job WHERE state = :state".into();
    spec.parameters.insert("state".into(), json!("new"));
    spec.fetch_type = FetchType::Fetch;
    let fetched = run_query(&spec, &storage, &key).await.expect("fetch");
    assert_eq!(
        fetched.rows,
        Some(vec![json!({"id": 1}).as_object().unwrap().clone()])
    );
    assert_eq!(fetched.size, 1);

    spec.fetch_type = FetchType::Store;
    let stored = run_query(&spec, &storage, &key).await.expect("store");
    assert_eq!(stored.uri.as_deref(), Some(key.to_uri().as_str()));
    assert_eq!(stored.size, 1);
    assert_eq!(storage.get(&key).await.unwrap().as_ref(), b"{\"id\":1}\n");

    // A server that is not there: a connection error, worth retrying.
    let mut gone = QuerySpec::new("jdbc:postgresql://127.0.0.1:1/postgres", "SELECT 1");
    gone.username = Some("kite".into());
    let err = run_query(&gone, &storage, &key).await.unwrap_err();
    assert!(matches!(err, JdbcError::Connect { .. }), "{err}");
    assert!(err.is_retryable());

    // A failing STORE leaves no file behind.
    let failed_key = StorageKey::new("kite.tests/poll/executions/e1/trigger/failed.ion").unwrap();
    spec.sql = "SELECT 1/0".into();
    let err = run_query(&spec, &storage, &failed_key).await.unwrap_err();
    assert!(err.to_string().contains("division by zero"), "{err}");
    assert!(!err.is_retryable());
    assert!(!storage.exists(&failed_key).await.unwrap());
}

/// Whether a connection with these TLS settings is encrypted (the server's own view).
async fn encrypted(
    pg: &PgServer,
    url: &str,
    mode: Option<&str>,
    root: Option<&str>,
) -> Result<bool, JdbcError> {
    let storage = MemoryStorage::new();
    let key = StorageKey::new("kite.tests/tls/executions/e1/q/rows.ion").unwrap();
    let mut spec = QuerySpec::new(
        url,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    spec.username = Some(pg.user.clone());
    spec.password = Some(pg.password.clone());
    spec.fetch_type = FetchType::FetchOne;
    spec.ssl.mode = mode.map(str::to_owned);
    spec.ssl.root_cert = root.map(str::to_owned);
    let out = run_query(&spec, &storage, &key).await?;
    Ok(out.row.expect("a row")["ssl"] == json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tls_modes_encrypt_and_check_the_server_certificate() {
    let pg = PgServer::start_tls();
    let ca = pg.ca_cert.clone().expect("the test CA");
    // The certificate names `localhost` only.
    let by_name = pg.url.replace("127.0.0.1", "localhost");
    let by_ip = pg.url.clone();

    assert!(
        encrypted(&pg, &by_ip, None, None).await.unwrap(),
        "prefer uses TLS when offered"
    );
    assert!(!encrypted(&pg, &by_ip, Some("DISABLE"), None).await.unwrap());
    assert!(encrypted(&pg, &by_ip, Some("REQUIRE"), None).await.unwrap());
    assert!(
        encrypted(&pg, &by_name, Some("VERIFY_FULL"), Some(&ca))
            .await
            .unwrap()
    );
    assert!(
        encrypted(&pg, &by_ip, Some("verify-ca"), Some(&ca))
            .await
            .unwrap()
    );

    let wrong_name = encrypted(&pg, &by_ip, Some("VERIFY_FULL"), Some(&ca))
        .await
        .unwrap_err();
    assert!(
        wrong_name.to_string().contains("certificate"),
        "{wrong_name}"
    );
    assert!(
        matches!(wrong_name, JdbcError::Connect { .. }),
        "{wrong_name}"
    );
    assert!(
        !wrong_name.is_retryable(),
        "a certificate does not fix itself"
    );
    let unknown_ca = encrypted(&pg, &by_name, Some("VERIFY_FULL"), None)
        .await
        .unwrap_err();
    assert!(
        unknown_ca.to_string().contains("certificate"),
        "{unknown_ca}"
    );
    // The URL's parameters work too.
    assert!(
        encrypted(&pg, &format!("{by_ip}?sslmode=require"), None, None)
            .await
            .unwrap()
    );
    let bad = encrypted(&pg, &by_ip, Some("SOMETIMES"), None)
        .await
        .unwrap_err();
    assert!(
        bad.to_string().contains("`sslMode` must be one of"),
        "{bad}"
    );

    // Through a flow: Kestra's properties, the CA as PEM text.
    let kite = Setup::new().start().await;
    let pem: String = ca.lines().map(|l| format!("      {l}\n")).collect();
    let e = kite
        .run(
            &format!(
                r#"id: pg_tls
namespace: kite.tests
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: {}
    username: {}
    password: {}
    sslMode: VERIFY_FULL
    sslRootCert: |
{pem}    sql: SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()
    fetchType: FETCH_ONE
"#,
                by_name, pg.user, pg.password
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, State::Success, "{:#?}", e.task_run_list);
    assert_eq!(out(&e, "q")["row"], json!({"ssl": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_require_fails_on_a_server_without_tls() {
    let pg = PgServer::start();
    let err = encrypted(&pg, &pg.url, Some("REQUIRE"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, JdbcError::Connect { .. }), "{err}");
    assert!(err.to_string().to_lowercase().contains("tls"), "{err}");
    assert!(
        !encrypted(&pg, &pg.url, None, None).await.unwrap(),
        "prefer falls back"
    );
}

/// A storage whose uploads fail after their first bytes (its other calls go to memory).
#[derive(Debug, Default)]
struct FailingUploads(MemoryStorage);

#[async_trait::async_trait]
impl Storage for FailingUploads {
    async fn put(&self, key: &StorageKey, bytes: bytes::Bytes) -> Result<(), StorageError> {
        self.0.put(key, bytes).await
    }
    async fn put_stream(
        &self,
        key: &StorageKey,
        reader: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        use tokio::io::AsyncReadExt;
        let mut first = [0u8; 16];
        let _ = reader.read(&mut first).await;
        Err(StorageError::Backend {
            key: key.as_str().to_owned(),
            operation: "put",
            source: "the bucket went away".into(),
        })
    }
    async fn get(&self, key: &StorageKey) -> Result<bytes::Bytes, StorageError> {
        self.0.get(key).await
    }
    async fn open(
        &self,
        key: &StorageKey,
    ) -> Result<kite_ports::storage::ObjectReader, StorageError> {
        self.0.open(key).await
    }
    async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        self.0.size(key).await
    }
    async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        self.0.exists(key).await
    }
    async fn delete(&self, key: &StorageKey) -> Result<bool, StorageError> {
        self.0.delete(key).await
    }
    async fn list(&self, prefix: &StorageKey) -> Result<Vec<StorageKey>, StorageError> {
        self.0.list(prefix).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_fails_store_without_blocking_the_query() {
    let storage = FailingUploads::default();
    let key = StorageKey::new("kite.tests/big/executions/e1/q/rows.ion").unwrap();
    // Far more rows than the pipe between the query and the upload holds.
    let mut spec = QuerySpec::new(
        "jdbc:sqlite::memory:",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
         SELECT i, 'row number ' || i AS label FROM n",
    );
    spec.fetch_type = FetchType::Store;
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run_query(&spec, &storage, &key),
    )
    .await
    .expect("the query must not hang on a failed upload");
    let err = result.unwrap_err();
    assert!(matches!(err, JdbcError::Storage(_)), "{err}");
    assert!(err.to_string().contains("the bucket went away"), "{err}");
    assert!(err.is_retryable());
}
