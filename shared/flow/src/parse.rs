//! From YAML text to a validated [`Flow`], collecting every problem on the way.
//!
//! Parsing runs in three steps: load the YAML into spanned [`Node`]s, apply plugin
//! defaults to the raw tree (as Kestra does, before typing), then read the typed model
//! through [`crate::de`]. Plugins (tasks, triggers, conditions) are parsed by the registry
//! one at a time, so an unknown type or property in one task is reported without hiding
//! the problems of the others. Finally the model-level rules of [`crate::validate`] run.
//!
//! The registry and the diagnostics of the parse in progress live in a thread-local
//! context: serde's `Deserialize` has no way to carry them, and each parse is synchronous.

use std::cell::RefCell;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::de::{from_node, with_extra_field_names};
use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::model::flow::Flow;
use crate::model::plugin_defaults::{PluginDefault, apply_plugin_defaults};
use crate::plugin::{
    Category, Condition, PluginInfo, Registry, Spec, TASK_COMMON_FIELDS, TRIGGER_COMMON_FIELDS,
    Task, TaskCommon, TaskKind, Trigger, TriggerCommon,
};
use crate::yaml::{Node, Value, load_documents};

pub(crate) const TASK_MARKER: &str = "$kite::Task";
pub(crate) const TRIGGER_MARKER: &str = "$kite::Trigger";
pub(crate) const CONDITION_MARKER: &str = "$kite::Condition";
pub(crate) const NODE_MARKER: &str = "$kite::Node";

/// The outcome of parsing one YAML document.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The flow, when it has no error.
    pub flow: Option<Flow>,
    /// Errors, warnings and infos, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Whether the flow is valid (no error).
    pub fn is_valid(&self) -> bool {
        self.flow.is_some()
    }

    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The flow, or every error joined.
    pub fn into_result(self) -> Result<Flow, Vec<Diagnostic>> {
        match self.flow {
            Some(f) => Ok(f),
            None => Err(self
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect()),
        }
    }
}

/// Parses and validates a single-document flow with the core registry.
pub fn parse_flow(source: &str) -> Parsed {
    parse_flow_with(source, Registry::global())
}

/// Parses and validates every document of `source` (separated by `---`).
pub fn parse_flows(source: &str) -> Vec<Parsed> {
    match load_documents(source) {
        Ok(docs) if docs.is_empty() => vec![empty_source()],
        Ok(docs) => docs
            .iter()
            .map(|d| parse_document(d, Registry::global()))
            .collect(),
        Err(e) => vec![Parsed {
            flow: None,
            diagnostics: vec![e],
        }],
    }
}

/// Parses and validates a single-document flow with `registry`.
pub fn parse_flow_with(source: &str, registry: &Registry) -> Parsed {
    match load_documents(source) {
        Ok(docs) => match docs.as_slice() {
            [] => empty_source(),
            [one] => parse_document(one, registry),
            [_, second, ..] => Parsed {
                flow: None,
                diagnostics: vec![Diagnostic::error(
                    second.loc,
                    "",
                    "this file holds several YAML documents (`---`); a flow file holds one flow",
                )],
            },
        },
        Err(e) => Parsed {
            flow: None,
            diagnostics: vec![e],
        },
    }
}

fn empty_source() -> Parsed {
    Parsed {
        flow: None,
        diagnostics: vec![Diagnostic::error(
            Location::new(1, 1),
            "",
            "the file is empty: a flow needs at least `id`, `namespace` and `tasks`",
        )],
    }
}

struct Ctx {
    registry: Registry,
    diagnostics: Vec<Diagnostic>,
    tasks: Vec<Option<Task>>,
    triggers: Vec<Option<Trigger>>,
    conditions: Vec<Option<Condition>>,
    nodes: Vec<Option<Node>>,
}

