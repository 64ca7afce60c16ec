//! Issue 10 on the AWS adapters (moto): a WorkingDirectory is one unit of work. Its second
//! child reads the file its first child wrote, and succeeds, although every worker job is
//! handled by the worker Lambda's handler (`lambda::sqs_batch` for the worker, as
//! `kite-fn-worker` calls it) on a platform wired afresh with a work root of its own, as
//! separate Lambda instances would be. (When each child was a job of its own, the second
//! child landed on a fresh instance without the file and failed.)
//!
//! Run with `cargo test -p kite-aws --features testing --test working_directory`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use kite_aws::lambda::sqs_batch;
use kite_aws::testing;
use kite_engine::model::State;
use kite_engine::services::poller::Component;
use kite_engine::services::{CreateOptions, Platform};
use kite_ports::{Clock, ReceivedMessage, SystemClock};
use serde_json::{Map, json};

const FLOW: &str = r#"id: wd
namespace: kite.aws
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    outputFiles:
      - note.txt
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "written by {{ task.id }}" > note.txt
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - test -f note.txt && echo "::{\"outputs\":{\"note\":\"$(cat note.txt)\"}}::"
"#;

/// The SQS event Lambda would hand a function for `messages`.
fn sqs_event(messages: &[ReceivedMessage]) -> SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let mut attributes = json!({"ApproximateReceiveCount": m.receive_count.to_string()});
            if let Some(g) = &m.group_id {
                attributes["MessageGroupId"] = json!(g);
            }
            json!({
                "messageId": m.id.as_str(), "receiptHandle": m.receipt_handle.as_str(),
                "body": m.body, "attributes": attributes, "messageAttributes": {},
                "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:kite", "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("SQS event")
}

/// A platform as a function's init wires it, with its own work root.
fn instance(clients: &kite_aws::config::Clients, work: &std::path::Path) -> Platform {
    let env = vec![("KITE_WORK_DIR".to_owned(), work.display().to_string())];
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    kite_aws::wiring::platform(clients, clock, &env).expect("platform wiring")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_working_directory_runs_as_one_job_across_separate_worker_instances() {
    let clients = testing::clients().await;
    kite_aws::infra::up(&clients, &kite_aws::resources::Resources::load())
        .await
        .expect("infra up");
    let home = tempfile::tempdir().unwrap();
    let executor = instance(&clients, home.path());
    let flow = kite_flow::parse_flow(FLOW).flow.expect("valid flow");
    executor.deploy_flow(&flow, FLOW).await.unwrap();
    let flow = executor.load_flow("kite.aws", "wd", None).await.unwrap();
    let created = executor
        .create_execution(&flow, Map::new(), CreateOptions::default())
        .await
        .expect("create");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut jobs = 0;
    let e = loop {
        let events = executor
            .queue
            .receive(
                &executor.names.executor,
                10,
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .await
            .expect("receive events");
        if !events.is_empty() {
            let out = sqs_batch(&executor, Component::Executor, &sqs_event(&events), None).await;
            assert!(out.batch_item_failures.is_empty(), "executor failed");
            for m in &events {
                executor
                    .queue
                    .delete(&executor.names.executor, &m.receipt_handle)
                    .await
                    .expect("delete");
            }
        }
        let work = executor
            .queue
            .receive(
                &executor.names.worker,
                10,
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .await
            .expect("receive jobs");
        for m in &work {
            jobs += 1;
            // One invocation per job, each on a fresh instance (nothing on its disk).
            let root = tempfile::tempdir().unwrap();
            let worker = instance(&clients, root.path());
            let until = Instant::now() + Duration::from_secs(60);
            let out = sqs_batch(
                &worker,
                Component::Worker,
                &sqs_event(std::slice::from_ref(m)),
                Some(until),
            )
            .await;
            assert!(out.batch_item_failures.is_empty(), "worker failed");
            worker
                .queue
                .delete(&worker.names.worker, &m.receipt_handle)
                .await
                .expect("delete");
        }
        let e = executor.execution(&created.id).await.unwrap().unwrap();
        if e.state.current.is_terminated() && events.is_empty() && work.is_empty() {
            break e;
        }
        assert!(Instant::now() < deadline, "did not end: {e:#?}");
    };
    let states: Vec<(String, State, usize)> = e
        .task_run_list
        .iter()
        .map(|r| (r.task_id.clone(), r.current(), r.attempts.len()))
        .collect();
    assert_eq!(e.state.current, State::Success, "{states:?}");
    assert_eq!(jobs, 1, "one job for the whole WorkingDirectory");
    assert_eq!(
        states,
        [
            ("wd".to_owned(), State::Success, 1),
            ("write".to_owned(), State::Success, 1),
            ("read".to_owned(), State::Success, 1),
        ]
    );
    let read = e
        .task_run_list
        .iter()
        .find(|r| r.task_id == "read")
        .unwrap();
    assert_eq!(read.outputs["vars"]["note"], json!("written by write"));
    let wd = &e.task_run_list[0];
    let uri = wd.outputs["outputFiles"]["note.txt"]
        .as_str()
        .expect("outputFiles");
    let key = kite_ports::StorageKey::parse_uri(uri).unwrap();
    let stored = executor.storage.get(&key).await.expect("stored on S3");
    assert_eq!(&stored[..], b"written by write\n");
    // The children's lines are stored under their own task runs.
    let logs = executor.repos.logs.of_execution(&e.id).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.task_run_id.as_deref() == Some(read.id.as_str())),
        "{logs:#?}"
    );
}
