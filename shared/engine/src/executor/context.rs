//! The expression context of a task run (Kestra's `RunVariables`): `flow`, `execution`,
//! `inputs`, `outputs` (merged, keyed by loop values), `vars`, `labels`, `task`,
//! `taskrun`, `parent`/`parents`, `tasks`, `trigger`, `envs`, `globals`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kite_expr::{Context, Engine, ExprError, Host};
use kite_flow::{Flow, Task};
use serde_json::{Map, Value, json};

use crate::crypto::{EncryptionKey, as_encrypted};
use crate::masking::Masks;
use crate::model::{Execution, TaskRun};

/// What rendering needs besides the execution: the expression engine, the I/O host,
/// and the instance configuration (`globals`, `envs`, the encryption key).
///
/// A [`scoped`](Runtime::scoped) runtime also collects the secret values its renders see
/// (see [`crate::masking`]): an executor step and a worker attempt each render with one.
#[derive(Clone)]
pub struct Runtime {
    /// The expression engine.
    pub engine: Engine,
    /// Functions with I/O (`secret`, `kv`, `read`...).
    pub host: Arc<dyn Host>,
    /// `{{ globals.* }}`.
    pub globals: Map<String, Value>,
    /// `{{ envs.* }}`.
    pub envs: Map<String, Value>,
    encryption: Option<Arc<EncryptionKey>>,
    masks: Option<Masks>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with `host`, `globals`, and `envs` read from `KESTRA_*` variables in `env`.
    pub fn new(host: Arc<dyn Host>, globals: Map<String, Value>, env: &[(String, String)]) -> Self {
        let envs = env
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("KESTRA_")
                    .map(|n| (n.to_ascii_lowercase(), Value::String(v.clone())))
            })
            .collect();
        Self {
            engine: Engine::new(kite_expr::EngineConfig::default()),
            host,
            globals,
            envs,
            encryption: None,
            masks: None,
        }
    }

    /// With the key encrypting SECRET inputs and outputs at rest.
    #[must_use]
    pub fn with_encryption_key(mut self, key: EncryptionKey) -> Self {
        self.encryption = Some(Arc::new(key));
        self
    }

    /// The encryption key, if configured.
    pub fn encryption(&self) -> Option<&EncryptionKey> {
        self.encryption.as_deref()
    }

    /// A copy collecting, in a fresh [`Masks`] set, the secret values its renders see.
    #[must_use]
    pub fn scoped(&self) -> Self {
        let mut rt = self.clone();
        rt.masks = Some(Masks::new());
        rt
    }

    /// The secret values seen by this scope's renders (`None` outside a scope).
    pub fn masks(&self) -> Option<&Masks> {
        self.masks.as_ref()
    }
}

/// A host that answers `errorLogs()` from the execution and `now()` from the decision time,
/// delegating everything else.
struct ExecHost {
    inner: Arc<dyn Host>,
    error_logs: Vec<Value>,
    now: DateTime<Utc>,
    namespace: Option<String>,
    masks: Option<Masks>,
}

impl Host for ExecHost {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        let value = self.inner.secret(key)?;
        if let Some(m) = &self.masks {
            m.add(&value);
        }
        Ok(value)
    }
    fn read(&self, uri: &str) -> Result<String, String> {
        self.inner.read(uri)
    }
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        self.inner.file_size(uri)
    }
    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        self.inner.file_exists(uri)
    }
    fn kv(
        &self,
        namespace: Option<&str>,
        key: &str,
        error_on_missing: bool,
    ) -> Result<Value, String> {
        self.inner.kv(
            namespace.or(self.namespace.as_deref()),
            key,
            error_on_missing,
        )
    }
    fn error_logs(&self) -> Vec<Value> {
        self.error_logs.clone()
    }
}

