//! Plugins: tasks, triggers and conditions, identified by Kestra's full type names.
//!
//! Each plugin type is a plain serde struct in its own file implementing [`PluginType`].
//! The [`Registry`] maps type names and their legacy aliases to those types, so new task
//! families (AWS, scripts) are added by registering more types, without touching the parser.
//! A parsed plugin is a [`Task`], [`Trigger`] or [`Condition`]: the common properties plus
//! a boxed [`Spec`] that engines downcast to the concrete type they know how to run.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::diagnostic::Location;
use crate::duration::IsoDuration;
use crate::model::label::Labels;
use crate::model::retry::Retry;
use crate::property::Dyn;
use crate::validate::Validator;

/// What a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Category {
    /// A task.
    Task,
    /// A trigger.
    Trigger,
    /// A condition (in triggers, listeners and preconditions).
    Condition,
}

/// How a task is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TaskKind {
    /// Decided by the executor: creates child task runs (Sequential, If, ForEach...).
    Flowable,
    /// Run by a worker (Log, Return, HTTP, scripts...).
    Runnable,
    /// Creates other executions (Subflow, ForEachItem).
    Executable,
}

/// A named list of child tasks of a flowable task (`tasks`, `then`, `cases.X`, `errors`...).
#[derive(Debug, Clone, Copy)]
pub struct Branch<'a> {
    /// The property holding the list.
    pub name: &'static str,
    /// For `cases`-like maps, the key.
    pub key: Option<&'a str>,
    /// The tasks.
    pub tasks: &'a [Task],
}

impl<'a> Branch<'a> {
    /// A branch named `name`.
    pub fn new(name: &'static str, tasks: &'a [Task]) -> Self {
        Self {
            name,
            key: None,
            tasks,
        }
    }
}

/// Implemented by every plugin struct (one file per type).
pub trait PluginType:
    Serialize + DeserializeOwned + JsonSchema + Debug + Send + Sync + 'static
{
    /// The full type name, e.g. `io.kestra.plugin.core.log.Log`.
    const TYPE: &'static str;
    /// Legacy names accepted with an info.
    const ALIASES: &'static [&'static str] = &[];
    /// What the plugin is.
    const CATEGORY: Category = Category::Task;
    /// How a task of this type runs (tasks only).
    const KIND: TaskKind = TaskKind::Runnable;
    /// Whether the type is deprecated (accepted with a warning).
    const DEPRECATED: Option<&'static str> = None;

    /// Child task lists (flowable tasks).
    fn branches(&self) -> Vec<Branch<'_>> {
        Vec::new()
    }

    /// Type-specific validation rules.
    fn validate(&self, _v: &mut Validator<'_>) {}

    /// Nested conditions (Not, Or, MultipleCondition), validated with their parent.
    fn conditions(&self) -> Vec<&Condition> {
        Vec::new()
    }

    /// Called once parsed, with the task's id and path: lets a type derive hidden child
    /// tasks from its properties (ForEachItem's `<id>_split`, `_items`, `_merge`).
    fn expand(&mut self, _id: &str, _path: &str) {}
}

