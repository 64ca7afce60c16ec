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
/// A [`scoped`](Expressions::scoped) runtime also collects the secret values its renders see
/// (see [`crate::masking`]): an executor step and a worker attempt each render with one.
#[derive(Clone)]
pub struct Expressions {
    /// The expression engine.
    pub engine: Engine,
    /// Functions with I/O (`secret`, `kv`, `read`...).
    pub host: Arc<dyn Host>,
    /// `{{ globals.* }}`.
    pub globals: Map<String, Value>,
    /// `{{ envs.* }}`.
    pub envs: Map<String, Value>,
    /// How many subflows may nest below a root execution (Subflow and ForEachItem
    /// children): a task run that would start a child deeper fails, naming the limit.
    pub max_subflow_depth: u32,
    /// The ceilings of each execution.
    pub limits: super::limits::Limits,
    encryption: Option<Arc<EncryptionKey>>,
    masks: Option<Masks>,
}

/// The default of [`Expressions::max_subflow_depth`]. Kestra has no runtime limit (it refuses
/// only a flow calling itself directly, at save time); 32 levels is far beyond any
/// legitimate nesting and stops an A → B → A recursion after 33 executions.
pub const DEFAULT_MAX_SUBFLOW_DEPTH: u32 = 32;

/// The environment variable setting [`Expressions::max_subflow_depth`].
pub const MAX_SUBFLOW_DEPTH_ENV: &str = "KITE_MAX_SUBFLOW_DEPTH";

/// [`Expressions::max_subflow_depth`] from `KITE_MAX_SUBFLOW_DEPTH` in `env` (the default
/// when unset); an error naming the variable when it is not a whole number from 1 to 10000.
pub fn max_subflow_depth(env: &[(String, String)]) -> Result<u32, String> {
    let Some((_, raw)) = env.iter().find(|(k, _)| k == MAX_SUBFLOW_DEPTH_ENV) else {
        return Ok(DEFAULT_MAX_SUBFLOW_DEPTH);
    };
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "{MAX_SUBFLOW_DEPTH_ENV} must be a whole number from 1 to 10000 (the number of \
             subflows that may nest below a root execution), not `{raw}`"
        )),
    }
}

impl std::fmt::Debug for Expressions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expressions").finish_non_exhaustive()
    }
}

impl Expressions {
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
            max_subflow_depth: DEFAULT_MAX_SUBFLOW_DEPTH,
            limits: super::limits::Limits::default(),
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

