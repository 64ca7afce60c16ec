//! Flow triggers on the AWS adapters (moto: DynamoDB, SQS, S3, through the engine's
//! pollers): an upstream flow ending starts its listener once, found through the
//! `trigger_listen` index of the DynamoDB table, its window kept in `trigger_windows`, its
//! inputs rendered from the upstream outputs; carrying out the state changes again starts
//! nothing more.
//!
//! Run with `cargo test -p kite-aws --features testing --test flow_trigger`.

#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kite_aws::testing;
use kite_aws::{DynamoDocuments, S3Storage, SqsQueue};
use kite_engine::executor::{Action, StateChange};
use kite_engine::model::{Execution, State};
use kite_engine::services::{CreateOptions, Platform, QueueNames, poller};
use kite_engine::triggers::flow::on_state_changed;
use kite_ports::{Clock, SystemClock};

const UPSTREAM: &str = r#"
id: ingest
namespace: company.aws
outputs:
  - id: file
    type: STRING
    value: "{{ outputs.name.value }}"
tasks:
  - id: name
    type: io.kestra.plugin.core.debug.Return
    format: "landing/{{ execution.id }}.csv"
"#;

const LISTENER: &str = r#"
id: publish
namespace: company.aws
inputs:
  - id: file
    type: STRING
tasks:
  - id: announce
    type: io.kestra.plugin.core.debug.Return
    format: "publishing {{ inputs.file }}"
triggers:
  - id: after_ingest
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      file: "{{ trigger.outputs.file }}"
    preconditions:
      id: ingested
      flows:
        - namespace: company.aws
          flowId: ingest
          states: [SUCCESS]
"#;

async fn deploy(platform: &Platform, source: &str) -> kite_flow::Flow {
    let flow = kite_flow::parse_flow(source).flow.expect("valid flow");
    platform.deploy_flow(&flow, source).await.expect("deploy");
    platform
        .load_flow(&flow.namespace, &flow.id, None)
        .await
        .expect("load")
}

async fn listener_executions(platform: &Platform) -> Vec<Execution> {
    platform
        .repos
        .executions
        .list("company.aws", Some("publish"), 100)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.execution)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upstream_end_starts_its_listener_once_on_the_aws_adapters() {
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
        docs,
        clock,
        QueueNames::with_prefix(""),
        work.path().to_owned(),
    ));
    let upstream = deploy(&platform, UPSTREAM).await;
    deploy(&platform, LISTENER).await;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handles = poller::spawn_all(
        platform.clone(),
        poller::PollerConfig {
            wait: Duration::from_secs(1),
            ..Default::default()
        },
        stop_rx,
    );

    let up = platform
        .create_execution(&upstream, serde_json::Map::new(), CreateOptions::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let listened = loop {
        let list = listener_executions(&platform).await;
        if let [one] = list.as_slice()
            && one.state.current.is_terminated()
        {
            break one.clone();
        }
        assert!(
            list.len() <= 1,
            "more than one listener execution: {list:#?}"
        );
        assert!(Instant::now() < deadline, "the listener did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(listened.state.current, State::Success, "{listened:#?}");
    let file = format!("landing/{}.csv", up.id);
    assert_eq!(listened.inputs["file"], serde_json::json!(file));
    let vars = &listened.trigger.as_ref().expect("trigger").variables;
    assert_eq!(vars["executionId"], serde_json::json!(up.id));
    assert_eq!(vars["flowId"], serde_json::json!("ingest"));
    assert_eq!(vars["state"], serde_json::json!("SUCCESS"));

    // The upstream's changes carried out again (a redelivered event, a second executor
    // Lambda): the window remembers them, nothing new starts.
    let (rec, _) = platform
        .repos
        .executions
        .get(&up.id)
        .await
        .unwrap()
        .expect("upstream");
    assert_eq!(rec.execution.state.current, State::Success);
    for action in StateChange::since(&rec.execution, 1) {
        let Action::ExecutionStateChanged(change) = action else {
            panic!("not a state change: {action:?}");
        };
        let again = on_state_changed(&platform, &upstream, &rec, &change)
            .await
            .expect("carried out");
        assert_eq!(again.created, 0, "{again:?}");
    }
    assert_eq!(listener_executions(&platform).await.len(), 1);

    let _ = stop.send(true);
    for h in handles {
        let _ = h.await;
    }
}