/// The type-erased view of a parsed plugin's own properties.
pub trait Spec: Any + Debug + Send + Sync {
    /// Child task lists.
    fn branches(&self) -> Vec<Branch<'_>>;
    /// Type-specific validation.
    fn validate(&self, v: &mut Validator<'_>);
    /// Nested conditions.
    fn conditions(&self) -> Vec<&Condition>;
    /// The properties as JSON (for the API and `kite flow schema`).
    fn to_json(&self) -> serde_json::Value;
    /// For downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
}

impl<T: PluginType> Spec for T {
    fn branches(&self) -> Vec<Branch<'_>> {
        PluginType::branches(self)
    }
    fn validate(&self, v: &mut Validator<'_>) {
        PluginType::validate(self, v)
    }
    fn conditions(&self) -> Vec<&Condition> {
        PluginType::conditions(self)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Properties every task accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskCommon {
    /// Markdown description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Retry policy for failed attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Maximum duration of one attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dyn<IsoDuration>>,
    /// A disabled task is removed from the flow.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// A failure becomes a WARNING and the flow goes on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_failure: bool,
    /// A WARNING becomes a SUCCESS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_warning: bool,
    /// Skip the task (SKIPPED) unless this renders truthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_if: Option<String>,
    /// Minimum level of the logs kept for this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Legacy name of `logLevel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_log_level: Option<LogLevel>,
    /// Write logs to a file in internal storage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_to_file: bool,
    /// Worker group (Enterprise Edition in Kestra; rejected by validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<WorkerGroup>,
    /// Plugin version pin (accepted, ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Names of [`TaskCommon`] properties plus `id` and `type`.
pub const TASK_COMMON_FIELDS: &[&str] = &[
    "id",
    "type",
    "description",
    "retry",
    "timeout",
    "disabled",
    "allowFailure",
    "allowWarning",
    "runIf",
    "logLevel",
    "minLogLevel",
    "logToFile",
    "workerGroup",
    "version",
];

/// Log levels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Finest.
    Trace,
    /// Debugging.
    Debug,
    /// Default.
    Info,
    /// Warnings.
    Warn,
    /// Errors.
    Error,
}

/// `workerGroup: {key, fallback}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerGroup {
    /// Worker group key.
    pub key: String,
    /// What to do without a live worker of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// Properties every trigger accepts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerCommon {
    /// Markdown description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Conditions that must all hold for the trigger to fire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// A disabled trigger never fires.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Labels added to executions it creates.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Disable the trigger after an execution ends in one of these states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_after: Vec<String>,
    /// Minimum log level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Legacy name of `logLevel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_log_level: Option<LogLevel>,
    /// Write logs to a file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_to_file: bool,
    /// Worker group (Enterprise Edition in Kestra).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<WorkerGroup>,
    /// Fail the trigger on evaluation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_trigger_error: Option<bool>,
}

/// Names of [`TriggerCommon`] properties plus `id` and `type`.
pub const TRIGGER_COMMON_FIELDS: &[&str] = &[
    "id",
    "type",
    "description",
    "conditions",
    "disabled",
    "labels",
    "stopAfter",
    "logLevel",
    "minLogLevel",
    "logToFile",
    "workerGroup",
    "failOnTriggerError",
];

/// A parsed task.
#[derive(Debug, Clone)]
pub struct Task {
    /// Unique id in the flow.
    pub id: String,
    /// The canonical type name (aliases resolved).
    pub type_name: &'static str,
    /// The type as written (an alias, maybe).
    pub written_type: String,
    /// How it runs.
    pub kind: TaskKind,
    /// Common properties.
    pub common: TaskCommon,
    /// Type-specific properties.
    pub spec: Arc<dyn Spec>,
    /// Where the task starts in the source.
    pub loc: Location,
    /// Its property path, e.g. `tasks[2].then[0]`.
    pub path: String,
}

impl Task {
    /// The concrete properties, if the task is of type `T`.
    pub fn spec<T: PluginType>(&self) -> Option<&T> {
        self.spec.as_any().downcast_ref::<T>()
    }

    /// Child task lists.
    pub fn branches(&self) -> Vec<Branch<'_>> {
        self.spec.branches()
    }

    /// Whether the task is flowable.
    pub fn is_flowable(&self) -> bool {
        self.kind == TaskKind::Flowable
    }

    /// The task as Kestra-shaped JSON (`id`, `type`, common and own properties).
    pub fn to_json(&self) -> serde_json::Value {
        plugin_json(&self.id, self.type_name, &self.common, self.spec.as_ref())
    }
}

/// A parsed trigger.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// Unique id in the flow.
    pub id: String,
    /// Canonical type name.
    pub type_name: &'static str,
    /// Common properties.
    pub common: TriggerCommon,
    /// Type-specific properties.
    pub spec: Arc<dyn Spec>,
    /// Source position.
    pub loc: Location,
    /// Property path.
    pub path: String,
}

impl Trigger {
    /// The concrete properties, if the trigger is of type `T`.
    pub fn spec<T: PluginType>(&self) -> Option<&T> {
        self.spec.as_any().downcast_ref::<T>()
    }