thread_local! {
    static CTX: RefCell<Vec<Ctx>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a parse context for `registry`; returns its result and the diagnostics.
pub(crate) fn with_context<T>(registry: &Registry, f: impl FnOnce() -> T) -> (T, Vec<Diagnostic>) {
    CTX.with(|c| {
        c.borrow_mut().push(Ctx {
            registry: registry.clone(),
            diagnostics: Vec::new(),
            tasks: Vec::new(),
            triggers: Vec::new(),
            conditions: Vec::new(),
            nodes: Vec::new(),
        })
    });
    let out = f();
    let ctx = CTX.with(|c| c.borrow_mut().pop());
    (out, ctx.map(|c| c.diagnostics).unwrap_or_default())
}

fn with_ctx<T>(f: impl FnOnce(&mut Ctx) -> T) -> Option<T> {
    CTX.with(|c| c.borrow_mut().last_mut().map(f))
}

fn push(d: Diagnostic) {
    with_ctx(|c| c.diagnostics.push(d));
}

fn lookup(name: &str) -> Option<PluginInfo> {
    with_ctx(|c| c.registry.get(name).copied()).flatten()
}

fn suggestion(name: &str, category: Category) -> String {
    with_ctx(|c| {
        let names: Vec<&str> = c.registry.names(category).collect();
        did_you_mean(name, names)
    })
    .unwrap_or_default()
}

fn parse_document(doc: &Node, registry: &Registry) -> Parsed {
    let (flow, mut diagnostics) = with_context(registry, || read_flow(doc));
    let mut flow = flow;
    if let Some(f) = &flow {
        let more = crate::validate::validate(f, doc, registry);
        diagnostics.extend(more);
    }
    diagnostics.sort_by_key(|d| (d.loc.line == 0, d.loc, d.severity));
    diagnostics.dedup();
    if diagnostics.iter().any(Diagnostic::is_error) {
        flow = None;
    }
    Parsed { flow, diagnostics }
}

fn read_flow(doc: &Node) -> Option<Flow> {
    let Value::Map(_) = &doc.value else {
        push(Diagnostic::error(
            doc.loc,
            "",
            format!(
                "a flow must be a map with `id`, `namespace` and `tasks`, found {}",
                doc.kind()
            ),
        ));
        return None;
    };
    let mut defaults: Vec<PluginDefault> = Vec::new();
    for key in ["pluginDefaults", "taskDefaults"] {
        if let Some(node) = doc.get(key)
            && !node.is_null()
        {
            match from_node::<Vec<PluginDefault>>(node, key) {
                Ok(d) => defaults.extend(d),
                Err(e) => push(e),
            }
        }
    }
    let resolved = |name: &str| lookup(name).map(|i| i.type_name);
    let doc = apply_plugin_defaults(doc, &defaults, &resolved);
    match from_node::<Flow>(&doc, "") {
        Ok(flow) => Some(flow),
        Err(e) => {
            push(e);
            None
        }
    }
}

/// Which plugin category a marker names.
pub(crate) fn plugin_marker(name: &str) -> Option<Category> {
    match name {
        TASK_MARKER => Some(Category::Task),
        TRIGGER_MARKER => Some(Category::Trigger),
        CONDITION_MARKER => Some(Category::Condition),
        _ => None,
    }
}

/// Parses the plugin at `node` and stores it; returns its slot.
pub(crate) fn parse_plugin_into_slot(category: Category, node: &Node, path: &str) -> u64 {
    match category {
        Category::Task => {
            let t = parse_task(node, path);
            with_ctx(|c| {
                c.tasks.push(Some(t));
                c.tasks.len() as u64 - 1
            })
            .unwrap_or(u64::MAX)
        }
        Category::Trigger => {
            let t = parse_trigger(node, path);
            with_ctx(|c| {
                c.triggers.push(Some(t));
                c.triggers.len() as u64 - 1
            })
            .unwrap_or(u64::MAX)
        }
        Category::Condition => {
            let t = parse_condition(node, path);
            with_ctx(|c| {
                c.conditions.push(Some(t));
                c.conditions.len() as u64 - 1
            })
            .unwrap_or(u64::MAX)
        }
    }
}

/// Stores a raw node; returns its slot.
pub(crate) fn stash_node(node: Node) -> u64 {
    with_ctx(|c| {
        c.nodes.push(Some(node));
        c.nodes.len() as u64 - 1
    })
    .unwrap_or(u64::MAX)
}

/// A placeholder spec for a plugin that failed to parse (its errors are already reported).
#[derive(Debug)]
pub struct Unparsed;

impl Spec for Unparsed {
    fn branches(&self) -> Vec<crate::plugin::Branch<'_>> {
        Vec::new()
    }
    fn validate(&self, _v: &mut crate::validate::Validator<'_>) {}
    fn conditions(&self) -> Vec<&Condition> {
        Vec::new()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(Default::default())
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

struct Header<'a> {
    info: Option<PluginInfo>,
    own: Node,
    common: Node,
    type_node: Option<&'a Node>,
}

/// Splits a plugin map into its common and own properties and resolves its type.
fn header<'a>(
    node: &'a Node,
    path: &str,
    category: Category,
    common_fields: &[&str],
) -> Option<Header<'a>> {
    let what = match category {
        Category::Task => "task",
        Category::Trigger => "trigger",
        Category::Condition => "condition",
    };
    let Some(entries) = node.as_map() else {
        push(Diagnostic::error(
            node.loc,
            path,
            format!(
                "`{path}` must be a {what}: a map with {}`type`, found {}",
                if category == Category::Condition {
                    ""
                } else {
                    "`id` and "
                },
                node.kind()
            ),
        ));
        return None;
    };
    let type_node = node.get("type");
    let info = match type_node.map(|t| (t, t.scalar_text().unwrap_or_default())) {
        None => {
            push(Diagnostic::error(
                node.loc,
                path,
                format!(
                    "`{path}`: missing required property `type`: every {what} needs a `type` such as io.kestra.plugin.core.log.Log"
                ),
            ));
            None
        }
        Some((t, name)) => match lookup(&name) {
            Some(info) if info.category == category => {
                if info.type_name != name {
                    push(Diagnostic::info(
                        t.loc,
                        format!("{path}.type"),
                        format!("{name} is replaced by {}", info.type_name),
                    ));
                }
                if let Some(note) = info.deprecated {
                    push(Diagnostic::warning(
                        t.loc,
                        path,
                        format!("{path} is deprecated: {} {note}", info.type_name),
                    ));
                }
                Some(info)
            }
            Some(info) => {
                push(Diagnostic::error(
                    t.loc,
                    format!("{path}.type"),
                    format!(
                        "Invalid type: {name} is a {:?}, not a {what}",
                        info.category
                    ),
                ));
                None
            }
            None => {
                push(Diagnostic::error(
                    t.loc,
                    format!("{path}.type"),
                    format!(
                        "Invalid type: {name}: no {what} type has this name.{}",
                        suggestion(&name, category)
                    ),
                ));
                None
            }
        },
    };
    let (common, own): (Vec<_>, Vec<_>) = entries.iter().cloned().partition(|(k, _)| {
        let k = k.scalar_text().unwrap_or_default();
        common_fields.contains(&k.as_str())
    });
    let strip = |v: Vec<(Node, Node)>| -> Vec<(Node, Node)> {
        v.into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), Some("id") | Some("type")))
            .collect()
    };
    Some(Header {
        info,
        own: Node::new(node.loc, Value::Map(own)),
        common: Node::new(node.loc, Value::Map(strip(common))),
        type_node,
    })
}

