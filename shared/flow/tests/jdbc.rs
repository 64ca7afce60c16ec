//! The JDBC plugins' model: PostgreSQL and SQLite `Query` tasks and `Trigger`s parse into
//! their types and are validated (URL scheme per plugin, non-empty SQL, time zone, the
//! trigger's interval), each error at its place.

mod common;

use common::{assert_error, assert_valid};
use kite_flow::IsoDuration;
use kite_flow::property::Dyn;
use kite_flow::tasks::jdbc::FetchType;
use kite_flow::tasks::jdbc::postgresql::PostgresQuery;
use kite_flow::tasks::jdbc::sqlite::SqliteQuery;
use kite_flow::triggers::jdbc::postgresql::PostgresTrigger;
use kite_flow::triggers::jdbc::sqlite::SqliteTrigger;

const HEAD: &str = "id: db\nnamespace: kite.tests\n";

fn pg_task(props: &str) -> String {
    format!("{HEAD}tasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n{props}")
}

fn log_task() -> &'static str {
    "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: '{{ trigger.size }}'\n"
}

#[test]
fn postgres_query_parses_with_every_property() {
    let parsed = assert_valid(&pg_task(
        "    url: jdbc:postgresql://db.internal:5432/sales?sslmode=disable\n    username: app\n    password: \"{{ secret('PG_PASSWORD') }}\"\n    sql: SELECT * FROM orders WHERE id = :id\n    fetchType: FETCH_ONE\n    parameters:\n      id: 7\n    timeZoneId: Europe/Paris\n    fetchSize: 500\n",
    ));
    let flow = parsed.flow.unwrap();
    let q = &flow.tasks[0]
        .spec::<PostgresQuery>()
        .expect("a PostgresQuery")
        .0;
    assert_eq!(q.static_fetch_type(), Some(FetchType::FetchOne));
    assert_eq!(q.fetch_size, Some(Dyn::Value(500)));
    assert_eq!(q.time_zone_id.as_deref(), Some("Europe/Paris"));
    match &q.parameters {
        Some(Dyn::Value(m)) => assert_eq!(m["id"], serde_json::json!(7)),
        other => panic!("parameters: {other:?}"),
    }
    // The JSON view keeps Kestra's names.
    let json = flow.tasks[0].to_json();
    assert_eq!(json["fetchType"], "FETCH_ONE");
    assert_eq!(json["type"], "io.kestra.plugin.jdbc.postgresql.Query");
}

#[test]
fn deprecated_fetch_booleans_are_aliases_of_fetch_type() {
    let fetch_type = |props: &str| {
        let parsed = assert_valid(&pg_task(&format!(
            "    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n{props}"
        )));
        parsed.flow.unwrap().tasks[0]
            .spec::<PostgresQuery>()
            .unwrap()
            .0
            .static_fetch_type()
    };
    assert_eq!(fetch_type(""), Some(FetchType::None));
    assert_eq!(fetch_type("    fetch: true\n"), Some(FetchType::Fetch));
    assert_eq!(fetch_type("    store: true\n"), Some(FetchType::Store));
    assert_eq!(
        fetch_type("    fetchOne: true\n"),
        Some(FetchType::FetchOne)
    );
    // Kestra's precedence: fetchOne, then store, then fetch, then fetchType.
    assert_eq!(
        fetch_type("    fetch: true\n    store: true\n    fetchType: NONE\n"),
        Some(FetchType::Store)
    );
    assert_eq!(fetch_type("    fetchType: \"{{ inputs.mode }}\"\n"), None);
}