/// A render context for `vars`: SECRET inputs (stored encrypted) are decrypted into it,
/// and they and the values of `secret()` join the scope's [`Masks`].
pub fn render_context(
    rt: &Runtime,
    mut vars: Map<String, Value>,
    error_logs: &[Value],
    now: DateTime<Utc>,
) -> Context {
    if let (Some(key), Some(inputs)) = (rt.encryption(), vars.get_mut("inputs")) {
        decrypt_secrets(inputs, key, rt.masks());
    }
    let namespace = vars
        .get("flow")
        .and_then(|f| f.get("namespace"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let host = ExecHost {
        inner: rt.host.clone(),
        error_logs: error_logs.to_vec(),
        now,
        namespace,
        masks: rt.masks.clone(),
    };
    Context::from_map(vars, Arc::new(host))
}

/// Replaces every encrypted value inside `value` by its plaintext (adding it to `masks`).
/// A value that does not decrypt (another key) stays encrypted: it is never shown.
fn decrypt_secrets(value: &mut Value, key: &EncryptionKey, masks: Option<&Masks>) {
    if let Some(text) = as_encrypted(value) {
        if let Ok(plain) = key.decrypt(text) {
            if let Some(m) = masks {
                m.add(&plain);
            }
            *value = Value::String(plain);
        }
        return;
    }
    match value {
        Value::Object(m) => m.values_mut().for_each(|v| decrypt_secrets(v, key, masks)),
        Value::Array(a) => a.iter_mut().for_each(|v| decrypt_secrets(v, key, masks)),
        _ => {}
    }
}

/// Renders a string property.
pub fn render(rt: &Runtime, template: &str, ctx: &Context) -> Result<String, ExprError> {
    rt.engine.render(template, ctx)
}

fn flow_vars(flow: &Flow) -> Value {
    json!({
        "id": flow.id,
        "namespace": flow.namespace,
        "revision": flow.revision.unwrap_or(1),
        "tenantId": Value::Null,
    })
}

/// Variables shared by every task run of the execution (and by flow outputs).
pub fn execution_vars(rt: &Runtime, flow: &Flow, exec: &Execution) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("flow".into(), flow_vars(flow));
    m.insert(
        "execution".into(),
        json!({
            "id": exec.id,
            "startDate": exec.state.start_date,
            "originalId": exec.original_id.clone().unwrap_or_else(|| exec.id.clone()),
            "state": exec.state.current,
        }),
    );
    m.insert(
        "inputs".into(),
        Value::Object(kite_flow::inputs::nest(&exec.inputs)),
    );
    m.insert("outputs".into(), Value::Object(merged_outputs(exec)));
    m.insert(
        "vars".into(),
        Value::Object(
            flow.variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    );
    m.insert(
        "labels".into(),
        Value::Object(kite_flow::inputs::nest(&exec.labels_map())),
    );
    m.insert("tasks".into(), Value::Object(task_states(exec)));
    if let Some(t) = &exec.trigger {
        m.insert("trigger".into(), Value::Object(t.variables.clone()));
    }
    m.insert("envs".into(), Value::Object(rt.envs.clone()));
    m.insert("globals".into(), Value::Object(rt.globals.clone()));
    m
}

/// The variables of `run` (a run of `task`).
pub fn task_run_vars(
    rt: &Runtime,
    flow: &Flow,
    exec: &Execution,
    task: &Task,
    run: &TaskRun,
) -> Map<String, Value> {
    let mut m = execution_vars(rt, flow, exec);
    m.insert(
        "task".into(),
        json!({"id": task.id, "type": task.type_name}),
    );
    let parents = parents(exec, run);
    let own_value = run.value.clone().or_else(|| {
        parents
            .first()
            .and_then(|p| p["taskrun"]["value"].as_str().map(str::to_owned))
    });
    m.insert(
        "taskrun".into(),
        json!({
            "id": run.id,
            "startDate": run.state.start_date,
            "attemptsCount": run
                .attempts
                .iter()
                .filter(|a| a.state.current.is_terminated())
                .count(),
            "parentId": run.parent_task_run_id,
            "value": own_value,
            "iteration": run.iteration,
        }),
    );
    if let Some(first) = parents.first() {
        m.insert("parent".into(), first.clone());
    }
    if let Some(wd) = working_directory_ancestor(flow, exec, run) {
        m.insert(
            "workerTaskrun".into(),
            json!({"id": wd.id, "value": wd.value.clone().or(own_value.clone())}),
        );
    }
    m.insert("parents".into(), Value::Array(parents));
    m
}

/// The closest WorkingDirectory run above `run`, if any.
fn working_directory_ancestor<'a>(
    flow: &Flow,
    exec: &'a Execution,
    run: &TaskRun,
) -> Option<&'a TaskRun> {
    use kite_flow::plugin::PluginType;
    let wd = kite_flow::tasks::working_directory::WorkingDirectory::TYPE;
    let mut cur = run
        .parent_task_run_id
        .as_deref()
        .and_then(|p| exec.task_run(p));
    let mut guard = 0;
    while let Some(p) = cur {
        guard += 1;
        if guard > 10_000 {
            return None;
        }
        if flow
            .find_task(&p.task_id)
            .is_some_and(|t| t.type_name == wd)
        {
            return Some(p);
        }
        cur = p
            .parent_task_run_id
            .as_deref()
            .and_then(|id| exec.task_run(id));
    }
    None
}

/// Ancestors of `run` carrying a loop value, closest first, as `{taskrun: {value}, outputs}`.
fn parents(exec: &Execution, run: &TaskRun) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cur = run
        .parent_task_run_id
        .as_deref()
        .and_then(|p| exec.task_run(p));
    let mut guard = 0;
    while let Some(p) = cur {
        guard += 1;
        if guard > 10_000 {
            break;
        }
        if p.value.is_some() {
            let mut entry = Map::new();
            entry.insert("taskrun".into(), json!({"value": p.value}));
            if !p.outputs.is_empty() {
                entry.insert("outputs".into(), Value::Object(p.outputs.clone()));
            }
            out.push(Value::Object(entry));
        }
        cur = p
            .parent_task_run_id
            .as_deref()
            .and_then(|id| exec.task_run(id));
    }
    out
}

/// `outputs.<task>` or `outputs.<task>[v1][v2]...` for every task run with outputs.
pub fn merged_outputs(exec: &Execution) -> Map<String, Value> {
    let mut out = Map::new();
    for run in &exec.task_run_list {
        if run.outputs.is_empty() {
            continue;
        }
        let chain = exec.value_chain(run);
        let mut slot = out
            .entry(run.task_id.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        for v in &chain {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(m) = slot else { break };
            slot = m
                .entry(v.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if let Value::Object(m) = slot {
            for (k, v) in &run.outputs {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn task_states(exec: &Execution) -> Map<String, Value> {
    let mut out = Map::new();
    for run in &exec.task_run_list {
        let chain = exec.value_chain(run);
        let state = json!({"state": run.state.current});
        if chain.is_empty() {
            out.insert(run.task_id.clone(), state);
        } else {
            let mut slot = out
                .entry(run.task_id.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            for v in &chain {
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let Value::Object(m) = slot else { break };
                slot = m
                    .entry(v.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            *slot = state;
        }
    }
    out
}