fn read_id(node: &Node, path: &str, what: &str) -> String {
    match node.get("id") {
        Some(id) => match &id.value {
            Value::Str(_) | Value::Int(_) => id.scalar_text().unwrap_or_default(),
            _ => {
                push(Diagnostic::error(
                    id.loc,
                    format!("{path}.id"),
                    format!("`{path}.id` must be a string, found {}", id.kind()),
                ));
                String::new()
            }
        },
        None => {
            push(Diagnostic::error(
                node.loc,
                format!("{path}.id"),
                format!(
                    "`{path}.id`: missing required property `id`: every {what} needs a unique id"
                ),
            ));
            String::new()
        }
    }
}

fn parse_own(
    info: &PluginInfo,
    own: &Node,
    path: &str,
    id: &str,
    common_fields: &'static [&'static str],
) -> Option<Arc<dyn Spec>> {
    match with_extra_field_names(common_fields, || (info.parse)(own, path, id)) {
        Ok(spec) => Some(spec),
        Err(e) => {
            push(e.or_path(path));
            None
        }
    }
}

/// Parses one task (errors are reported to the context; a placeholder is returned).
pub(crate) fn parse_task(node: &Node, path: &str) -> Task {
    let id = if node.as_map().is_some() {
        read_id(node, path, "task")
    } else {
        String::new()
    };
    let mut task = Task {
        id,
        type_name: "",
        written_type: String::new(),
        kind: TaskKind::Runnable,
        common: TaskCommon::default(),
        spec: Arc::new(Unparsed),
        loc: node.loc,
        path: path.to_owned(),
    };
    let Some(h) = header(node, path, Category::Task, TASK_COMMON_FIELDS) else {
        return task;
    };
    task.written_type = h.type_node.and_then(Node::scalar_text).unwrap_or_default();
    match from_node::<TaskCommon>(&h.common, path) {
        Ok(c) => task.common = c,
        Err(e) => push(e),
    }
    if let Some(info) = h.info {
        task.type_name = info.type_name;
        task.kind = info.kind;
        if let Some(spec) = parse_own(&info, &h.own, path, &task.id, TASK_COMMON_FIELDS) {
            task.spec = spec;
        }
    }
    task
}

