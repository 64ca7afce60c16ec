//! The built Lambda binaries (`kite-executor`, `kite-worker`, `kite-scheduler`,
//! `kite-webserver`), each under an emulated Lambda Runtime API, against moto: a flow is
//! created and executed through the webserver with real-shaped API Gateway HTTP API events
//! (a base64-encoded multipart body carrying a binary file), the local twins of the SQS event
//! source mappings and of the EventBridge rule drive the other three, and the execution must
//! end in SUCCESS. Each function's cold start (spawn → first `/next`) is printed and bounded.
//!
//! Run with `--nocapture` to see the cold starts.

use std::time::{Duration, Instant};

use kite_aws::esm::{self, Invoker};
use kite_tests::apigw::{HttpRequest, Multipart};
use kite_tests::stack::LambdaStack;
use serde_json::{Value, json};

/// A debug build's init must use less CPU time than this (the release figure is the
/// benchmark's). CPU time, not wall time: the wall time of a cold start grows with whatever
/// else loads the machine, the CPU time the init needs does not.
const COLD_START_LIMIT: Duration = Duration::from_millis(500);

const FLOW: &str = r#"
id: lambda_binaries
namespace: kite.tests.lambda
inputs:
  - id: name
    type: STRING
  - id: data
    type: FILE
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }} from the Lambda binaries"
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: size
        type: io.kestra.plugin.core.storage.Size
        uri: "{{ inputs.data }}"
      - id: greeting
        type: io.kestra.plugin.core.debug.Return
        format: "hi {{ inputs.name }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: result
    type: io.kestra.plugin.core.output.OutputValues
    values:
      size: "{{ outputs.size.size }}"
      greeting: "{{ outputs.greeting.value }}"
"#;