#[test]
fn query_url_must_be_of_its_plugin() {
    let d = assert_error(
        &pg_task("    url: jdbc:sqlite:/data/app.db\n    sql: SELECT 1\n"),
        &[
            "`url` must start with `jdbc:postgresql:`",
            "io.kestra.plugin.jdbc.sqlite",
        ],
    );
    assert_eq!((d.loc.line, d.loc.col), (4, 5));
    assert_error(
        &pg_task("    url: postgres://app:secret@h:5432/db\n    sql: SELECT 1\n"),
        &["JDBC form jdbc:postgresql://host:port/database"],
    );
    let d = assert_error(
        &pg_task("    url: postgres://app:secret@h:5432/db\n    sql: SELECT 1\n"),
        &["JDBC form"],
    );
    assert!(
        !d.message.contains("secret"),
        "the URL's password is repeated: {}",
        d.message
    );
    assert_error(
        &pg_task("    url: jdbc:postgresql://h:70000/db\n    sql: SELECT 1\n"),
        &["`70000` is not a port number"],
    );
    assert_error(&pg_task("    sql: SELECT 1\n"), &["`url` is required"]);
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n"
        ),
        &[
            "`url` must start with `jdbc:sqlite:`",
            "io.kestra.plugin.jdbc.postgresql",
        ],
    );
    // An expression is checked on its literal start only.
    assert_valid(&pg_task(
        "    url: \"jdbc:postgresql://{{ vars.host }}/db\"\n    sql: SELECT 1\n",
    ));
    assert_error(
        &pg_task("    url: \"jdbc:mysql://{{ vars.host }}/db\"\n    sql: SELECT 1\n"),
        &["must start with `jdbc:postgresql:`"],
    );
}

#[test]
fn query_sql_time_zone_and_foreign_properties() {
    assert_error(
        &pg_task("    url: jdbc:postgresql://h/db\n    sql: '  '\n"),
        &["q: `sql` must not be empty"],
    );
    assert_error(
        &pg_task("    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    timeZoneId: Mars/Base\n"),
        &["`Mars/Base` is not a valid time-zone ID"],
    );
    assert_error(
        &pg_task(
            "    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    sqliteFile: kestra:///a/b.db\n",
        ),
        &["`sqliteFile` is a SQLite property"],
    );
    assert_error(
        &pg_task("    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    fetchType: ALL\n"),
        &["fetchType"],
    );
    assert_error(
        &pg_task("    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    interval: PT5S\n"),
        &["interval"],
    );
}

#[test]
fn sqlite_query_defaults_to_an_in_memory_database() {
    let parsed = assert_valid(&format!(
        "{HEAD}tasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    sql: SELECT 1\n    fetchType: FETCH\n  - id: f\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    url: jdbc:sqlite:shop.db\n    sqliteFile: \"{{{{ outputs.q.uri }}}}\"\n    outputDbFile: true\n    sql: SELECT 1\n"
    ));
    let flow = parsed.flow.unwrap();
    let q = &flow.tasks[0].spec::<SqliteQuery>().unwrap().0;
    assert_eq!(q.url, None);
    assert_eq!(q.static_fetch_type(), Some(FetchType::Fetch));
    let f = &flow.tasks[1].spec::<SqliteQuery>().unwrap().0;
    assert_eq!(f.output_db_file, Some(Dyn::Value(true)));
}

#[test]
fn triggers_parse_with_their_interval() {
    let parsed = assert_valid(&format!(
        "{HEAD}{}triggers:\n  - id: poll\n    type: io.kestra.plugin.jdbc.postgresql.Trigger\n    url: jdbc:postgresql://h:5432/db\n    username: app\n    password: pw\n    sql: SELECT * FROM jobs WHERE state = 'new'\n    fetchType: FETCH\n    interval: PT30S\n    stopAfter: [FAILED]\n  - id: lite\n    type: io.kestra.plugin.jdbc.sqlite.Trigger\n    url: jdbc:sqlite:/data/app.db\n    sql: SELECT 1\n    fetchOne: true\n",
        log_task()
    ));
    let flow = parsed.flow.unwrap();
    let pg = &flow.triggers[0]
        .spec::<PostgresTrigger>()
        .expect("pg trigger")
        .0;
    assert_eq!(pg.interval(), IsoDuration::from_secs(30));
    assert_eq!(pg.static_fetch_type(), Some(FetchType::Fetch));
    assert_eq!(
        flow.triggers[0].common.stop_after,
        vec!["FAILED".to_owned()]
    );
    let lite = &flow.triggers[1]
        .spec::<SqliteTrigger>()
        .expect("sqlite trigger")
        .0;
    assert_eq!(lite.interval(), IsoDuration::from_secs(60), "default PT60S");
    assert_eq!(lite.static_fetch_type(), Some(FetchType::FetchOne));
}

