//! S3 and SQS triggers end to end, as a user runs them, against the moto server this test
//! starts:
//! - `kite server local` (embedded store) polls a bucket and a queue named in its flows: an
//!   uploaded file starts one execution that reads the file through `trigger.objects[0].uri`,
//!   then the file is moved; a message starts one execution with `trigger.data`, then is
//!   deleted.
//! - `kite --aws-endpoint … infra up --watch-bucket B` then `kite --aws-endpoint … server
//!   local`: an upload reaches the scheduler through the bucket's notifications and the
//!   trigger-events queue (the flow polls only once an hour) and its execution ends SUCCESS.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

struct Server {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `kite [global...] server local --no-auth --flows FLOWS` on a free port.
    fn start(global: &[&str], dir: &Path, flows: &Path) -> Self {
        let log = dir.join("server.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kite"))
            .args(global)
            .args(["server", "local", "--port", "0", "--no-auth", "--data"])
            .arg(dir.join("data"))
            .arg("--flows")
            .arg(flows)
            .env("KITE_LOG", "warn")
            .env("KITE_WORK_DIR", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .spawn()
            .expect("kite starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(u) => u,
            Err(_) => panic!(
                "the server did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        Self { child, url, log }
    }

    /// Waits until the trigger of flow `kite.trig`/`flow` last polled at `since` or later.
    async fn polled_since(&self, flow: &str, since: chrono::DateTime<chrono::FixedOffset>) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let t: Value = client
                .get(format!("{}/api/v1/triggers/kite.trig/{flow}", self.url))
                .send()
                .await
                .expect("the server answers")
                .json()
                .await
                .unwrap_or(Value::Null);
            let polled = t["results"][0]["date"]
                .as_str()
                .map(|_| date(&t["results"][0]["date"]));
            if polled.is_some_and(|p| p >= since) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the trigger of {flow} did not poll at {since} or later: {t:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The executions of a flow, once `n` of them ended (SUCCESS or not).
    async fn ended(&self, ns: &str, flow: &str, n: usize) -> Vec<Value> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let body: Value = client
                .get(format!(
                    "{}/api/v1/executions/search?namespace={ns}&flowId={flow}&size=100",
                    self.url
                ))
                .send()
                .await
                .expect("the server answers")
                .json()
                .await
                .unwrap_or(Value::Null);
            let list = body["results"].as_array().cloned().unwrap_or_default();
            let done = list.iter().filter(|e| {
                matches!(
                    e["state"]["current"].as_str(),
                    Some("SUCCESS" | "FAILED" | "WARNING" | "KILLED")
                )
            });
            if done.count() >= n {
                let mut full = Vec::new();
                for e in list {
                    let id = e["id"].as_str().unwrap_or_default();
                    let one: Value = client
                        .get(format!("{}/api/v1/executions/{id}", self.url))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    full.push(one);
                }
                return full;
            }
            assert!(
                Instant::now() < deadline,
                "{ns}.{flow}: {n} ended executions expected, have {body}\nserver log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn date(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a date")).expect("an RFC 3339 date")
}

fn output(e: &Value, task: &str) -> Value {
    e["taskRunList"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["taskId"] == task))
        .map(|r| r["outputs"]["value"].clone())
        .unwrap_or(Value::Null)
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut k: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    k.sort();
    k
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
}

fn s3_flow(ns: &str, bucket: &str, endpoint: &str, interval: &str) -> String {
    format!(
        r#"id: files
namespace: {ns}
tasks:
  - id: content
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.objects[0].key }}}}={{{{ read(trigger.objects[0].uri) | trim }}}}"
triggers:
  - id: upload
    type: io.kestra.plugin.aws.s3.Trigger
    bucket: {bucket}
    prefix: in/
    endpointOverride: {endpoint}
    region: us-east-1
    interval: {interval}
    action: MOVE
    moveTo:
      key: archive
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_server_polls_a_bucket_and_a_queue_on_moto() {
    let moto = kite_aws::testing::moto().endpoint.clone();
    let aws = kite_aws::testing::clients().await;
    let bucket = aws.config.name("uploads");
    aws.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let queue = aws
        .sqs
        .create_queue()
        .queue_name(aws.config.name("orders"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("files.yaml"),
        s3_flow("kite.trig", &bucket, &moto, "PT1S"),
    )
    .unwrap();
    std::fs::write(
        flows.join("orders.yaml"),
        format!(
            r#"id: orders
namespace: kite.trig
tasks:
  - id: who
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.data.name }}}}"
triggers:
  - id: each
    type: io.kestra.plugin.aws.sqs.RealtimeTrigger
    queueUrl: {queue}
    endpointOverride: {moto}
    region: us-east-1
    serdeType: JSON
