//! Flow-level validation rules, as Kestra's validators apply them after parsing.
//!
//! Rules that concern one plugin type live with that type (its `validate`); this module
//! runs them and checks what spans the whole flow: id and namespace patterns, unique ids
//! across tasks, errors, finally and triggers, inputs, labels, retry policies, worker
//! groups. Every diagnostic carries the location of the node at fault.

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::{Diagnostic, Location};
use crate::model::flow::Flow;
use crate::plugin::PluginType;
use crate::plugin::{Condition, Registry, Task, Trigger};
use crate::yaml::Node;

/// Collects diagnostics while walking a flow; handed to each plugin's `validate`.
#[derive(Debug)]
pub struct Validator<'a> {
    /// The flow being validated.
    pub flow: &'a Flow,
    /// The registry the flow was parsed with.
    pub registry: &'a Registry,
    task: Option<&'a Task>,
    /// The trigger whose rules are running, with its source node.
    trigger: Option<(&'a Trigger, Option<&'a Node>)>,
    /// The condition whose rules are running.
    condition: Option<&'a Condition>,
    /// The flow's source tree (for property locations).
    doc: Option<&'a Node>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    /// The task whose rules are running.
    pub fn task(&self) -> Option<&'a Task> {
        self.task
    }

    /// Reports an error about the current task (prefixed with its id, as Kestra does).
    pub fn task_error(&mut self, message: impl Into<String>) {
        let message = message.into();
        match self.task {
            Some(t) => self.diagnostics.push(Diagnostic::error(
                t.loc,
                t.path.clone(),
                format!("{}: {message}", t.id),
            )),
            None => self.error(Location::UNKNOWN, "", message),
        }
    }

    /// Where `property` of the current task is written (the task itself when the property
    /// is not in the source, e.g. set by `pluginDefaults`).
    fn task_property_loc(&self, t: &Task, property: &str) -> Location {
        self.doc
            .and_then(|d| node_at(d, &t.path))
            .and_then(|n| n.get_entry(property))
            .map(|(k, _)| k.loc)
            .unwrap_or(t.loc)
    }

    /// Reports an error about `property` of the current task, located at that property;
    /// the path is `<task path>.property` and the message starts with it.
    pub fn task_property_error(&mut self, property: &str, message: impl Into<String>) {
        self.task_property(property, message.into(), Diagnostic::error);
    }

    /// Reports a warning about `property` of the current task (accepted for compatibility
    /// but without effect), located at that property.
    pub fn task_property_warning(&mut self, property: &str, message: impl Into<String>) {
        self.task_property(property, message.into(), Diagnostic::warning);
    }

    fn task_property(
        &mut self,
        property: &str,
        message: String,
        make: fn(Location, String, String) -> Diagnostic,
    ) {
        match self.task {
            Some(t) => {
                let loc = self.task_property_loc(t, property);
                let path = format!("{}.{property}", t.path);
                let message = format!("{path}: {message}");
                self.diagnostics.push(make(loc, path, message));
            }
            None => self.error(Location::UNKNOWN, property, message),
        }
    }

    /// The trigger whose rules are running.
    pub fn trigger(&self) -> Option<&'a Trigger> {
        self.trigger.map(|(t, _)| t)
    }

    /// Reports an error about `property` of the current trigger, located at that property
    /// in the source (at the trigger when it is not written there); the path is
    /// `triggers[i].property` and the message starts with it.
    pub fn trigger_error(&mut self, property: &str, message: impl Into<String>) {
        let message = message.into();
        match self.trigger {
            Some((t, node)) => {
                let loc = node
                    .and_then(|n| n.get_entry(property))
                    .map(|(k, _)| k.loc)
                    .unwrap_or(t.loc);
                let path = format!("{}.{property}", t.path);
                let message = format!("{path}: {message}");
                self.diagnostics.push(Diagnostic::error(loc, path, message));
            }
            None => self.error(Location::UNKNOWN, property, message),
        }
    }

    /// Reports an error about the current condition, at the condition.
    pub fn condition_error(&mut self, message: impl Into<String>) {
        let message = message.into();
        match self.condition {
            Some(c) => {
                let message = format!("{}: {message}", c.path);
                self.diagnostics
                    .push(Diagnostic::error(c.loc, c.path.clone(), message));
            }
            None => self.error(Location::UNKNOWN, "", message),
        }
    }

    /// Runs the rules of condition `c` and of the conditions nested in it.
    pub fn check_condition(&mut self, c: &'a Condition) {
        let saved = self.condition.replace(c);
        c.spec.validate(self);
        self.condition = saved;
        for nested in c.spec.conditions() {
            self.check_condition(nested);
        }
    }

    /// Reports a warning about `property` of the current trigger (accepted for
    /// compatibility but without effect), located at that property.
    pub fn trigger_warning(&mut self, property: &str, message: impl Into<String>) {
        let message = message.into();
        if let Some((t, node)) = self.trigger {
            let loc = node
                .and_then(|n| n.get_entry(property))
                .map(|(k, _)| k.loc)
                .unwrap_or(t.loc);
            let path = format!("{}.{property}", t.path);
            let message = format!("{path}: {message}");
            self.diagnostics
                .push(Diagnostic::warning(loc, path, message));
        }
    }

    /// Reports an error at `loc`.
    pub fn error(&mut self, loc: Location, path: impl Into<String>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(loc, path, message));
    }
}