#[test]
fn trigger_rules_report_the_trigger_and_property() {
    let trig = |props: &str| {
        format!(
            "{HEAD}{}triggers:\n  - id: ok\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: '@daily'\n  - id: poll\n    type: io.kestra.plugin.jdbc.postgresql.Trigger\n{props}",
            log_task()
        )
    };
    let d = assert_error(
        &trig("    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    interval: PT0.5S\n"),
        &["`interval` must be at least PT1S, got PT0.5S"],
    );
    assert_eq!(d.path, "triggers[1].interval");
    assert!(
        d.message.starts_with("triggers[1].interval:"),
        "{}",
        d.message
    );
    assert_eq!((d.loc.line, d.loc.col), (11, 5));
    let d = assert_error(
        &trig("    url: jdbc:sqlite:/a.db\n    sql: SELECT 1\n"),
        &["`url` must start with `jdbc:postgresql:`"],
    );
    assert_eq!(d.path, "triggers[1].url");
    assert_eq!(d.loc.line, 11);
    assert_error(
        &trig("    url: jdbc:postgresql://h/db\n    sql: ''\n"),
        &["`sql` must not be empty"],
    );
    assert_error(
        &trig("    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    interval: soon\n"),
        &["`soon` is not an ISO-8601 duration"],
    );
    assert_valid(&trig(
        "    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    interval: PT1S\n",
    ));
}

#[test]
fn json_schema_lists_the_jdbc_properties() {
    let schema = kite_flow::schema::flow_schema(kite_flow::Registry::global());
    let defs = &schema["$defs"];
    let query = &defs["io.kestra.plugin.jdbc.postgresql.Query"];
    for p in [
        "url",
        "username",
        "password",
        "sql",
        "fetchType",
        "parameters",
        "fetchSize",
    ] {
        assert!(query["properties"][p].is_object(), "no `{p}` in {query:#}");
    }
    let required = query["required"].as_array().unwrap();
    assert!(required.contains(&"url".into()) && required.contains(&"sql".into()));
    let lite = &defs["io.kestra.plugin.jdbc.sqlite.Query"];
    assert!(lite["properties"]["sqliteFile"].is_object());
    assert!(!lite["required"].as_array().unwrap().contains(&"url".into()));
    let trigger = &defs["io.kestra.plugin.jdbc.postgresql.Trigger"];
    assert!(trigger["properties"]["interval"].is_object());
    assert!(
        trigger["properties"]["stopAfter"].is_object(),
        "common trigger properties"
    );
    assert!(
        trigger["description"]
            .as_str()
            .unwrap()
            .contains("every `interval`")
    );
}

#[test]
fn tls_properties_are_postgres_only_and_checked() {
    assert_valid(&pg_task(
        "    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    ssl: true\n    sslMode: VERIFY_CA\n    sslRootCert: |\n      -----BEGIN CERTIFICATE-----\n      -----END CERTIFICATE-----\n",
    ));
    assert_error(
        &pg_task("    url: jdbc:postgresql://h/db\n    sql: SELECT 1\n    sslMode: ALWAYS\n"),
        &["`sslMode` must be one of", "`ALWAYS`"],
    );
    assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    sql: SELECT 1\n    sslMode: REQUIRE\n"
        ),
        &["`sslMode` is a PostgreSQL property"],
    );
    let d = assert_error(
        &format!(
            "{HEAD}{}triggers:\n  - id: poll\n    type: io.kestra.plugin.jdbc.sqlite.Trigger\n    sql: SELECT 1\n    sslKey: k\n",
            log_task()
        ),
        &["`sslKey` is a PostgreSQL property"],
    );
    assert_eq!(d.path, "triggers[0].sslKey");
}