"#
        ),
    )
    .unwrap();
    let server = Server::start(&[], dir.path(), &flows);

    put(&aws.s3, &bucket, "in/hello.txt", "hi there\n").await;
    aws.sqs
        .send_message()
        .queue_url(&queue)
        .message_body(r#"{"name":"kite"}"#)
        .send()
        .await
        .unwrap();

    let files = server.ended("kite.trig", "files", 1).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["state"]["current"], "SUCCESS", "{:#}", files[0]);
    assert_eq!(output(&files[0], "content"), "in/hello.txt=hi there");
    assert_eq!(
        files[0]["trigger"]["variables"]["objects"][0]["key"], "in/hello.txt",
        "{:#}",
        files[0]["trigger"]
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while keys(&aws.s3, &bucket).await != ["archive/hello.txt"] {
        assert!(
            Instant::now() < deadline,
            "not moved: {:?}",
            keys(&aws.s3, &bucket).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let orders = server.ended("kite.trig", "orders", 1).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["state"]["current"], "SUCCESS");
    assert_eq!(output(&orders[0], "who"), "kite");
    let left = aws
        .sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(left.messages().is_empty(), "the message was deleted");
    // Polled again every second: still one execution each, once both triggers polled twice
    // after their execution ended (their `date` is the last poll).
    for (flow, e) in [("files", &files[0]), ("orders", &orders[0])] {
        let ended = date(&e["state"]["endDate"]);
        server
            .polled_since(flow, ended + chrono::Duration::seconds(2))
            .await;
    }
    assert_eq!(server.ended("kite.trig", "files", 1).await.len(), 1);
    assert_eq!(server.ended("kite.trig", "orders", 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_mode_upload_reaches_the_scheduler_through_notifications() {
    let moto = kite_aws::testing::moto().endpoint.clone();
    let prefix = kite_aws::testing::unique_prefix();
    let aws = kite_aws::Clients::connect(&kite_aws::AwsConfig::emulator(&moto, &prefix)).await;
    let bucket = aws.config.name("watched");
    aws.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let global = ["--aws-endpoint", moto.as_str(), "--prefix", prefix.as_str()];

    let up = Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(global)
        .args(["infra", "up", "--watch-bucket", &bucket])
        .output()
        .expect("kite runs");
    let stdout = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        stdout.contains(&format!("queue  {prefix}trigger-events ready")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("bucket {bucket} watched")),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    // Polled once an hour: after the first poll, only notifications start executions.
    std::fs::write(
        flows.join("files.yaml"),
        s3_flow("kite.trig.aws", &bucket, &moto, "PT1H"),
    )
    .unwrap();
    let server = Server::start(&global, dir.path(), &flows);

    put(&aws.s3, &bucket, "in/first.csv", "one").await;
    let first = server.ended("kite.trig.aws", "files", 1).await;
    assert_eq!(first[0]["state"]["current"], "SUCCESS", "{:#}", first[0]);

    // The poll at deploy time happened (the trigger state has its date): the next is in an
    // hour, so the second upload can only arrive through the notification queue.
    let docs = kite_aws::DynamoDocuments::new(
        &aws,
        aws.config.name("documents"),
        std::sync::Arc::new(kite_ports::SystemClock),
    );
    let triggers = kite_engine::repo::triggers::TriggerRepo::new(std::sync::Arc::new(docs));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = triggers
            .get("kite.trig.aws", "files", "upload")
            .await
            .unwrap()
            .map(|(s, _)| s.state);
        if let Some(s) = &state
            && s.date.is_some()
            && s.next_execution_date
                .is_some_and(|n| n > chrono::Utc::now() + chrono::Duration::minutes(30))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the trigger was never polled: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    put(&aws.s3, &bucket, "in/second.csv", "two").await;
    let both = server.ended("kite.trig.aws", "files", 2).await;
    assert_eq!(both.len(), 2, "{both:?}");
    let mut values: Vec<String> = both
        .iter()
        .map(|e| {
            assert_eq!(e["state"]["current"], "SUCCESS", "{e:#}");
            output(e, "content").as_str().unwrap_or_default().to_owned()
        })
        .collect();
    values.sort();
    assert_eq!(values, ["in/first.csv=one", "in/second.csv=two"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while keys(&aws.s3, &bucket).await != ["archive/first.csv", "archive/second.csv"] {
        assert!(
            Instant::now() < deadline,
            "not moved: {:?}",
            keys(&aws.s3, &bucket).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
