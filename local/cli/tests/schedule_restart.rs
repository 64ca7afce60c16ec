//! A `withSeconds` schedule on `kite server local`, in both homes: it fires every second
//! for over a minute, across a `kill -9` and a restart, with no fire time twice and none
//! missing (`recoverMissedSchedules` defaults to ALL: the seconds the server was down run
//! after the restart).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Api, Home, Server};

const FLOW: &str = r#"id: every-second
namespace: kite.e2e.schedule
tasks:
  - id: at
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
"#;

/// The fire times of the flow's executions (seconds since the epoch), asserting each
/// appears once.
async fn fire_times(api: &Api) -> Vec<i64> {
    let execs = api.executions("kite.e2e.schedule", "every-second").await;
    let mut seen = BTreeSet::new();
    for e in &execs {
        assert_eq!(e["trigger"]["id"], "tick", "{e}");
        assert_eq!(
            e["trigger"]["type"],
            "io.kestra.plugin.core.trigger.Schedule"
        );
        let date = e["trigger"]["variables"]["date"]
            .as_str()
            .expect("trigger.date");
        let t = chrono::DateTime::parse_from_rfc3339(date)
            .unwrap()
            .timestamp();
        assert!(seen.insert(t), "fire time {date} started two executions");
    }
    seen.into_iter().collect()
}

/// Waits until the flow has executions for at least `n` fire times.
async fn wait_for(api: &Api, n: usize, limit: Duration) -> Vec<i64> {
    let deadline = Instant::now() + limit;
    loop {
        let times = fire_times(api).await;
        if times.len() >= n || Instant::now() > deadline {
            return times;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn assert_contiguous(times: &[i64]) {
    let first = times[0];
    for (i, t) in times.iter().enumerate() {
        assert_eq!(*t, first + i as i64, "a gap before {t}: {times:?}");
    }
}

async fn every_second_across_a_kill(home: Home) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(flows.join("every-second.yaml"), FLOW).unwrap();
    let data = dir.path().join("data");

    let server = Server::start(&home, &data, Some(&flows));
    let api = Api::new(&server);
    let before = wait_for(&api, 35, Duration::from_secs(120)).await;
    assert!(before.len() >= 35, "35 seconds fired: {before:?}");
    assert_contiguous(&before);
    server.kill9();
    // Down for a few seconds: those fire times are missed, then recovered.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let server = Server::start(&home, &data, Some(&flows));
    let api = Api::new(&server);
    let after = wait_for(&api, before.len() + 35, Duration::from_secs(120)).await;
    assert!(after.len() >= before.len() + 35, "{after:?}");
    assert_contiguous(&after);
    assert!(
        after[after.len() - 1] - after[0] >= 65,
        "over a minute of seconds"
    );

    // They run to the end, each once.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let execs = api.executions("kite.e2e.schedule", "every-second").await;
        let done = execs
            .iter()
            .filter(|e| e["state"]["current"] == "SUCCESS")
            .count();
        if done >= after.len() || Instant::now() > deadline {
            assert!(
                done >= after.len(),
                "{done} of {} ended SUCCESS",
                after.len()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_every_second_for_over_a_minute_across_a_kill_9() {
    every_second_across_a_kill(Home::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_every_second_for_over_a_minute_across_a_kill_9() {
    every_second_across_a_kill(Home::emulator()).await;
}
