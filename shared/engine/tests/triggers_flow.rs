//! Flow triggers end to end on the in-memory installation: a chain of three flows with
//! inputs rendered from the upstream execution, trigger variables, a namespace listener
//! that never hears its own ends, `states` with a pausing upstream (one execution per
//! change), preconditions over two upstream flows within a sliding window (with
//! `resetOnSuccess`), the legacy MultipleCondition where a failed upstream does not count,
//! every executor message delivered twice, every state change carried out twice, a flow
//! triggering itself stopped by the depth limit, and the Toggle task.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kite_engine::executor::{Action, StateChange};
use kite_engine::model::{Execution, Label, State};
use kite_engine::services::{CreateOptions, Platform};
use kite_engine::triggers::flow::{Reaction, on_state_changed};
use kite_ports::{Clock, ManualClock};
use serde_json::json;
use support::{Kite, Setup, obj};

/// How long a test waits for executions it expects.
const LIMIT: Duration = Duration::from_secs(30);

/// The executions of `namespace`.`flow_id`, oldest first.
async fn executions(kite: &Kite, namespace: &str, flow_id: &str) -> Vec<Execution> {
    let mut list: Vec<Execution> = kite
        .platform
        .repos
        .executions
        .list(namespace, Some(flow_id), 1000)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.execution)
        .collect();
    list.sort_by(|a, b| (a.state.start_date, &a.id).cmp(&(b.state.start_date, &b.id)));
    list
}

/// Waits until `namespace`.`flow_id` has `n` executions, all ended.
async fn ended(kite: &Kite, namespace: &str, flow_id: &str, n: usize) -> Vec<Execution> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let list = executions(kite, namespace, flow_id).await;
        if list.len() == n && list.iter().all(|e| e.state.current.is_terminated()) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} ended executions of {namespace}.{flow_id}, got {:?}",
            list.iter()
                .map(|e| (&e.id, e.state.current))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Carries out every state change of execution `id` again, as a redelivered executor
/// event or a second executor would: what it fired now.
async fn replay(platform: &Platform, id: &str) -> Reaction {
    let (rec, _) = platform
        .repos
        .executions
        .get(id)
        .await
        .expect("read")
        .expect("execution");
    let e = &rec.execution;
    let flow = platform
        .load_flow(&e.namespace, &e.flow_id, Some(e.flow_revision))
        .await
        .expect("flow");
    let mut total = Reaction::default();
    for action in StateChange::since(e, 1) {
        let Action::ExecutionStateChanged(change) = action else {
            panic!("since() yields state changes only, not {action:?}")
        };
        total += on_state_changed(platform, &flow, &rec, &change)
            .await
            .expect("state change carried out");
    }
    total
}

fn trigger_vars(e: &Execution) -> serde_json::Map<String, serde_json::Value> {
    let t = e.trigger.as_ref().expect("started by a trigger");
    assert_eq!(t.kind, "io.kestra.plugin.core.trigger.Flow");
    t.variables.clone()
}

const EXTRACT: &str = r#"
id: extract
namespace: company.chain
outputs:
  - id: day
    type: STRING
    value: "{{ outputs.stamp.value }}"
tasks:
  - id: stamp
    type: io.kestra.plugin.core.debug.Return
    format: "batch of {{ execution.id }}"
"#;

const TRANSFORM: &str = r#"
id: transform
namespace: company.chain
inputs:
  - id: batch
    type: STRING
  - id: day
    type: STRING
outputs:
  - id: summary
    type: STRING
    value: "{{ outputs.shape.value }}"
tasks:
  - id: shape
    type: io.kestra.plugin.core.debug.Return
    format: "shaped {{ inputs.batch }} ({{ inputs.day }}) after {{ trigger.flowId }}"
triggers:
  - id: after_extract
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      batch: "{{ outputs.stamp.value }}"
      day: "{{ trigger.outputs.day }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.chain
        flowId: extract
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
"#;

const LOAD: &str = r#"
id: load
namespace: company.warehouse
tasks:
  - id: store
    type: io.kestra.plugin.core.log.Log
    message: "loading {{ trigger.outputs.summary }}"
triggers:
  - id: after_transform
    type: io.kestra.plugin.core.trigger.Flow
    states: [SUCCESS]
    preconditions:
      id: transform_done
      flows:
        - namespace: company.chain
          flowId: transform
"#;

