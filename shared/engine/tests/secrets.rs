//! Secrets end to end on an in-memory installation (issue 8, item 3): values that came
//! from `secret()` or from a SECRET input are masked (`******`) in every log path, in task
//! outputs (worker results and inline ones), in flow outputs and in error messages; SECRET
//! inputs are stored encrypted (`{"type": "io.kestra.datatype:aes_encrypted", ...}`) and
//! decrypted only where a task renders them; a flow declaring one is refused when no
//! encryption key is configured.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use kite_engine::crypto::{ENCRYPTED_TYPE, EncryptionKey};
use kite_engine::model::{Execution, LogEntry, State};
use kite_engine::services::CreateOptions;
use kite_flow::Flow;
use kite_ports::{
    Clock, Document, DocumentError, DocumentStore, Expect, MemoryDocuments, MemoryQueue, MessageId,
    OutgoingMessage, Page, Query, Queue, QueueError, QueueSpec, ReceiptHandle, ReceivedMessage,
    SystemClock, Versioned, WriteOp,
};
use serde_json::{Value, json};
use support::Setup;

const NS: &str = "company.team";
const SECRET: &str = "hunter2-Sup3rS3cret";
const INPUT_SECRET: &str = "pa55-w0rd-from-input";
const KEY: &str = "0123456789abcdef0123456789abcdef";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A document as text, a compressed record (`{"z": base64 of deflate}`) inflated.
fn inflated(json: &str) -> String {
    use std::io::Read as _;
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return json.to_owned();
    };
    let Some(z) = v.get("z").and_then(Value::as_str) else {
        return json.to_owned();
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(z)
        .expect("base64 body");
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("deflated body");
    text
}

/// A document store keeping a copy of everything written to it.
#[derive(Debug)]
struct Recording {
    inner: MemoryDocuments,
    written: Mutex<String>,
}

impl Recording {
    fn record(&self, table: &str, key: &str, doc: &Document) {
        let mut w = self.written.lock().unwrap();
        w.push_str(&format!("\n{table}/{key}: {}", inflated(&doc.json)));
    }
}

#[async_trait::async_trait]
impl DocumentStore for Recording {
    async fn get(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<Versioned<String>>, DocumentError> {
        self.inner.get(table, key).await
    }
    async fn put(
        &self,
        table: &str,
        key: &str,
        doc: Document,
        expected: Expect,
    ) -> Result<u64, DocumentError> {
        self.record(table, key, &doc);
        self.inner.put(table, key, doc, expected).await
    }
    async fn delete(
        &self,
        table: &str,
        key: &str,
        expected: Expect,
    ) -> Result<bool, DocumentError> {
        self.inner.delete(table, key, expected).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Option<u64>>, DocumentError> {
        for op in &ops {
            if let WriteOp::Put {
                table, key, doc, ..
            } = op
            {
                self.record(table, key, doc);
            }
        }
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &Query) -> Result<Page, DocumentError> {
        self.inner.query(query).await
    }
    async fn sweep_expired(&self) -> Result<usize, DocumentError> {
        self.inner.sweep_expired().await
    }
}

/// A queue keeping a copy of every message body sent through it.
#[derive(Debug)]
struct RecordingQueue {
    inner: MemoryQueue,
    sent: Arc<Mutex<String>>,
}

#[async_trait::async_trait]
impl Queue for RecordingQueue {
    async fn ensure_queue(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        self.inner.ensure_queue(spec).await
    }
    async fn send(&self, queue: &str, msg: OutgoingMessage) -> Result<MessageId, QueueError> {
        self.sent
            .lock()
            .unwrap()
            .push_str(&format!("\n{queue}: {}", msg.body));
        self.inner.send(queue, msg).await
    }
    async fn send_batch(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, QueueError> {
        for m in &msgs {
            self.sent
                .lock()
                .unwrap()
                .push_str(&format!("\n{queue}: {}", m.body));
        }
        self.inner.send_batch(queue, msgs).await
    }
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner
            .receive(queue, max, visibility_timeout, wait)
            .await
    }
    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.inner.delete(queue, receipt).await
    }
    async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        self.inner.delete_batch(queue, receipts).await
    }
    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &ReceiptHandle,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.inner.change_visibility(queue, receipt, timeout).await
    }
    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        self.inner.purge(queue).await
    }
    async fn approximate_len(&self, queue: &str) -> Result<usize, QueueError> {
        self.inner.approximate_len(queue).await
    }
}

/// An in-memory installation recording what it writes and sends.
struct Kite {
    kite: support::Kite,
    docs: Arc<Recording>,
    sent: Arc<Mutex<String>>,
}

impl std::ops::Deref for Kite {
    type Target = support::Kite;

    fn deref(&self) -> &support::Kite {
        &self.kite
    }
}

