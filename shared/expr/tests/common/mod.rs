//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use kite_expr::{Context, Engine, EngineConfig, ExprError, ExprErrorKind, TestHost};
use serde_json::{Value, json};

/// The variables used by most tests.
pub fn vars() -> Value {
    json!({
        "flow": {"id": "hello", "namespace": "company.team", "revision": 2},
        "execution": {"id": "exec1", "startDate": "2024-01-15T10:30:00.123456Z"},
        "inputs": {
            "name": "kite",
            "n": 3,
            "f": 2.5,
            "neg": -4,
            "flag": true,
            "off": false,
            "empty": "",
            "blank": "  ",
            "nul": null,
            "list": [1, 2, 3],
            "words": ["b", "a", "c"],
            "nested": [[1, 2], [3], 4],
            "m": {"a": 1, "b": "x"},
            "json": "{\"k\": [1, 2]}",
            "date": "2024-03-05T14:07:09.5Z",
            "multi": "line1\nline2",
        },
        "outputs": {
            "t1": {"value": "v1", "code": 0},
            "my-task": {"v": 2},
            "each": {"a": {"value": "A"}, "b": {"value": "B"}},
            "nestedEach": {"x": {"b": {"value": "XB"}}},
        },
        "vars": {"template": "Hi {{ inputs.name }}", "deep": "{{ vars.template }}"},
        "taskrun": {"attemptsCount": 3, "value": "b", "id": "tr1"},
        "parents": [],
        "labels": {"env": "dev"},
    })
}

pub fn host() -> TestHost {
    TestHost::new(
        "2024-01-15T10:30:00.123456789Z"
            .parse()
            .expect("valid date"),
    )
    .with_secret("API_KEY", "s3cr3t")
    .with_file("kestra:///hello/file.txt", "file content")
    .with_file("kestra:///hello/empty.txt", "")
    .with_kv(None, "counter", json!(42))
    .with_kv(Some("other.ns"), "color", json!("blue"))
    .with_error_log(json!({"taskId": "t1", "message": "boom"}))
}

pub fn ctx() -> Context {
    Context::new(vars(), Arc::new(host()))
}

pub fn engine() -> Engine {
    Engine::new(EngineConfig::default())
}

/// Shortens a template for panic messages.
pub fn short(t: &str) -> String {
    if t.len() > 120 {
        format!(
            "{}… ({} bytes)",
            &t[..t.char_indices().nth(100).map_or(t.len(), |(i, _)| i)],
            t.len()
        )
    } else {
        t.to_owned()
    }
}

/// Renders with the default engine and context, panicking on error.
pub fn r(t: &str) -> String {
    match engine().render(t, &ctx()) {
        Ok(s) => s,
        Err(e) => panic!("render of {:?} failed: {}", short(t), short(&e.to_string())),
    }
}

/// Renders typed with the default engine and context.
pub fn typed(t: &str) -> Value {
    match engine().render_typed(t, &ctx()) {
        Ok(v) => v,
        Err(e) => panic!(
            "typed render of {:?} failed: {}",
            short(t),
            short(&e.to_string())
        ),
    }
}

/// Renders and expects an error.
pub fn err(t: &str) -> ExprError {
    match engine().render(t, &ctx()) {
        Ok(s) => panic!(
            "render of {:?} should fail but gave {:?}",
            short(t),
            short(&s)
        ),
        Err(e) => e,
    }
}

/// Renders and expects an error of `kind`.
pub fn err_kind(t: &str, kind: ExprErrorKind) -> ExprError {
    let e = err(t);
    assert_eq!(
        e.kind(),
        kind,
        "{:?} failed with {}",
        short(t),
        short(&e.to_string())
    );
    e
}

/// Asserts that each template renders to the expected string.
pub fn check_all(cases: &[(&str, &str)]) {
    let (e, c) = (engine(), ctx());
    for (t, expected) in cases {
        match e.render(t, &c) {
            Ok(s) => assert_eq!(&s, expected, "template {t:?}"),
            Err(err) => panic!(
                "render of {:?} failed: {}",
                short(t),
                short(&err.to_string())
            ),
        }
    }
}
