//! Bounded logs on the AWS path (moto: DynamoDB, SQS, S3, through the engine's pollers): a
//! 1 MiB Log message and a 1 MiB stdout line are stored truncated with a marker, the lines
//! after them are all there, a task flooding stdout keeps at most 10,000 lines with a final
//! marker, every `logs` item stays under DynamoDB's 400 KB, and this process's memory grows
//! by less than 64 MB while the task writes 100 MiB to stdout.
//!
//! Alone in its binary (the peak RSS is this test's). Run with
//! `cargo test -p kite-aws --features testing --test bounded_logs`.

#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kite_aws::testing;
use kite_aws::{DynamoDocuments, S3Storage, SqsQueue};
use kite_engine::services::{CreateOptions, Platform, QueueNames, poller};
use kite_ports::{Clock, DocumentStore, Query, RangeCond, SystemClock};

const FLOW: &str = r#"id: bounded
namespace: kite.bounded
tasks:
  - id: big
    type: io.kestra.plugin.core.log.Log
    message: "{% for i in range(0, 16383) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the big one
  - id: flood
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - head -c 1048576 /dev/zero | tr '\0' y; echo
      - yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 104857600; echo
      - echo '::{"outputs":{"done":true}}::'
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: "last line, flood said {{ outputs.flood.vars.done }}"
"#;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_big_log_line_and_a_stdout_flood_are_bounded_through_dynamodb() {
    let clients = testing::clients().await;
    kite_aws::infra::up(&clients, &kite_aws::resources::Resources::load())
        .await
        .expect("infra up");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let docs = Arc::new(DynamoDocuments::new(
        &clients,
        clients.config.name("documents"),
        clock.clone(),
    ));
    let work = tempfile::tempdir().unwrap();
    let platform = Arc::new(Platform::on_ports(
        Arc::new(SqsQueue::new(&clients)),
        Arc::new(S3Storage::new(&clients, clients.config.name("storage"))),
        docs.clone(),
        clock,
        QueueNames::with_prefix(""),
        work.path().to_owned(),
    ));
    let flow = kite_flow::parse_flow(FLOW).flow.expect("valid flow");
    platform.repos.flows.save(&flow, FLOW).await.unwrap();
    let flow = platform
        .load_flow("kite.bounded", "bounded", None)
        .await
        .unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            wait: Duration::from_secs(1),
            ..Default::default()
        },
        stop_rx,
    );
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kb("VmRSS");
    let e = platform
        .create_execution(&flow, serde_json::Map::new(), CreateOptions::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let e = loop {
        let e = platform.execution(&e.id).await.unwrap().unwrap();
        if e.state.current.is_terminated() {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "did not end: {:?}",
            e.state.current
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if format!("{:?}", e.state.current) != "Success" {
        let logs = platform.repos.logs.of_execution(&e.id).await.unwrap();
        panic!(
            "{:?}: {:?}\n{:?}",
            e.state.current,
            e.task_run_list
                .iter()
                .map(|r| (&r.task_id, r.state.current))
                .collect::<Vec<_>>(),
            logs.iter()
                .filter(|l| l.level >= kite_flow::plugin::LogLevel::Warn)
                .map(|l| l.message.chars().take(300).collect::<String>())
                .collect::<Vec<_>>()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let logs = loop {
        let logs = platform.repos.logs.of_execution(&e.id).await.unwrap();
        // The worker stores a task's lines beside sending its result: wait for the last
        // line of the flood task (its marker) too.
        if (logs.iter().any(|l| l.message.starts_with("last line"))
            && logs
                .iter()
                .any(|l| l.message.starts_with("[log limit reached")))
            || Instant::now() > deadline
        {
            break logs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let growth = status_kb("VmHWM").saturating_sub(before);
    let _ = stop.send(true);
    for h in handles {
        h.abort();
    }
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert!(messages.contains(&"after the big one"));
    assert!(
        messages.contains(&"last line, flood said true"),
        "{}",
        messages.len()
    );
    let marker = " … [truncated: 1,048,576 bytes, first 65,536 kept]";
    assert_eq!(messages.iter().filter(|m| m.ends_with(marker)).count(), 2);
    let flood: Vec<&&str> = messages.iter().filter(|m| m.starts_with("aaaa")).collect();
    assert!(flood.len() < 10_000, "{}", flood.len());
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("[log limit reached: ") && m.contains("more lines")),
        "the final marker"
    );
    // Every item of the execution's logs fits DynamoDB's item limit.
    let q = Query::new("logs", "execution", &e.id)
        .range(RangeCond::All)
        .limit(100);
    let mut q = q;
    let mut items = 0;
    loop {
        let page = docs.query(&q).await.unwrap();
        for i in &page.items {
            items += 1;
            assert!(i.doc.value.len() < 400_000, "{}", i.doc.value.len());
        }
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    eprintln!(
        "{items} log items, {} lines; peak RSS growth {growth} kB for 100 MiB of stdout",
        logs.len()
    );
    assert!(
        growth < 64 * 1024,
        "RSS grew by {growth} kB for 100 MiB of stdout"
    );
}