impl Kite {
    async fn start(key: Option<&str>) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let docs = Arc::new(Recording {
            inner: MemoryDocuments::new(clock.clone()),
            written: Mutex::default(),
        });
        let sent = Arc::new(Mutex::new(String::new()));
        let queue = Arc::new(RecordingQueue {
            inner: MemoryQueue::new(clock.clone()),
            sent: sent.clone(),
        });
        let key = key.map(|k| EncryptionKey::parse(k).expect("key"));
        let kite = Setup::new()
            .clock(clock)
            .env(&[("SECRET_PASSWORD", &b64(SECRET))])
            .documents(docs.clone())
            .queue(queue)
            .runtime(move |rt| match key {
                Some(k) => rt.with_encryption_key(k),
                None => rt,
            })
            .start()
            .await;
        Self { kite, docs, sent }
    }

    async fn run(&self, flow: &Flow, inputs: Value) -> Execution {
        let created = self.create(flow, inputs).await;
        self.wait_end(&created.id).await
    }

    /// The logs of `id`, once the line ending the flow is stored (logs are appended after
    /// the record is written).
    async fn logs(&self, id: &str) -> Vec<LogEntry> {
        let ended = |l: &LogEntry| l.message.starts_with("Flow completed");
        let logs = self.logs_until(id, |l| l.iter().any(ended)).await;
        assert!(logs.iter().any(ended), "no end log: {logs:#?}");
        logs
    }

    /// Every document written to the store so far (every version), and every message
    /// sent, as one text.
    async fn all_documents(&self) -> String {
        let written = self.docs.written.lock().unwrap().clone();
        written + &self.sent.lock().unwrap().clone()
    }
}

fn messages(logs: &[LogEntry]) -> Vec<String> {
    logs.iter().map(|l| l.message.clone()).collect()
}