/// Hears every end in its own namespace: never its own. Its required input is not given
/// by the trigger: it stays unset (as in Kestra).
const WATCHER: &str = r#"
id: watcher
namespace: company.chain
inputs:
  - id: reason
    type: STRING
tasks:
  - id: note
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.flowId }} ended {{ trigger.state }}"
triggers:
  - id: any_end
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: company.chain
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_of_three_flows_passes_outputs_and_trigger_variables() {
    let kite = Setup::new().start().await;
    let extract = kite.deploy(EXTRACT).await;
    kite.deploy(TRANSFORM).await;
    kite.deploy(LOAD).await;
    kite.deploy(WATCHER).await;

    let a = kite.execute(&extract, json!({})).await;
    assert_eq!(a.state.current, State::Success);

    let b = ended(&kite, "company.chain", "transform", 1)
        .await
        .remove(0);
    assert_eq!(b.state.current, State::Success, "{b:#?}");
    assert_eq!(b.inputs["batch"], json!(format!("batch of {}", a.id)));
    assert_eq!(b.inputs["day"], json!(format!("batch of {}", a.id)));
    let vars = trigger_vars(&b);
    assert_eq!(vars["executionId"], json!(a.id));
    assert_eq!(vars["namespace"], json!("company.chain"));
    assert_eq!(vars["flowId"], json!("extract"));
    assert_eq!(vars["flowRevision"], json!(1));
    assert_eq!(vars["state"], json!("SUCCESS"));
    assert_eq!(vars["outputs"]["day"], json!(format!("batch of {}", a.id)));
    assert_eq!(vars["depth"], json!(1));
    assert_eq!(b.trigger.as_ref().unwrap().id, "after_extract");

    let c = ended(&kite, "company.warehouse", "load", 1).await.remove(0);
    assert_eq!(c.state.current, State::Success);
    let vars = trigger_vars(&c);
    assert_eq!(vars["executionId"], json!(b.id));
    assert_eq!(vars["flowId"], json!("transform"));
    assert_eq!(vars["depth"], json!(2));
    let logs = kite
        .logs_until(&c.id, |l| {
            l.iter().any(|l| l.message.starts_with("loading"))
        })
        .await;
    assert!(
        logs.iter().any(|l| l.message
            == format!(
                "loading shaped batch of {} (batch of {}) after extract",
                a.id, a.id
            )),
        "{logs:#?}"
    );

    // The namespace listener heard extract and transform end, not its own executions nor
    // load (another namespace).
    let heard = ended(&kite, "company.chain", "watcher", 2).await;
    let mut flows: Vec<String> = heard
        .iter()
        .map(|e| trigger_vars(e)["flowId"].as_str().unwrap().to_owned())
        .collect();
    flows.sort();
    assert_eq!(flows, ["extract", "transform"]);

    // Every state change carried out again (a redelivered event, a second executor)
    // starts nothing new.
    for e in [&a, &b, &c, &heard[0], &heard[1]] {
        let again = replay(&kite.platform, &e.id).await;
        assert_eq!(again.created, 0, "{again:?} for {}", e.flow_id);
    }
    assert_eq!(kite.count("company.chain").await, 4);
    assert_eq!(kite.count("company.warehouse").await, 1);
}

const REVIEW: &str = r#"
id: review
namespace: company.pause
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: draft
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.2S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: published
"#;

const REVIEW_FEED: &str = r#"
id: review_feed
namespace: company.pause
outputs:
  - id: seen
    type: STRING
    value: "{{ trigger.state }}"
tasks:
  - id: note
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.executionId }} is {{ trigger.state }}"
triggers:
  - id: on_review
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED, SUCCESS, WARNING, FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.pause
        flowId: review
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn states_fire_once_per_change_of_a_pausing_upstream() {
    let kite = Setup::new().start().await;
    let review = kite.deploy(REVIEW).await;
    let feed = kite.deploy(REVIEW_FEED).await;
    let up = kite.execute(&review, json!({})).await;
    assert_eq!(up.state.current, State::Success);
    let history: Vec<State> = up.state.histories.iter().map(|h| h.state).collect();
    assert_eq!(
        history,
        [
            State::Created,
            State::Running,
            State::Paused,
            State::Running,
            State::Success
        ]
    );
    let listened = ended(&kite, "company.pause", "review_feed", 4).await;
    // One execution per change, under the id derived from the change's position.
    let mut seen = Vec::new();
    for index in 1..=4 {
        let id = kite_engine::triggers::fire::execution_id(
            &feed,
            "on_review",
            &format!("{}/{index}", up.id),
        );
        let e = listened
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("no execution for change {index}: {listened:#?}"));
        assert_eq!(e.state.current, State::Success);
        assert_eq!(trigger_vars(e)["executionId"], json!(up.id));
        seen.push(e.outputs["seen"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]);
    // The listener's own executions (RUNNING, SUCCESS) do not match its condition.
    for e in &listened {
        assert_eq!(replay(&kite.platform, &e.id).await, Reaction::default());
    }
    assert_eq!(replay(&kite.platform, &up.id).await.created, 0);
    assert_eq!(kite.count("company.pause").await, 5);
}