fn parse_trigger(node: &Node, path: &str) -> Trigger {
    let id = if node.as_map().is_some() {
        read_id(node, path, "trigger")
    } else {
        String::new()
    };
    let mut trigger = Trigger {
        id,
        type_name: "",
        common: TriggerCommon::default(),
        spec: Arc::new(Unparsed),
        loc: node.loc,
        path: path.to_owned(),
    };
    let Some(h) = header(node, path, Category::Trigger, TRIGGER_COMMON_FIELDS) else {
        return trigger;
    };
    match from_node::<TriggerCommon>(&h.common, path) {
        Ok(c) => trigger.common = c,
        Err(e) => push(e),
    }
    if let Some(info) = h.info {
        trigger.type_name = info.type_name;
        if let Some(spec) = parse_own(&info, &h.own, path, &trigger.id, TRIGGER_COMMON_FIELDS) {
            trigger.spec = spec;
        }
    }
    trigger
}

fn parse_condition(node: &Node, path: &str) -> Condition {
    let mut condition = Condition {
        type_name: "",
        spec: Arc::new(Unparsed),
        loc: node.loc,
        path: path.to_owned(),
    };
    let Some(h) = header(node, path, Category::Condition, &["type"]) else {
        return condition;
    };
    if let Some(info) = h.info {
        condition.type_name = info.type_name;
        if let Some(spec) = parse_own(&info, &h.own, path, "", &["type"]) {
            condition.spec = spec;
        }
    }
    condition
}

struct SlotVisitor;

impl Visitor<'_> for SlotVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a plugin read from flow YAML")
    }

    fn visit_u64<E>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
}

fn outside<E: de::Error>(what: &str) -> E {
    E::custom(format!(
        "{what} can only be read from flow YAML (parse the flow source instead)"
    ))
}

impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let slot = d.deserialize_newtype_struct(TASK_MARKER, SlotVisitor)?;
        with_ctx(|c| c.tasks.get_mut(slot as usize).and_then(Option::take))
            .flatten()
            .ok_or_else(|| outside("a task"))
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let slot = d.deserialize_newtype_struct(TRIGGER_MARKER, SlotVisitor)?;
        with_ctx(|c| c.triggers.get_mut(slot as usize).and_then(Option::take))
            .flatten()
            .ok_or_else(|| outside("a trigger"))
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let slot = d.deserialize_newtype_struct(CONDITION_MARKER, SlotVisitor)?;
        with_ctx(|c| c.conditions.get_mut(slot as usize).and_then(Option::take))
            .flatten()
            .ok_or_else(|| outside("a condition"))
    }
}

/// A raw YAML node kept as-is with its position (for properties checked later).
#[derive(Debug, Clone, PartialEq)]
pub struct RawNode(pub Node);

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let slot = d.deserialize_newtype_struct(NODE_MARKER, SlotVisitor)?;
        with_ctx(|c| c.nodes.get_mut(slot as usize).and_then(Option::take))
            .flatten()
            .map(RawNode)
            .ok_or_else(|| outside("a raw node"))
    }
}

/// Deserializes `null` as the default value (for lists written `tasks: null` or `tasks:`).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