/// Runs every rule on a parsed flow; `doc` is its source tree (for locations).
pub fn validate(flow: &Flow, doc: &Node, registry: &Registry) -> Vec<Diagnostic> {
    let mut v = Validator {
        flow,
        registry,
        task: None,
        trigger: None,
        condition: None,
        doc: Some(doc),
        diagnostics: Vec::new(),
    };
    let loc_of = |key: &str| doc.get_entry(key).map(|(k, _)| k.loc).unwrap_or(doc.loc);
    check_id(&mut v, "id", &flow.id, loc_of("id"), ID_RULE);
    check_id(
        &mut v,
        "namespace",
        &flow.namespace,
        loc_of("namespace"),
        NAMESPACE_RULE,
    );
    if flow.tasks.is_empty() {
        v.error(
            loc_of("tasks"),
            "tasks",
            "`tasks` must not be empty: a flow needs at least one task",
        );
    }
    for (i, l) in flow.listeners.iter().enumerate() {
        if l.tasks.is_empty() {
            let loc = doc
                .get("listeners")
                .and_then(|n| n.as_seq())
                .and_then(|s| s.get(i))
                .map(|n| n.loc)
                .unwrap_or(doc.loc);
            v.error(
                loc,
                format!("listeners[{i}].tasks"),
                format!("`listeners[{i}].tasks` must not be empty"),
            );
        }
    }
    for l in &flow.listeners {
        for c in &l.conditions {
            v.check_condition(c);
            if c.type_name == crate::conditions::multiple::MultipleCondition::TYPE {
                v.error(
                    c.loc,
                    c.path.clone(),
                    format!(
                        "{}: a MultipleCondition keeps a window across executions and only \
                         applies to Flow triggers, not to listeners",
                        c.path
                    ),
                );
            }
        }
    }
    if flow.tenant_id.is_some() {
        v.diagnostics.push(Diagnostic::warning(
            loc_of("tenantId"),
            "tenantId",
            "`tenantId` is ignored: Kite has one tenant per installation",
        ));
    }
    check_unique_ids(&mut v, doc);
    check_inputs(&mut v, doc);
    check_outputs(&mut v, doc);
    check_labels(&mut v, doc);
    if let Some(r) = &flow.retry {
        for p in r.problems() {
            v.error(loc_of("retry"), "retry", format!("retry: {p}"));
        }
    }
    for t in flow.all_tasks() {
        check_task(&mut v, t);
    }
    let trigger_nodes = doc.get("triggers").and_then(|n| n.as_seq()).unwrap_or(&[]);
    for (i, trig) in flow.triggers.iter().enumerate() {
        v.trigger = Some((trig, trigger_nodes.get(i)));
        trig.spec.validate(&mut v);
        if trig.common.worker_group.is_some() {
            v.trigger_error(
                "workerGroup",
                "Worker Group is an Enterprise Edition functionality",
            );
        }
        if trig.common.log_to_file {
            v.trigger_warning("logToFile", LOG_TO_FILE_IGNORED);
        }
        if trig.common.fail_on_trigger_error.is_some() {
            v.trigger_warning(
                "failOnTriggerError",
                "`failOnTriggerError` is ignored: an evaluation error is logged and the \
                 trigger evaluated again later, without creating a FAILED execution",
            );
        }
        v.trigger = None;
        for c in trig.spec.conditions() {
            v.check_condition(c);
        }
        for c in &trig.common.conditions {
            v.check_condition(c);
        }
    }
    v.diagnostics
}

/// The node at a property path such as `tasks[2].then[0]` (none when a segment does not
/// resolve, e.g. a map key holding a dot).
fn node_at<'n>(doc: &'n Node, path: &str) -> Option<&'n Node> {
    let mut node = doc;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, mut rest) = match segment.find('[') {
            Some(i) => segment.split_at(i),
            None => (segment, ""),
        };
        node = node.get(name)?;
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']')?;
            let index: usize = stripped[..end].parse().ok()?;
            node = node.as_seq()?.get(index)?;
            rest = &stripped[end + 1..];
        }
    }
    Some(node)
}