const ORDERS: &str = r#"
id: orders
namespace: company.sales
tasks:
  - id: book
    type: io.kestra.plugin.core.log.Log
    message: orders booked
"#;

const INVOICES: &str = r#"
id: invoices
namespace: company.sales
tasks:
  - id: send
    type: io.kestra.plugin.core.log.Log
    message: invoices sent
"#;

const RECONCILE: &str = r#"
id: reconcile
namespace: company.finance
tasks:
  - id: match
    type: io.kestra.plugin.core.log.Log
    message: "reconciling after {{ trigger.flowId }} {{ trigger.executionId }}"
triggers:
  - id: both_done
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: sales_day
      flows:
        - namespace: company.sales
          flowId: orders
          states: [SUCCESS]
        - namespace: company.sales
          flowId: invoices
          states: [SUCCESS]
      where:
        - id: eu_orders
          filters:
            - field: FLOW_ID
              type: EQUAL_TO
              value: orders
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.region == 'eu' }}"
      timeWindow:
        type: SLIDING_WINDOW
        window: PT1H
"#;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn run_labelled(kite: &Kite, flow: &kite_flow::Flow, region: Option<&str>) -> Execution {
    let labels = region
        .map(|r| {
            vec![Label {
                key: "region".into(),
                value: r.into(),
            }]
        })
        .unwrap_or_default();
    let created = kite
        .create_with(
            flow,
            json!({}),
            CreateOptions {
                labels,
                ..CreateOptions::default()
            },
        )
        .await;
    let e = kite.wait_end(&created.id).await;
    assert_eq!(e.state.current, State::Success);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preconditions_fire_once_when_two_upstream_flows_end_within_the_window() {
    let clock = ManualClock::new(at("2026-04-01T09:00:00Z"));
    let kite = Setup::new()
        .clock(Arc::new(clock.clone()) as Arc<dyn Clock>)
        .start()
        .await;
    let orders = kite.deploy(ORDERS).await;
    let invoices = kite.deploy(INVOICES).await;
    kite.deploy(RECONCILE).await;
    let p = &kite.platform;

    // Orders of the EU alone: nothing.
    let o1 = run_labelled(&kite, &orders, Some("eu")).await;
    assert_eq!(replay(p, &o1.id).await, Reaction::default());
    // Two hours later, invoices: the orders are out of the one-hour sliding window.
    clock.advance(Duration::from_secs(2 * 3600));
    let i1 = run_labelled(&kite, &invoices, None).await;
    assert_eq!(replay(p, &i1.id).await, Reaction::default());
    // Orders without the label meet `flows[0]` but not the `where` filter.
    let o2 = run_labelled(&kite, &orders, None).await;
    assert_eq!(replay(p, &o2.id).await, Reaction::default());
    assert_eq!(kite.count("company.finance").await, 0);

    // EU orders within the hour of the invoices: it fires, once.
    clock.advance(Duration::from_secs(600));
    let o3 = run_labelled(&kite, &orders, Some("eu")).await;
    let fired = ended(&kite, "company.finance", "reconcile", 1).await;
    let vars = trigger_vars(&fired[0]);
    assert_eq!(
        vars["executionId"],
        json!(o3.id),
        "the change completing it"
    );
    assert_eq!(vars["flowId"], json!("orders"));
    assert_eq!(replay(p, &o3.id).await.created, 0);
    assert_eq!(replay(p, &i1.id).await.created, 0);

    // resetOnSuccess (default): the next invoices alone start nothing...
    clock.advance(Duration::from_secs(60));
    let i2 = run_labelled(&kite, &invoices, None).await;
    assert_eq!(replay(p, &i2.id).await, Reaction::default());
    assert_eq!(kite.count("company.finance").await, 1);
    // ... until EU orders come again.
    clock.advance(Duration::from_secs(60));
    run_labelled(&kite, &orders, Some("eu")).await;
    let fired = ended(&kite, "company.finance", "reconcile", 2).await;
    assert!(fired.iter().all(|e| e.state.current == State::Success));
}

