//! `pluginDefaults` (and the legacy `taskDefaults`): default properties merged into plugins
//! whose type equals or starts with the default's `type`, applied to the raw YAML tree.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::yaml::{Node, Value};

/// One plugin default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginDefault {
    /// A full type name or a prefix of it (`io.kestra.plugin.core.log`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether these values override the ones written in the flow.
    #[serde(default)]
    pub forced: bool,
    /// The default property values.
    #[serde(default)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// Returns `doc` with `defaults` merged into every plugin map it contains.
///
/// `canonical` resolves a type name or alias to its canonical name (None when unknown).
pub fn apply_plugin_defaults(
    doc: &Node,
    defaults: &[PluginDefault],
    canonical: &dyn Fn(&str) -> Option<&'static str>,
) -> Node {
    if defaults.is_empty() {
        return doc.clone();
    }
    let mut out = doc.clone();
    // The defaults themselves are not plugins.
    walk(&mut out, defaults, canonical, true);
    out
}

fn matches(
    default: &PluginDefault,
    ty: &str,
    canonical: &dyn Fn(&str) -> Option<&'static str>,
) -> bool {
    let ty_canonical = canonical(ty).unwrap_or(ty);
    let def = canonical(&default.kind).unwrap_or(&default.kind);
    ty == default.kind
        || ty_canonical == def
        || ty.starts_with(&default.kind)
        || ty_canonical.starts_with(def)
}

fn walk(
    node: &mut Node,
    defaults: &[PluginDefault],
    canonical: &dyn Fn(&str) -> Option<&'static str>,
    top: bool,
) {
    match &mut node.value {
        Value::Seq(items) => {
            for i in items {
                walk(i, defaults, canonical, false);
            }
        }
        Value::Map(entries) => {
            let ty = entries
                .iter()
                .find(|(k, _)| k.as_str() == Some("type"))
                .and_then(|(_, v)| v.as_str().map(str::to_owned));
            if let Some(ty) = ty.filter(|_| !top) {
                let loc = node.loc;
                // Non-forced defaults go under written values, forced ones over them; the
                // first matching default wins among equals.
                for d in defaults.iter().filter(|d| matches(d, &ty, canonical)) {
                    for (k, v) in &d.values {
                        let pos = entries.iter().position(|(ek, _)| ek.as_str() == Some(k));
                        let value = Node::from_json(v, loc);
                        match pos {
                            None => entries.push((Node::new(loc, Value::Str(k.clone())), value)),
                            Some(p) if d.forced => entries[p].1 = value,
                            Some(_) => {}
                        }
                    }
                }
            }
            for (k, v) in entries.iter_mut() {
                if top && matches!(k.as_str(), Some("pluginDefaults" | "taskDefaults")) {
                    continue;
                }
                walk(v, defaults, canonical, false);
            }
        }
        _ => {}
    }
}