/// Every byte value: a body that is not UTF-8 must cross API Gateway base64-encoded.
fn binary_content() -> Vec<u8> {
    (0..=255u8).rev().chain(0..=255u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_completes_through_the_built_binaries() {
    let stack = LambdaStack::start().await;
    for ((name, d), (_, cpu)) in stack.cold_starts.iter().zip(&stack.cold_start_cpus) {
        println!(
            "cold start of {name}: {} ms ({} ms of CPU)",
            d.as_millis(),
            cpu.as_millis()
        );
    }

    // The flow, as YAML.
    let created = stack
        .http(HttpRequest::new("POST", "/api/v1/flows").text("application/x-yaml", FLOW))
        .await;
    assert_eq!(created.status, 200, "create flow: {}", created.text());
    assert_eq!(created.json().unwrap()["id"], "lambda_binaries");

    // The execution, with a multipart body base64-encoded by API Gateway.
    let content = binary_content();
    let (content_type, body) = Multipart::new()
        .text("name", "Lambda")
        .file("data", "bytes.bin", &content)
        .finish();
    let started = stack
        .http(
            HttpRequest::new(
                "POST",
                "/api/v1/executions/kite.tests.lambda/lambda_binaries",
            )
            .binary(&content_type, body),
        )
        .await;
    assert_eq!(started.status, 200, "create execution: {}", started.text());
    let execution = started.json().unwrap();
    let id = execution["id"]
        .as_str()
        .expect("an execution id")
        .to_owned();
    assert_eq!(execution["inputs"]["name"], "Lambda", "{execution}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handles = stack.spawn_event_sources(Duration::from_secs(1), stop_rx);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    let state = loop {
        let got = stack
            .http(HttpRequest::new("GET", &format!("/api/v1/executions/{id}")))
            .await;
        assert_eq!(got.status, 200, "get execution: {}", got.text());
        last = got.json().unwrap_or(last);
        let state = last["state"]["current"].as_str().unwrap_or("").to_owned();
        if matches!(
            state.as_str(),
            "SUCCESS" | "FAILED" | "KILLED" | "WARNING" | "CANCELLED"
        ) || Instant::now() > deadline
        {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = stop_tx.send(true);
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
    }
    assert_eq!(
        state,
        "SUCCESS",
        "the execution did not succeed within 60 s:\n{}\n{}",
        serde_json::to_string_pretty(&last).unwrap_or_default(),
        stack.functions.outputs()
    );

    let result = last["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["taskId"] == "result"))
        .unwrap_or_else(|| panic!("no `result` task run in {last}"));
    let values = &result["outputs"]["values"];
    assert_eq!(
        values["size"].to_string().trim_matches('"'),
        content.len().to_string(),
        "the uploaded file kept its bytes: {last}"
    );
    assert_eq!(values["greeting"], "hi Lambda", "{last}");

    // The uploaded bytes come back as a binary (base64-encoded) response.
    let uri = last["inputs"]["data"].as_str().unwrap_or_default();
    assert!(uri.starts_with("kestra:///"), "file input: {last}");
    let download = stack
        .http(HttpRequest::new(
            "GET",
            &format!(
                "/api/v1/executions/{id}/file?path={}",
                form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
            ),
        ))
        .await;
    assert_eq!(download.status, 200, "download: {}", download.text());
    assert!(
        download.body == content,
        "the downloaded file differs from the upload"
    );

    // The timer queue carried the Sleep to the scheduler, which sent it back to the executor.
    let timer_batches = stack
        .functions
        .get("scheduler")
        .expect("a scheduler")
        .invocations()
        .iter()
        .filter(|i| i.ok && i.payload.get("Records").is_some())
        .count();
    assert!(timer_batches > 0, "the scheduler never got a timer batch");
    for (name, api) in stack.functions.iter() {
        let calls = api.invocations();
        let failed = calls.iter().filter(|i| !i.ok).count();
        println!(
            "{name}: {} invocations ({failed} failed), longest {} ms",
            calls.len(),
            calls
                .iter()
                .map(|i| i.elapsed.as_millis())
                .max()
                .unwrap_or(0)
        );
        assert_eq!(failed, 0, "{name} failed invocations\n{}", api.output());
    }

    // The webserver reads logs back through DynamoDB.
    let logs = stack
        .http(HttpRequest::new("GET", &format!("/api/v1/logs/{id}")))
        .await;
    assert!(
        logs.text()
            .contains("Hello Lambda from the Lambda binaries"),
        "logs: {}",
        logs.text()
    );

    for (name, cpu) in &stack.cold_start_cpus {
        assert!(
            *cpu < COLD_START_LIMIT,
            "the cold start of {name} used {} ms of CPU (limit {} ms)\n{}",
            cpu.as_millis(),
            COLD_START_LIMIT.as_millis(),
            stack.functions.outputs()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_reports_a_tick_and_the_executor_fails_only_a_malformed_record() {
    let stack = LambdaStack::start().await;

    // An EventBridge scheduled event: a JSON report.
    let report = stack
        .functions
        .invoke("scheduler", esm::scheduled_event("kite-scheduler"))
        .await
        .unwrap_or_else(|e| panic!("tick failed: {e}\n{}", stack.functions.outputs()));
    assert!(
        report.get("timersReleased").is_some_and(Value::is_u64),
        "tick report: {report}"
    );

    // An SQS FIFO batch: a malformed record, a later record of its group (held back behind
    // it, to keep the group's order), and a well-formed event of another group (for an
    // unknown execution: dropped, so handled).
    let queue = stack.clients.config.name("executor.fifo");
    let record = |id: &str, group: &str, body: &str| {
        json!({
            "messageId": id,
            "receiptHandle": format!("rh-{id}"),
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1700000000000",
                "SenderId": "123456789012",
                "ApproximateFirstReceiveTimestamp": "1700000000000",
                "MessageGroupId": group,
                "MessageDeduplicationId": format!("d-{id}"),
                "SequenceNumber": "18849496460467696128"
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
            "awsRegion": "us-east-1"
        })
    };
    let event = json!({
        "Records": [
            record("m-malformed", "g-1", "{ this is not an executor event"),
            record("m-other", "g-2", r#"{"id":"ev-1","executionId":"no-such-execution","event":{"type":"start"}}"#),
            record("m-after", "g-1", r#"{"id":"ev-2","executionId":"g-1","event":{"type":"start"}}"#),
        ]
    });
    let response = stack
        .functions
        .invoke("executor", event)
        .await
        .unwrap_or_else(|e| panic!("executor failed: {e}\n{}", stack.functions.outputs()));
    let failures = response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {response}"));
    assert_eq!(
        failures,
        &vec![
            json!({ "itemIdentifier": "m-malformed" }),
            json!({ "itemIdentifier": "m-after" })
        ],
        "{response}"
    );
}