/// Why `logToFile` is only warned about.
const LOG_TO_FILE_IGNORED: &str =
    "`logToFile` is ignored: the logs are stored in the log store as usual";

struct IdRule {
    pattern: &'static str,
    max: usize,
    first: fn(char) -> bool,
    rest: fn(char) -> bool,
}

const ID_RULE: IdRule = IdRule {
    pattern: "^[a-zA-Z0-9][a-zA-Z0-9._-]*",
    max: 100,
    first: |c| c.is_ascii_alphanumeric(),
    rest: |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
};

const NAMESPACE_RULE: IdRule = IdRule {
    pattern: "^[a-z0-9][a-z0-9._-]*",
    max: 150,
    first: |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
    rest: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'),
};

const TASK_ID_RULE: IdRule = IdRule {
    pattern: "^[a-zA-Z0-9][a-zA-Z0-9_-]*",
    max: 100,
    first: |c| c.is_ascii_alphanumeric(),
    rest: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
};

fn id_problem(value: &str, rule: &IdRule) -> Option<String> {
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return Some("must not be empty".into());
    };
    if value.chars().count() > rule.max {
        return Some(format!("must be at most {} characters", rule.max));
    }
    if !(rule.first)(first) || !chars.all(rule.rest) {
        return Some(format!("must match the pattern `{}`", rule.pattern));
    }
    None
}

fn check_id(v: &mut Validator<'_>, field: &str, value: &str, loc: Location, rule: IdRule) {
    if let Some(p) = id_problem(value, &rule) {
        let hint = if field == "namespace" && value.chars().any(|c| c.is_ascii_uppercase()) {
            " (namespaces are lower-case)"
        } else {
            ""
        };
        v.error(
            loc,
            field,
            format!("`{field}` {p}: `{value}` is not a valid {field}{hint}"),
        );
    }
}

