//! Which files of internal storage an execution may read (issue 8 item 7).
//!
//! Every place where a task or an expression dereferences a `kestra:///` URI — `read()`,
//! `fileSize()`, `fileExists()`, the storage tasks, script `inputFiles`, HTTP form files,
//! ForEachItem `items` — asks the execution's [`FileScope`] first. An execution may use:
//!
//! * any file of its own namespace (`kestra:///<namespace>/...`: its own files, those of
//!   the other executions of the namespace);
//! * the files of the executions that started it: the parent of a Subflow or ForEachItem
//!   child and every ancestor above it (so a child in another namespace reads the files
//!   its parent passed down, whatever their depth), and the execution whose end fired a
//!   Flow trigger (Kestra: "files of the triggering execution");
//! * files of those executions written under the earlier key layout
//!   ([`StorageKey::legacy_for_execution`]).
//!
//! Everything else is refused, Kite's own folders (`_executions`, `_messages`...)
//! included. The parties come from the variables the engine builds (`flow`, `execution`,
//! `trigger`), never from template-local variables.

use kite_ports::{StorageError, StorageKey};
use serde_json::{Map, Value};

/// Why a URI may not be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The URI is not a valid internal-storage URI.
    #[error(transparent)]
    Invalid(#[from] StorageError),
    /// The file belongs to another namespace and to no execution that started this one.
    #[error(
        "access to {uri} refused: an execution of namespace `{namespace}` reads only the \
         files of its namespace (kestra:///{namespace}/...) and of the executions that \
         started it (Subflow/ForEachItem parents, the execution that fired its Flow trigger)"
    )]
    Refused {
        /// The URI asked for.
        uri: String,
        /// The namespace of the execution asking.
        namespace: String,
    },
    /// There is no execution to check against (e.g. rendering an input's default).
    #[error(
        "internal storage files cannot be read here: {uri} (no execution to check access against)"
    )]
    NoScope {
        /// The URI asked for.
        uri: String,
    },
}

/// One execution whose files are readable: namespace, flow id, execution id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRef {
    /// Namespace.
    pub namespace: String,
    /// Flow id.
    pub flow_id: String,
    /// Execution id.
    pub execution_id: String,
}

impl ExecutionRef {
    fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            namespace: s("namespace")?,
            flow_id: s("flowId")?,
            execution_id: s("executionId")?,
        })
    }

    /// As `{namespace, flowId, executionId}` (the shape of `trigger.ancestors` items).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "executionId": self.execution_id,
        })
    }

    fn folders(&self) -> impl Iterator<Item = StorageKey> {
        let (ns, flow, id) = (&self.namespace, &self.flow_id, &self.execution_id);
        [
            StorageKey::for_execution(ns, flow, id),
            StorageKey::legacy_for_execution(ns, flow, id),
        ]
        .into_iter()
        .flatten()
    }
}

/// The files one execution may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileScope {
    namespace: String,
    /// This execution first, then those that started it.
    executions: Vec<ExecutionRef>,
}

impl FileScope {
    /// The scope of execution `execution_id` of flow `namespace`.`flow_id`.
    pub fn new(namespace: &str, flow_id: &str, execution_id: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            executions: vec![ExecutionRef {
                namespace: namespace.to_owned(),
                flow_id: flow_id.to_owned(),
                execution_id: execution_id.to_owned(),
            }],
        }
    }

    /// Also grants the files of `execution` (one that started this one).
    #[must_use]
    pub fn with_execution(mut self, execution: ExecutionRef) -> Self {
        if !self.executions.contains(&execution) {
            self.executions.push(execution);
        }
        self
    }

    /// The scope described by rendering variables built by the engine: `flow.namespace`,
    /// `flow.id`, `execution.id`, and `trigger.{namespace, flowId, executionId}` plus
    /// `trigger.ancestors` for executions started by another one. `None` without them.
    pub fn from_vars(vars: &Map<String, Value>) -> Option<Self> {
        let flow = vars.get("flow")?;
        let namespace = flow.get("namespace")?.as_str()?;
        let flow_id = flow.get("id")?.as_str()?;
        let execution_id = vars.get("execution")?.get("id")?.as_str()?;
        let mut scope = Self::new(namespace, flow_id, execution_id);
        if let Some(trigger) = vars.get("trigger") {
            if let Some(parent) = ExecutionRef::from_json(trigger) {
                scope = scope.with_execution(parent);
            }
            for ancestor in trigger
                .get("ancestors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(a) = ExecutionRef::from_json(ancestor) {
                    scope = scope.with_execution(a);
                }
            }
        }
        Some(scope)
    }

    /// The namespace of the execution.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether `key` may be read.
    pub fn allows(&self, key: &StorageKey) -> bool {
        if key.namespace() == Some(self.namespace.as_str()) {
            return true;
        }
        self.executions
            .iter()
            .flat_map(ExecutionRef::folders)
            .any(|folder| key.is_under(&folder))
    }

    /// Parses `uri` and checks it may be read.
    pub fn check_uri(&self, uri: &str) -> Result<StorageKey, AccessError> {
        let key = StorageKey::parse_uri(uri.trim())?;
        if self.allows(&key) {
            Ok(key)
        } else {
            Err(AccessError::Refused {
                uri: uri.trim().to_owned(),
                namespace: self.namespace.clone(),
            })
        }
    }
}

/// [`FileScope::check_uri`] when there is a scope, [`AccessError::NoScope`] otherwise.
pub fn check_uri(scope: Option<&FileScope>, uri: &str) -> Result<StorageKey, AccessError> {
    match scope {
        Some(scope) => scope.check_uri(uri),
        None => Err(AccessError::NoScope {
            uri: uri.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn own_namespace_and_starting_executions_only() {
        let scope = FileScope::from_vars(&vars(json!({
            "flow": {"namespace": "team.b", "id": "child"},
            "execution": {"id": "C"},
            "trigger": {
                "namespace": "team.a", "flowId": "parent", "executionId": "P",
                "ancestors": [{"namespace": "root.ns", "flowId": "root", "executionId": "R"}],
            },
        })))
        .expect("scope");
        for ok in [
            "kestra:///team.b/child/executions/C/tasks/t/r/out.txt",
            "kestra:///team.b/other/executions/Z/tasks/t/r/out.txt",
            "kestra:///team.a/parent/executions/P/tasks/t/r/out.txt",
            "kestra:///root.ns/root/executions/R/inputs/f/data.csv",
            "kestra:///team/a/parent/executions/P/tasks/t/r/old.txt",
            "kestra:///team/b/child/executions/C/tasks/t/r/old.txt",
        ] {
            assert!(scope.check_uri(ok).is_ok(), "{ok} should be readable");
        }
        for refused in [
            "kestra:///team.a/parent/executions/Q/tasks/t/r/out.txt",
            "kestra:///team.a/other/executions/P/tasks/t/r/out.txt",
            "kestra:///team/b/other/executions/Z/tasks/t/r/old.txt",
            "kestra:///team/team.b/x",
            "kestra:///_executions/P/1.json",
            "kestra:///team.bb/child/executions/C/x",
        ] {
            let err = scope.check_uri(refused).expect_err(refused).to_string();
            assert!(err.contains("refused") && err.contains("team.b"), "{err}");
        }
        assert!(check_uri(None, "kestra:///team.b/x").is_err());
    }
}