#[track_caller]
fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !text.contains(s),
            "{what} holds the secret `{s}` in clear:\n{text}"
        );
        let encoded = b64(s);
        assert!(
            !text.contains(&encoded),
            "{what} holds the base64 form of `{s}` ({encoded}):\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_values_are_masked_in_logs_task_outputs_flow_outputs_and_errors() {
    let kite = Kite::start(None).await;
    let src = format!(
        r#"id: masked
namespace: {NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "connecting with password={{{{ secret('PASSWORD') }}}} to db"
  - id: encoded
    type: io.kestra.plugin.core.log.Log
    message: "basic {{{{ secret('PASSWORD') | base64encode }}}}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "token:{{{{ secret('PASSWORD') }}}}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "stdout has {{{{ secret('PASSWORD') }}}} inside"
      - echo "stderr has {{{{ secret('PASSWORD') }}}}" >&2
      - echo '::{{"outputs":{{"v":"{{{{ secret('PASSWORD') }}}}"}}}}::'
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    errorMessage: "failing with {{{{ secret('PASSWORD') }}}}"
outputs:
  - id: out
    type: STRING
    value: "flow output {{{{ secret('PASSWORD') }}}}"
"#
    );
    let flow = kite.deploy(&src).await;
    let e = kite.run(&flow, json!({})).await;
    assert_eq!(e.state.current, State::Warning, "{e:#?}");
    let logs = kite.logs(&e.id).await;
    let msgs = messages(&logs);
    assert!(
        msgs.iter()
            .any(|m| m == "connecting with password=****** to db"),
        "the Log line is masked in place: {msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m == "basic ******"), "{msgs:#?}");
    assert!(
        msgs.iter().any(|m| m == "stdout has ****** inside"),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m == "stderr has ******"), "{msgs:#?}");
    assert!(
        msgs.iter().any(|m| m.contains("failing with ******")),
        "{msgs:#?}"
    );
    let ret = e.task_run_list.iter().find(|r| r.task_id == "ret").unwrap();
    assert_eq!(ret.outputs["value"], json!("token:******"));
    let sh = e.task_run_list.iter().find(|r| r.task_id == "sh").unwrap();
    assert_eq!(sh.outputs["vars"]["v"], json!("******"));
    assert_eq!(e.outputs["out"], json!("flow output ******"));
    let exec_json = serde_json::to_string(&e).unwrap();
    assert_clean("the execution", &exec_json, &[SECRET]);
    assert_clean("the logs", &format!("{msgs:?}"), &[SECRET]);
    // log.Fetch read the stored (masked) lines.
    let fetch = e
        .task_run_list
        .iter()
        .find(|r| r.task_id == "fetch")
        .unwrap();
    assert!(
        fetch.outputs["size"].as_u64().unwrap_or(0) > 0,
        "{fetch:#?}"
    );
    assert_clean("the store", &kite.all_documents().await, &[SECRET]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_inputs_are_stored_encrypted_and_masked_where_rendered() {
    let kite = Kite::start(Some(KEY)).await;
    let src = format!(
        r#"id: secret_input
namespace: {NS}
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "inline sees {{{{ inputs.pw }}}} here"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "worker sees {{{{ inputs.pw }}}} here"
      - test "$(printf %s '{{{{ inputs.pw }}}}' | tr a-z A-Z)" = "{upper}" && echo decrypted-ok
outputs:
  - id: echoed
    type: STRING
    value: "{{{{ inputs.pw }}}}"
  - id: sealed
    type: SECRET
    value: "{{{{ inputs.pw }}}}"
"#,
        upper = INPUT_SECRET.to_uppercase()
    );
    let flow = kite.deploy(&src).await;
    let e = kite.run(&flow, json!({"pw": INPUT_SECRET})).await;
    assert_eq!(e.state.current, State::Success, "{e:#?}");
    let stored = &e.inputs["pw"];
    assert_eq!(stored["type"], json!(ENCRYPTED_TYPE), "{stored}");
    let key = EncryptionKey::parse(KEY).unwrap();
    assert_eq!(
        key.decrypt(stored["value"].as_str().unwrap()).unwrap(),
        INPUT_SECRET
    );
    assert_eq!(e.outputs["echoed"], json!("******"));
    assert_eq!(e.outputs["sealed"]["type"], json!(ENCRYPTED_TYPE));
    assert_eq!(
        key.decrypt(e.outputs["sealed"]["value"].as_str().unwrap())
            .unwrap(),
        INPUT_SECRET
    );
    // The worker writes its attempt's lines beside its result: they may land after the
    // executor's end line, so wait for them explicitly.
    let logs = kite
        .logs_until(&e.id, |l| {
            let m = messages(l);
            [
                "inline sees ****** here",
                "worker sees ****** here",
                "decrypted-ok",
            ]
            .iter()
            .all(|want| m.iter().any(|x| x == want))
        })
        .await;
    let msgs = messages(&logs);
    assert!(
        msgs.iter().any(|m| m == "inline sees ****** here"),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m == "worker sees ****** here"),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m == "decrypted-ok"), "{msgs:#?}");
    assert_clean(
        "the execution",
        &serde_json::to_string(&e).unwrap(),
        &[INPUT_SECRET],
    );
    assert_clean("the store", &kite.all_documents().await, &[INPUT_SECRET]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_input_without_an_encryption_key_is_refused() {
    let kite = Kite::start(None).await;
    let src = format!(
        "id: no_key\nnamespace: {NS}\ninputs:\n  - id: pw\n    type: SECRET\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    );
    let flow = kite.deploy(&src).await;
    let Value::Object(inputs) = json!({"pw": INPUT_SECRET}) else {
        unreachable!()
    };
    let err = kite
        .platform
        .create_execution(&flow, inputs, CreateOptions::default())
        .await
        .expect_err("a SECRET input needs a key");
    let text = err.to_string();
    assert!(
        text.contains("SECRET input `pw`") && text.contains("KITE_ENCRYPTION_KEY"),
        "{text}"
    );
    assert!(!text.contains(INPUT_SECRET), "{text}");
    assert_eq!(
        kite_engine::crypto::secret_fields_without_key(&flow, kite.platform.rt.encryption()),
        vec!["SECRET input `pw`".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_passed_to_a_subflow_travels_encrypted() {
    let kite = Kite::start(Some(KEY)).await;
    let child = format!(
        r#"id: child
namespace: {NS}
inputs:
  - id: token
    type: SECRET
tasks:
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "child got {{{{ inputs.token }}}}"
"#
    );
    let parent = format!(
        r#"id: parent
namespace: {NS}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {NS}
    flowId: child
    wait: true
    inputs:
      token: "{{{{ secret('PASSWORD') }}}}"
"#
    );
    kite.deploy(&child).await;
    let flow = kite.deploy(&parent).await;
    let e = kite.run(&flow, json!({})).await;
    assert_eq!(e.state.current, State::Success, "{e:#?}");
    let child_id = e.task_run_list[0].outputs["executionId"]
        .as_str()
        .expect("child id")
        .to_owned();
    let child_exec = kite.platform.execution(&child_id).await.unwrap().unwrap();
    assert_eq!(child_exec.inputs["token"]["type"], json!(ENCRYPTED_TYPE));
    let key = EncryptionKey::parse(KEY).unwrap();
    assert_eq!(
        key.decrypt(child_exec.inputs["token"]["value"].as_str().unwrap())
            .unwrap(),
        SECRET
    );
    let logs = kite.logs(&child_id).await;
    assert!(
        messages(&logs).iter().any(|m| m == "child got ******"),
        "{:#?}",
        messages(&logs)
    );
    assert_clean("the store", &kite.all_documents().await, &[SECRET]);
}