    /// A copy whose I/O functions go to `host` (the executor's decisions render with a
    /// host that answers from the record: see [`super::lookups`]).
    #[must_use]
    pub fn with_host(&self, host: Arc<dyn Host>) -> Self {
        let mut rt = self.clone();
        rt.host = host;
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
    /// The files this execution may read (None: no execution, no file).
    files: Option<crate::access::FileScope>,
    masks: Option<Masks>,
}

impl ExecHost {
    fn check(&self, uri: &str) -> Result<(), String> {
        crate::access::check_uri(self.files.as_ref(), uri)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
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
        self.check(uri)?;
        self.inner.read(uri)
    }
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        self.check(uri)?;
        self.inner.file_size(uri)
    }
    fn file_exists(&self, uri: &str) -> Result<bool, String> {
        self.check(uri)?;
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

/// A render context for `vars`: SECRET inputs (stored encrypted) and an http.Trigger's
/// `trigger.encryptedBody` are decrypted into it,
/// and they and the values of `secret()` join the scope's [`Masks`].
pub fn render_context(
    rt: &Expressions,
    mut vars: Map<String, Value>,
    error_logs: &[Value],
    now: DateTime<Utc>,
) -> Context {
    if let (Some(key), Some(inputs)) = (rt.encryption(), vars.get_mut("inputs")) {
        decrypt_secrets(inputs, key, rt.masks());
    }
    // An http.Trigger's `encryptBody` (only this name: a webhook body is `trigger.body`, so
    // a caller cannot have a ciphertext of its choosing decrypted here).
    if let (Some(key), Some(body)) = (
        rt.encryption(),
        vars.get_mut("trigger")
            .and_then(Value::as_object_mut)
            .and_then(|t| t.get_mut("encryptedBody")),
    ) {
        decrypt_secrets(body, key, rt.masks());
    }
    let namespace = vars
        .get("flow")
        .and_then(|f| f.get("namespace"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let files = crate::access::FileScope::from_vars(&vars);
    let host = ExecHost {
        inner: rt.host.clone(),
        error_logs: error_logs.to_vec(),
        now,
        namespace,
        files,
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
pub fn render(rt: &Expressions, template: &str, ctx: &Context) -> Result<String, ExprError> {
    rt.engine.render(template, ctx)
}

/// The `flow` variables (`id`, `namespace`, `revision`, `tenantId`).
pub(crate) fn flow_vars(flow: &Flow) -> Value {
    json!({
        "id": flow.id,
        "namespace": flow.namespace,
        "revision": flow.revision.unwrap_or(1),
        "tenantId": Value::Null,
    })
}

/// Which of the variables that grow with the execution (`outputs`, `tasks`: one entry
/// per task run) a rendering needs. Building them costs time in the number of task runs,
/// so a decision over a loop of N values that built them for each of its N renders would
/// cost N²: a template that cannot name them does not get them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// `outputs`.
    pub outputs: bool,
    /// `tasks`.
    pub tasks: bool,
}

impl Needs {
    /// Every variable.
    pub const ALL: Needs = Needs {
        outputs: true,
        tasks: true,
    };

    /// What `template` may read: a variable it names (anywhere in its text, which errs on
    /// the side of building it), everything when it can reach the whole context
    /// (`render()`, `renderOnce()`, `printContext()`, `fetchContext()`).
    pub fn of(template: &str) -> Needs {
        if template.contains("render") || template.contains("Context") {
            return Needs::ALL;
        }
        Needs {
            outputs: template.contains("outputs"),
            tasks: template.contains("tasks"),
        }
    }

    /// What the strings inside `value` may read.
    pub fn of_value(value: &Value) -> Needs {
        let mut needs = Needs {
            outputs: false,
            tasks: false,
        };
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => needs = needs.or(Needs::of(s)),
                Value::Array(a) => stack.extend(a),
                Value::Object(m) => {
                    for (k, v) in m {
                        needs = needs.or(Needs::of(k));
                        stack.push(v);
                    }
                }
                _ => {}
            }
            if needs == Needs::ALL {
                break;
            }
        }
        needs
    }

    fn or(self, other: Needs) -> Needs {
        Needs {
            outputs: self.outputs || other.outputs,
            tasks: self.tasks || other.tasks,
        }
    }
}

/// Variables shared by every task run of the execution (and by flow outputs).
pub fn execution_vars(rt: &Expressions, flow: &Flow, exec: &Execution) -> Map<String, Value> {
    execution_vars_for(rt, flow, exec, Needs::ALL)
}

/// [`execution_vars`], with the execution-sized variables only when `needs` says so.
pub fn execution_vars_for(
    rt: &Expressions,
    flow: &Flow,
    exec: &Execution,
    needs: Needs,
) -> Map<String, Value> {
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
    if needs.outputs {
        m.insert("outputs".into(), Value::Object(merged_outputs(exec)));
    }
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
    if needs.tasks {
        m.insert("tasks".into(), Value::Object(task_states(exec)));
    }
    if let Some(t) = &exec.trigger {
        m.insert("trigger".into(), Value::Object(t.variables.clone()));
    }
    m.insert("envs".into(), Value::Object(rt.envs.clone()));
    m.insert("globals".into(), Value::Object(rt.globals.clone()));
    m
}

/// The variables of `run` (a run of `task`).
pub fn task_run_vars(
    rt: &Expressions,
    flow: &Flow,
    exec: &Execution,
    task: &Task,
    run: &TaskRun,
) -> Map<String, Value> {
    task_run_vars_for(rt, flow, exec, task, run, Needs::ALL)
}

/// [`task_run_vars`], with the execution-sized variables only when `needs` says so.
pub fn task_run_vars_for(
    rt: &Expressions,
    flow: &Flow,
    exec: &Execution,
    task: &Task,
    run: &TaskRun,
    needs: Needs,
) -> Map<String, Value> {
    let mut m = execution_vars_for(rt, flow, exec, needs);
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
    for run in exec.runs() {
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
    for run in exec.runs() {
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