    /// Kestra-shaped JSON.
    pub fn to_json(&self) -> serde_json::Value {
        plugin_json(&self.id, self.type_name, &self.common, self.spec.as_ref())
    }
}

/// A parsed condition.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Canonical type name.
    pub type_name: &'static str,
    /// Type-specific properties.
    pub spec: Arc<dyn Spec>,
    /// Source position.
    pub loc: Location,
    /// Property path.
    pub path: String,
}

impl Condition {
    /// The concrete properties, if the condition is of type `T`.
    pub fn spec<T: PluginType>(&self) -> Option<&T> {
        self.spec.as_any().downcast_ref::<T>()
    }
}

fn plugin_json(
    id: &str,
    type_name: &str,
    common: &impl Serialize,
    spec: &dyn Spec,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if !id.is_empty() {
        out.insert("id".into(), id.into());
    }
    out.insert("type".into(), type_name.into());
    if let Ok(serde_json::Value::Object(c)) = serde_json::to_value(common) {
        out.extend(c);
    }
    if let serde_json::Value::Object(s) = spec.to_json() {
        out.extend(s);
    }
    serde_json::Value::Object(out)
}

impl Serialize for Task {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = self.spec.to_json();
        if let serde_json::Value::Object(m) = &mut v {
            m.shift_insert(0, "type".into(), self.type_name.into());
        }
        v.serialize(s)
    }
}

/// Parses a plugin's own properties: `(node, path, id)`.
pub type ParseFn = fn(&crate::yaml::Node, &str, &str) -> Result<Arc<dyn Spec>, crate::Diagnostic>;

/// How a registered type is parsed and described.
#[derive(Debug, Clone, Copy)]
pub struct PluginInfo {
    /// Canonical name.
    pub type_name: &'static str,
    /// Legacy names.
    pub aliases: &'static [&'static str],
    /// Task, trigger or condition.
    pub category: Category,
    /// Task kind.
    pub kind: TaskKind,
    /// Deprecation note.
    pub deprecated: Option<&'static str>,
    /// Parses the type-specific properties.
    pub parse: ParseFn,
    /// JSON Schema of the type-specific properties.
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

fn parse_spec<T: PluginType>(
    node: &crate::yaml::Node,
    path: &str,
    id: &str,
) -> Result<Arc<dyn Spec>, crate::Diagnostic> {
    crate::de::from_node::<T>(node, path).map(|mut t| {
        t.expand(id, path);
        Arc::new(t) as Arc<dyn Spec>
    })
}

fn schema_of<T: PluginType>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    T::json_schema(g)
}

/// The set of known plugin types.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_name: HashMap<&'static str, PluginInfo>,
    canonical: Vec<&'static str>,
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The registry with every core type (tasks, triggers, conditions).
    pub fn core() -> Self {
        let mut r = Self::empty();
        crate::tasks::register(&mut r);
        crate::triggers::register(&mut r);
        crate::conditions::register(&mut r);
        r
    }

    /// The process-wide core registry.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::core)
    }

    /// Registers `T` under its name and aliases.
    pub fn register<T: PluginType>(&mut self) -> &mut Self {
        let info = PluginInfo {
            type_name: T::TYPE,
            aliases: T::ALIASES,
            category: T::CATEGORY,
            kind: T::KIND,
            deprecated: T::DEPRECATED,
            parse: parse_spec::<T>,
            schema: schema_of::<T>,
        };
        self.by_name.insert(T::TYPE, info);
        for a in T::ALIASES {
            self.by_name.insert(a, info);
        }
        self.canonical.push(T::TYPE);
        self
    }

    /// Looks a type up by name or alias.
    pub fn get(&self, name: &str) -> Option<&PluginInfo> {
        self.by_name.get(name)
    }

    /// Every canonical type of `category`, in registration order.
    pub fn types(&self, category: Category) -> impl Iterator<Item = &PluginInfo> {
        self.canonical
            .iter()
            .filter_map(|n| self.by_name.get(n))
            .filter(move |i| i.category == category)
    }

    /// Every accepted name (canonical and aliases) of `category`.
    pub fn names(&self, category: Category) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name
            .iter()
            .filter(move |(_, i)| i.category == category)
            .map(|(n, _)| *n)
    }
}
