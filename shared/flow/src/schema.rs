//! JSON Schema of the flow language, generated from the model, for editors.
//!
//! Plugins are described from the [`Registry`]: a task is one of the registered task
//! types, each an object with `id`, a constant `type` (its canonical name or an alias),
//! the common task properties and its own, and no other property. Point the VS Code YAML
//! extension at the output of `kite flow schema` to get completion and checks.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use crate::model::flow::Flow;
use crate::plugin::{
    Category, Condition, PluginInfo, Registry, Task, TaskCommon, Trigger, TriggerCommon,
};

/// The JSON Schema (draft 2020-12) of a flow file, with every type of `registry`.
pub fn flow_schema(registry: &Registry) -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let root = g.root_schema_for::<Flow>();
    let mut root = root.to_value();
    let defs = g.take_definitions(true);
    let mut defs: Map<String, Value> = defs.into_iter().collect();
    for (name, category) in [
        ("Task", Category::Task),
        ("Trigger", Category::Trigger),
        ("Condition", Category::Condition),
    ] {
        let v = plugins(registry, category, &mut g, &mut defs);
        defs.insert(name.into(), v);
    }
    for (k, v) in g.take_definitions(true) {
        defs.entry(k).or_insert(v);
    }
    if let Some(obj) = root.as_object_mut() {
        obj.insert("$defs".into(), Value::Object(defs));
        obj.insert("title".into(), "Kite flow (Kestra syntax)".into());
    }
    root
}

fn plugins(
    registry: &Registry,
    category: Category,
    g: &mut SchemaGenerator,
    defs: &mut Map<String, Value>,
) -> Value {
    let common = match category {
        Category::Task => TaskCommon::json_schema(g).to_value(),
        Category::Trigger => TriggerCommon::json_schema(g).to_value(),
        Category::Condition => json_schema!({"type": "object", "properties": {}}).to_value(),
    };
    let mut variants = Vec::new();
    let mut infos: Vec<&PluginInfo> = registry.types(category).collect();
    infos.sort_by_key(|i| i.type_name);
    for info in infos {
        let own = (info.schema)(g).to_value();
        let name = info.type_name.to_owned();
        defs.insert(name.clone(), variant(info, &common, &own, category));
        variants.push(json_schema!({"$ref": format!("#/$defs/{name}")}).to_value());
    }
    serde_json::json!({ "oneOf": variants })
}

fn variant(info: &PluginInfo, common: &Value, own: &Value, category: Category) -> Value {
    let mut props = Map::new();
    if category != Category::Condition {
        props.insert(
            "id".into(),
            serde_json::json!({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"}),
        );
    }
    let names: Vec<&str> = std::iter::once(info.type_name)
        .chain(info.aliases.iter().copied())
        .collect();
    props.insert("type".into(), serde_json::json!({ "enum": names }));
    let mut required = vec![Value::from("type")];
    if category != Category::Condition {
        required.push("id".into());
    }
    for src in [common, own] {
        if let Some(p) = src.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                props.insert(k.clone(), v.clone());
            }
        }
        if let Some(r) = src.get("required").and_then(Value::as_array) {
            required.extend(r.iter().cloned());
        }
    }
    let mut out = serde_json::json!({
        "type": "object",
        "title": info.type_name,
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    if let Some(d) = own.get("description")
        && let Some(o) = out.as_object_mut()
    {
        o.insert("description".into(), d.clone());
    }
    if info.deprecated.is_some()
        && let Some(o) = out.as_object_mut()
    {
        o.insert("deprecated".into(), true.into());
    }
    out
}

macro_rules! reference_schema {
    ($ty:ty, $name:literal) => {
        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "$ref": concat!("#/$defs/", $name) })
            }
            fn inline_schema() -> bool {
                true
            }
        }
    };
}

reference_schema!(Task, "Task");
reference_schema!(Trigger, "Trigger");
reference_schema!(Condition, "Condition");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_every_task_type_and_refs_resolve() {
        let s = flow_schema(Registry::global());
        let defs = s["$defs"].as_object().unwrap();
        assert!(defs.contains_key("io.kestra.plugin.core.log.Log"));
        assert!(defs.contains_key("io.kestra.plugin.core.trigger.Schedule"));
        let text = s.to_string();
        for r in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(defs.contains_key(name), "unresolved ref {name}");
        }
        let log = &defs["io.kestra.plugin.core.log.Log"];
        assert_eq!(log["additionalProperties"], false);
        assert!(log["properties"].get("message").is_some());
        assert!(log["properties"].get("retry").is_some());
    }
}