fn check_unique_ids(v: &mut Validator<'_>, doc: &Node) {
    let flow = v.flow;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut dups = BTreeSet::new();
    let mut first_dup: Option<&Task> = None;
    for t in flow.all_tasks() {
        if t.id.is_empty() {
            continue;
        }
        let n = seen.entry(&t.id).or_insert(0);
        *n += 1;
        if *n == 2 {
            dups.insert(t.id.as_str());
            first_dup.get_or_insert(t);
        }
    }
    let mut trig_seen: HashMap<&str, usize> = HashMap::new();
    let mut trig_dups = BTreeSet::new();
    for t in &flow.triggers {
        let n = trig_seen.entry(&t.id).or_insert(0);
        *n += 1;
        if *n == 2 {
            trig_dups.insert(t.id.as_str());
        }
    }
    let mut parts = Vec::new();
    if !dups.is_empty() {
        parts.push(format!(
            "Duplicate task id with name [{}]",
            dups.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    if !trig_dups.is_empty() {
        parts.push(format!(
            "Duplicate trigger id with name [{}]",
            trig_dups.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    if !parts.is_empty() {
        let loc = first_dup
            .map(|t| t.loc)
            .unwrap_or_else(|| doc.get("triggers").map(|n| n.loc).unwrap_or(doc.loc));
        v.error(
            loc,
            "",
            format!(
                "{}: ids must be unique across tasks, errors, finally and triggers",
                parts.join(", ")
            ),
        );
    }
}

fn seq_item<'n>(doc: &'n Node, key: &str, i: usize) -> Option<&'n Node> {
    doc.get(key)?.as_seq()?.get(i)
}

fn check_inputs(v: &mut Validator<'_>, doc: &Node) {
    let flow = v.flow;
    let mut seen = HashMap::new();
    let mut dups = BTreeSet::new();
    for input in &flow.inputs {
        if *seen.entry(input.key()).and_modify(|n| *n += 1).or_insert(1) == 2 {
            dups.insert(input.key());
        }
    }
    if !dups.is_empty() {
        let loc = doc.get("inputs").map(|n| n.loc).unwrap_or(doc.loc);
        v.error(
            loc,
            "inputs",
            format!(
                "Duplicate input with name [{}]: input ids must be unique",
                dups.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    for (i, input) in flow.inputs.iter().enumerate() {
        let node = seq_item(doc, "inputs", i);
        let base = format!("inputs[{i}]");
        if input.key().is_empty() {
            // reported by `problems`
        } else if let Some(p) = id_problem(
            input.key(),
            &IdRule {
                pattern: "^[a-zA-Z0-9][.a-zA-Z0-9_-]*",
                max: 100,
                first: |c| c.is_ascii_alphanumeric(),
                rest: |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
            },
        ) {
            let loc = node.map(|n| n.loc).unwrap_or(doc.loc);
            v.error(
                loc,
                format!("{base}.id"),
                format!("{base}.id `{}` {p}", input.key()),
            );
        }
        for (field, problem) in input.problems() {
            let loc = node
                .and_then(|n| n.get_entry(field).map(|(k, _)| k.loc).or(Some(n.loc)))
                .unwrap_or(doc.loc);
            v.error(
                loc,
                format!("{base}.{field}"),
                format!("{}: {problem}", input.key()),
            );
        }
        if let Some(dep) = &input.depends_on {
            for d in &dep.inputs {
                if !flow.inputs.iter().any(|other| other.key() == d) {
                    let loc = node.map(|n| n.loc).unwrap_or(doc.loc);
                    v.error(
                        loc,
                        format!("{base}.dependsOn"),
                        format!("{}: depends on a non-existent input `{d}`", input.key()),
                    );
                }
            }
        }
    }
    // Dependency cycles between inputs.
    let deps: HashMap<&str, Vec<&str>> = flow
        .inputs
        .iter()
        .map(|i| {
            (
                i.key(),
                i.depends_on
                    .iter()
                    .flat_map(|d| d.inputs.iter().map(String::as_str))
                    .collect(),
            )
        })
        .collect();
    if let Some(cycle) = crate::graph::find_cycle(&deps) {
        let loc = doc.get("inputs").map(|n| n.loc).unwrap_or(doc.loc);
        v.error(
            loc,
            "inputs",
            format!(
                "Cycle dependency detected between inputs: {}",
                cycle.join(", ")
            ),
        );
    }
}

fn check_outputs(v: &mut Validator<'_>, doc: &Node) {
    let mut seen = HashMap::new();
    let mut dups = BTreeSet::new();
    for o in &v.flow.outputs {
        if *seen
            .entry(o.id.as_str())
            .and_modify(|n| *n += 1)
            .or_insert(1)
            == 2
        {
            dups.insert(o.id.as_str());
        }
    }
    if !dups.is_empty() {
        let loc = doc.get("outputs").map(|n| n.loc).unwrap_or(doc.loc);
        v.error(
            loc,
            "outputs",
            format!(
                "Duplicate output with name [{}]",
                dups.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// System labels users may set themselves.
const ALLOWED_SYSTEM_LABELS: &[&str] = &["system.readOnly"];

fn check_labels(v: &mut Validator<'_>, doc: &Node) {
    let offending: Vec<String> = v
        .flow
        .labels
        .iter()
        .filter(|l| {
            l.key.starts_with("system.") && !ALLOWED_SYSTEM_LABELS.contains(&l.key.as_str())
        })
        .map(|l| format!("{}={}", l.key, l.value))
        .collect();
    if !offending.is_empty() {
        let loc = doc
            .get_entry("labels")
            .map(|(k, _)| k.loc)
            .unwrap_or(doc.loc);
        v.error(
            loc,
            "labels",
            format!(
                "System labels can only be set by Kestra itself, offending label: {}; rename them (the `system.` prefix is reserved)",
                offending.join(", ")
            ),
        );
    }
}

fn check_task<'a>(v: &mut Validator<'a>, t: &'a Task) {
    if !t.id.is_empty()
        && let Some(p) = id_problem(&t.id, &TASK_ID_RULE)
    {
        v.error(
            t.loc,
            format!("{}.id", t.path),
            format!("{}.id `{}` {p}", t.path, t.id),
        );
    }

    if let Some(r) = &t.common.retry {
        for p in r.problems() {
            v.error(
                t.loc,
                format!("{}.retry", t.path),
                format!("{}.retry: {p}", t.path),
            );
        }
    }
    let saved = v.task.replace(t);
    if t.common.worker_group.is_some() {
        v.task_property_error(
            "workerGroup",
            "Worker Group is an Enterprise Edition functionality",
        );
    }
    if t.common.log_to_file {
        v.task_property_warning("logToFile", LOG_TO_FILE_IGNORED);
    }
    if t.common.version.is_some() {
        v.task_property_warning(
            "version",
            "`version` is ignored: Kite has one version of each task type",
        );
    }
    t.spec.validate(v);
    v.task = saved;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_patterns() {
        assert!(id_problem("my-flow_1.x", &ID_RULE).is_none());
        assert!(id_problem("my#flow", &ID_RULE).is_some());
        assert!(
            id_problem("", &ID_RULE)
                .unwrap()
                .contains("must not be empty")
        );
        assert!(id_problem("MY$NAMESPACE", &NAMESPACE_RULE).is_some());
        assert!(id_problem("Company", &NAMESPACE_RULE).is_some());
        assert!(id_problem("company.team", &NAMESPACE_RULE).is_none());
        assert!(id_problem("a.b", &TASK_ID_RULE).is_some());
        assert!(id_problem(&"a".repeat(101), &ID_RULE).is_some());
    }
}