const PAYMENTS: &str = r#"
id: payments
namespace: company.ledger
tasks:
  - id: pay
    type: io.kestra.plugin.core.log.Log
    message: payments cleared
"#;

const REFUNDS: &str = r#"
id: refunds
namespace: company.ledger
inputs:
  - id: ok
    type: BOOLEAN
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ not inputs.ok }}"
    errorMessage: refunds rejected
  - id: book
    type: io.kestra.plugin.core.log.Log
    message: refunds booked
"#;

const SETTLE: &str = r#"
id: settle
namespace: company.ledger
tasks:
  - id: close
    type: io.kestra.plugin.core.log.Log
    message: "settled after {{ trigger.flowId }}"
triggers:
  - id: both_cleared
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
      - id: pair
        type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        windowAdvance: P0D
        conditions:
          paid:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.ledger
            flowId: payments
          refunded:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.ledger
            flowId: refunds
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multiple_condition_ignores_a_failed_upstream() {
    // Noon: the day's window holds the whole test.
    let clock = ManualClock::new(at("2026-04-01T12:00:00Z"));
    let kite = Setup::new()
        .clock(Arc::new(clock.clone()) as Arc<dyn Clock>)
        .start()
        .await;
    let payments = kite.deploy(PAYMENTS).await;
    let refunds = kite.deploy(REFUNDS).await;
    kite.deploy(SETTLE).await;
    let p = &kite.platform;

    let failed = kite.execute(&refunds, json!({"ok": false})).await;
    assert_eq!(failed.state.current, State::Failed);
    assert_eq!(replay(p, &failed.id).await, Reaction::default());
    clock.advance(Duration::from_secs(60));
    let paid = kite.execute(&payments, json!({})).await;
    assert_eq!(paid.state.current, State::Success);
    assert_eq!(
        replay(p, &paid.id).await,
        Reaction::default(),
        "the failed refunds did not count"
    );
    assert_eq!(executions(&kite, "company.ledger", "settle").await.len(), 0);

    clock.advance(Duration::from_secs(60));
    let refunded = kite.execute(&refunds, json!({"ok": true})).await;
    assert_eq!(refunded.state.current, State::Success);
    let settled = ended(&kite, "company.ledger", "settle", 1).await;
    assert_eq!(settled[0].state.current, State::Success);
    assert_eq!(trigger_vars(&settled[0])["executionId"], json!(refunded.id));
    assert_eq!(replay(p, &refunded.id).await.created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_executor_message_delivered_twice_starts_each_listener_execution_once() {
    // No pollers: this test plays the queues itself and hands every message over twice.
    let kite = Setup::new().pollers(None).start().await;
    let p = kite.platform.clone();
    let extract = kite.deploy(EXTRACT).await;
    kite.deploy(TRANSFORM).await;
    kite.deploy(LOAD).await;
    kite.deploy(WATCHER).await;
    kite.deploy(REVIEW).await;
    kite.deploy(REVIEW_FEED).await;
    let review = p.load_flow("company.pause", "review", None).await.unwrap();
    p.create_execution(&extract, obj(json!({})), CreateOptions::default())
        .await
        .unwrap();
    p.create_execution(&review, obj(json!({})), CreateOptions::default())
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut handled = 0;
    loop {
        let mut any = false;
        for queue in [&p.names.executor, &p.names.worker, &p.names.timers] {
            let msgs = p
                .queue
                .receive(queue, 10, Duration::from_secs(30), Duration::ZERO)
                .await
                .unwrap();
            for m in msgs {
                any = true;
                for _ in 0..2 {
                    if *queue == p.names.executor {
                        p.handle_executor_message(&m.body).await.unwrap();
                    } else if *queue == p.names.worker {
                        p.handle_worker_message(&m.body).await.unwrap();
                    } else {
                        p.handle_timer_message(&m.body).await.unwrap();
                    }
                }
                handled += 1;
                p.queue.delete(queue, &m.receipt_handle).await.unwrap();
            }
        }
        let done = kite.count("company.warehouse").await == 1
            && kite.count("company.pause").await == 5
            && executions(&kite, "company.pause", "review")
                .await
                .iter()
                .all(|e| e.state.current.is_terminated());
        if !any && done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "did not settle");
        if !any {
            // Only the Pause delay is left: its timer becomes visible after 0.2 s.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(handled > 10, "{handled} messages");
    assert_eq!(
        executions(&kite, "company.chain", "transform").await.len(),
        1
    );
    assert_eq!(executions(&kite, "company.chain", "watcher").await.len(), 2);
    assert_eq!(
        executions(&kite, "company.warehouse", "load").await.len(),
        1
    );
    assert_eq!(
        executions(&kite, "company.pause", "review_feed")
            .await
            .len(),
        4
    );
    for e in executions(&kite, "company.chain", "extract").await {
        assert_eq!(e.state.current, State::Success);
    }
    for e in executions(&kite, "company.pause", "review_feed").await {
        assert_eq!(e.state.current, State::Success);
    }
}

const AGAIN: &str = r#"
id: again
namespace: company.loop
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "round {{ trigger.depth | default(0) }}"
triggers:
  - id: on_myself
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.loop
        flowId: again
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_triggering_itself_stops_at_the_depth_limit() {
    let kite = Setup::new()
        .runtime(|mut rt| {
            rt.max_subflow_depth = 3;
            rt
        })
        .start()
        .await;
    let again = kite.deploy(AGAIN).await;
    let root = kite.execute(&again, json!({})).await;
    assert_eq!(root.state.current, State::Success);
    let all = ended(&kite, "company.loop", "again", 4).await;
    let mut depths: Vec<u64> = all
        .iter()
        .map(|e| {
            e.trigger
                .as_ref()
                .and_then(|t| t.variables.get("depth"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        })
        .collect();
    depths.sort_unstable();
    assert_eq!(depths, [0, 1, 2, 3]);
    let deepest = all
        .iter()
        .find(|e| trigger_vars_depth(e) == 3)
        .expect("depth 3");
    let logs = kite
        .logs_until(&deepest.id, |l| {
            l.iter().any(|l| l.message.contains("not fired"))
        })
        .await;
    let refusal = logs
        .iter()
        .find(|l| l.message.contains("not fired"))
        .unwrap_or_else(|| panic!("no refusal logged: {logs:#?}"));
    assert_eq!(refusal.level, kite_flow::plugin::LogLevel::Warn);
    assert!(
        refusal.message.contains("the limit is 3"),
        "{}",
        refusal.message
    );
    // Carried out again, the deepest change is refused again and nothing starts.
    let again = replay(&kite.platform, &deepest.id).await;
    assert_eq!((again.created, again.refused), (0, 1));
    assert_eq!(kite.count("company.loop").await, 4);
}

fn trigger_vars_depth(e: &Execution) -> u64 {
    e.trigger
        .as_ref()
        .and_then(|t| t.variables.get("depth"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

const NIGHTLY: &str = r#"
id: nightly_report
namespace: company.ops
tasks:
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: report
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"#;

const SWITCHBOARD: &str = r#"
id: switchboard
namespace: company.ops
inputs:
  - id: trigger
    type: STRING
  - id: flow
    type: STRING
    defaults: nightly_report
tasks:
  - id: enable
    type: io.kestra.core.tasks.trigger.Toggle
    namespace: company.ops
    flowId: "{{ inputs.flow }}"
    trigger: "{{ inputs.trigger }}"
    enabled: true
"#;

const FLIPPER: &str = r#"
id: flipper
namespace: company.ops
tasks:
  - id: flip
    type: io.kestra.plugin.core.trigger.Toggle
    trigger: hourly
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"#;

const SILENCER: &str = r#"
id: silencer
namespace: company.ops
tasks:
  - id: off
    type: io.kestra.plugin.core.trigger.Toggle
    namespace: company.chain
    flowId: transform
    trigger: after_extract
    enabled: false
"#;

async fn disabled(p: &Platform, ns: &str, flow: &str, trigger: &str) -> bool {
    p.repos
        .triggers
        .get(ns, flow, trigger)
        .await
        .unwrap()
        .expect("trigger state")
        .0
        .is_disabled()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_toggle_task_enables_disables_and_flips_triggers() {
    let kite = Setup::new().start().await;
    let p = kite.platform.clone();
    kite.deploy(NIGHTLY).await;
    let switchboard = kite.deploy(SWITCHBOARD).await;
    let flipper = kite.deploy(FLIPPER).await;

    // An operator disabled the schedule; the task (legacy alias) enables it again.
    kite_engine::triggers::sync::update_state(
        &p,
        "company.ops",
        "nightly_report",
        "nightly",
        |s| {
            s.state.disabled = Some(true);
        },
    )
    .await
    .unwrap();
    assert!(disabled(&p, "company.ops", "nightly_report", "nightly").await);
    let e = kite
        .execute(&switchboard, json!({"trigger": "nightly"}))
        .await;
    assert_eq!(e.state.current, State::Success);
    assert_eq!(e.task_run_list.len(), 1);
    assert!(!disabled(&p, "company.ops", "nightly_report", "nightly").await);
    let due = p
        .repos
        .triggers
        .due(at("2100-01-01T00:00:00Z"), 100)
        .await
        .unwrap();
    assert!(
        due.iter().any(|(t, _)| t.state.trigger_id == "nightly"),
        "back on the tick"
    );

    // Without `enabled`, it flips its own flow's trigger.
    kite.execute(&flipper, json!({})).await;
    assert!(disabled(&p, "company.ops", "flipper", "hourly").await);
    kite.execute(&flipper, json!({})).await;
    assert!(!disabled(&p, "company.ops", "flipper", "hourly").await);

    // An unknown trigger or flow fails the task, naming it.
    for (inputs, words) in [
        (
            json!({"trigger": "weekly"}),
            "flow company.ops.nightly_report has no trigger `weekly`",
        ),
        (
            json!({"trigger": "nightly", "flow": "gone"}),
            "flow company.ops.gone does not exist",
        ),
    ] {
        let e = kite.execute(&switchboard, inputs).await;
        assert_eq!(e.state.current, State::Failed);
        let logs = kite
            .logs_until(&e.id, |l| l.iter().any(|l| l.message.contains(words)))
            .await;
        assert!(
            logs.iter().any(|l| l.message.contains(words)),
            "{words}: {logs:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_trigger_toggled_off_stops_listening_at_once() {
    let kite = Setup::new().start().await;
    let p = kite.platform.clone();
    let extract = kite.deploy(EXTRACT).await;
    kite.deploy(TRANSFORM).await;
    let silencer = kite.deploy(SILENCER).await;

    // The listener query is cached: a first upstream fills it.
    kite.execute(&extract, json!({})).await;
    ended(&kite, "company.chain", "transform", 1).await;
    let off = kite.execute(&silencer, json!({})).await;
    assert_eq!(off.state.current, State::Success);
    assert!(disabled(&p, "company.chain", "transform", "after_extract").await);
    let quiet = kite.execute(&extract, json!({})).await;
    assert_eq!(replay(&p, &quiet.id).await, Reaction::default());
    assert_eq!(
        executions(&kite, "company.chain", "transform").await.len(),
        1
    );
}

const TALLY: &str = r#"
id: tally
namespace: company.sales
inputs:
  - id: count
    type: INT
tasks:
  - id: add
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.count }}"
triggers:
  - id: on_orders
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      count: "{{ trigger.flowId }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.sales
        flowId: orders
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_firing_whose_inputs_do_not_validate_starts_nothing_and_says_why() {
    let kite = Setup::new().start().await;
    let orders = kite.deploy(ORDERS).await;
    kite.deploy(TALLY).await;
    let up = kite.execute(&orders, json!({})).await;
    let words = "Flow trigger company.sales.tally.on_orders did not start an execution";
    let logs = kite
        .logs_until(&up.id, |l| l.iter().any(|l| l.message.contains(words)))
        .await;
    let line = logs
        .iter()
        .find(|l| l.message.contains(words))
        .unwrap_or_else(|| panic!("no refusal in the upstream logs: {logs:#?}"));
    assert_eq!(line.level, kite_flow::plugin::LogLevel::Warn);
    assert!(line.message.contains("count"), "{}", line.message);
    let again = replay(&kite.platform, &up.id).await;
    assert_eq!((again.created, again.refused), (0, 1));
    assert_eq!(executions(&kite, "company.sales", "tally").await.len(), 0);
}
