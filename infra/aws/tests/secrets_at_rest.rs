//! Issue 8, item 3 on the AWS adapters (moto): a flow reading a Secrets Manager secret
//! and a SECRET input runs through SQS, DynamoDB and S3 as the Lambda functions wire it
//! (`wiring::platform`, key from `KITE_ENCRYPTION_KEY`); logs and outputs are masked, the
//! input is stored encrypted, and no DynamoDB item or S3 object holds either value in
//! clear (compressed records inflated before the search).
//!
//! Run with `cargo test -p kite-aws --features testing --test secrets_at_rest`.

use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use kite_aws::testing;
use kite_engine::crypto::{ENCRYPTED_TYPE, EncryptionKey};
use kite_engine::services::{CreateOptions, poller};
use kite_ports::{Clock, SystemClock};
use serde_json::{Map, json};

const SECRET: &str = "aws-Secrets-Manager-value-7";
const INPUT: &str = "secret-input-on-aws-9";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz012345";

const FLOW: &str = r#"id: secrets
namespace: kite.aws
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "manager {{ secret('PASSWORD') }} input {{ inputs.pw }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "shell {{ secret('PASSWORD') }} {{ inputs.pw }}"
      - echo '::{"outputs":{"v":"{{ inputs.pw }}"}}::'
outputs:
  - id: seen
    type: STRING
    value: "{{ outputs.sh.vars.v }}"
"#;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `text` plus the inflated body of every compressed record (`{"z":"..."}`) in it.
fn readable(text: &str) -> String {
    let mut out = text.to_owned();
    for piece in text.split("\"z\":\"").skip(1) {
        let b: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            .collect();
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&b) else {
            continue;
        };
        let mut inflated = String::new();
        if flate2::read::DeflateDecoder::new(&bytes[..])
            .read_to_string(&mut inflated)
            .is_ok()
        {
            out.push_str(&inflated);
        }
    }
    out
}

#[track_caller]
fn assert_no_clear(what: &str, text: &str) {
    for s in [SECRET, INPUT] {
        assert!(!text.contains(s), "{what} holds `{s}` in clear: {text}");
        assert!(!text.contains(&b64(s)), "{what} holds `{s}` in base64");
    }
}

fn strings(v: &AttributeValue, out: &mut String) {
    match v {
        AttributeValue::S(s) => {
            out.push_str(s);
            out.push('\n');
        }
        AttributeValue::M(m) => m.values().for_each(|v| strings(v, out)),
        AttributeValue::L(l) => l.iter().for_each(|v| strings(v, out)),
        AttributeValue::Ss(ss) => ss.iter().for_each(|s| out.push_str(s)),
        AttributeValue::B(b) => out.push_str(&String::from_utf8_lossy(b.as_ref())),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_are_masked_and_stored_encrypted_on_aws() {
    let clients = testing::clients().await;
    kite_aws::infra::up(&clients, &kite_aws::resources::Resources::load())
        .await
        .expect("infra up");
    clients
        .secrets
        .create_secret()
        .name(clients.config.name("PASSWORD"))
        .secret_string(SECRET)
        .send()
        .await
        .expect("create secret");
    let work = tempfile::tempdir().unwrap();
    let env = vec![
        ("KITE_ENCRYPTION_KEY".to_owned(), KEY.to_owned()),
        (
            "KITE_WORK_DIR".to_owned(),
            work.path().display().to_string(),
        ),
    ];
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let platform =
        Arc::new(kite_aws::wiring::platform(&clients, clock, &env).expect("platform wiring"));
    let flow = kite_flow::parse_flow(FLOW).flow.expect("valid flow");
    platform.repos.flows.save(&flow, FLOW).await.unwrap();
    let flow = platform
        .load_flow("kite.aws", "secrets", None)
        .await
        .unwrap();
    let mut inputs = Map::new();
    inputs.insert("pw".into(), json!(INPUT));
    let created = platform
        .create_execution(&flow, inputs, CreateOptions::default())
        .await
        .expect("create");
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            visibility: Duration::from_secs(30),
            wait: Duration::from_secs(1),
            ..Default::default()
        },
        stop_rx,
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let e = loop {
        let e = platform.execution(&created.id).await.unwrap().unwrap();
        if e.state.current.is_terminated() {
            break e;
        }
        assert!(Instant::now() < deadline, "did not end: {e:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let logs = loop {
        let logs = platform.repos.logs.of_execution(&e.id).await.unwrap();
        if logs.iter().any(|l| l.message.starts_with("Flow completed")) {
            break logs;
        }
        assert!(Instant::now() < deadline, "logs missing: {logs:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    for h in handles {
        h.abort();
    }
    assert_eq!(format!("{:?}", e.state.current), "Success", "{e:#?}");
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert!(
        messages.contains(&"manager ****** input ******"),
        "{messages:#?}"
    );
    assert!(messages.contains(&"shell ****** ******"), "{messages:#?}");
    assert_eq!(e.outputs["seen"], json!("******"));
    assert_eq!(e.inputs["pw"]["type"], json!(ENCRYPTED_TYPE));
    let key = EncryptionKey::parse(KEY).unwrap();
    assert_eq!(
        key.decrypt(e.inputs["pw"]["value"].as_str().unwrap())
            .unwrap(),
        INPUT
    );

    // Every DynamoDB item and every S3 object, as stored.
    let mut stored = String::new();
    let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(clients.config.name("documents"))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            for v in item.values() {
                strings(v, &mut stored);
            }
        }
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    let bucket = clients.config.name("storage");
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("list");
    for o in listed.contents() {
        let key = o.key().unwrap_or_default();
        let body = clients
            .s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .expect("get object")
            .body
            .collect()
            .await
            .expect("object body")
            .into_bytes();
        stored.push_str(key);
        stored.push_str(&String::from_utf8_lossy(&body));
    }
    let stored = readable(&stored);
    assert!(
        stored.contains(ENCRYPTED_TYPE) && stored.contains("shell ****** ******"),
        "the scan read the records and the logs"
    );
    assert_no_clear("DynamoDB and S3", &stored);
}
