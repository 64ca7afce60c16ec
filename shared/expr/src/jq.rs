//! The `jq` filter, backed by `jaq` (jaq-core + jaq-std + jaq-json).
//!
//! Values cross the boundary as JSON text. Every output of the program is collected,
//! so the filter always returns a list, like Kestra's. Programs are compiled once per
//! thread and cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value as Json;

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

/// Maximum number of outputs collected from one program.
const MAX_OUTPUTS: usize = 100_000;

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<Filter>>> = RefCell::new(HashMap::new());
}

fn compile(code: &str) -> Result<Rc<Filter>, String> {
    if let Some(f) = CACHE.with(|c| c.borrow().get(code).cloned()) {
        return Ok(f);
    }
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errs| format!("Invalid jq expression '{code}': {}", describe_errors(&errs)))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| format!("Invalid jq expression '{code}': {}", describe_errors(&errs)))?;
    let filter = Rc::new(filter);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 128 {
            c.clear();
        }
        c.insert(code.to_owned(), Rc::clone(&filter));
    });
    Ok(filter)
}

fn describe_errors<T: std::fmt::Debug>(errs: &T) -> String {
    let s = format!("{errs:?}");
    if s.len() > 300 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(300).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// Runs the jq program `code` on `input`; returns every output.
pub(crate) fn run(code: &str, input: Json) -> Result<Vec<Json>, String> {
    let filter = compile(code)?;
    let text = serde_json::to_string(&input).map_err(|e| e.to_string())?;
    let input = jaq_json::read::parse_single(text.as_bytes())
        .map_err(|e| format!("Invalid jq input: {e}"))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for item in filter.id.run((ctx, input)).map(unwrap_valr) {
        let v = item.map_err(|e| format!("Failed to resolve JQ expression '{code}': {e}"))?;
        let json: Json =
            serde_json::from_str(&v.to_string()).unwrap_or(Json::String(v.to_string()));
        out.push(json);
        if out.len() > MAX_OUTPUTS {
            return Err(format!(
                "The jq expression '{code}' produced more than {MAX_OUTPUTS} values"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::run;
    use serde_json::json;

    #[test]
    fn programs() {
        let input =
            json!({"a": {"b": [1, 2, 3]}, "items": [{"n": "x", "v": 1}, {"n": "y", "v": 5}]});
        assert_eq!(run(".a.b", input.clone()).unwrap(), vec![json!([1, 2, 3])]);
        assert_eq!(
            run(".a.b[]", input.clone()).unwrap(),
            vec![json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            run(".items | map(select(.v > 2)) | .[0].n", input.clone()).unwrap(),
            vec![json!("y")]
        );
        assert_eq!(run(".a.b | length", input.clone()).unwrap(), vec![json!(3)]);
        assert_eq!(
            run("keys", input.clone()).unwrap(),
            vec![json!(["a", "items"])]
        );
        assert!(run(".a[", input).is_err());
    }
}
