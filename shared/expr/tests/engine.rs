//! Engine entry points: typed rendering, value rendering, syntax checks, truthiness,
//! limits, recursive mode, caching and thread safety.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ctx, engine, err_kind, r, typed, vars};
use kite_expr::{CACHE_CAPACITY, Context, Engine, EngineConfig, ExprErrorKind, NoHost, is_truthy};
use serde_json::json;

#[test]
fn fast_path_returns_plain_strings_unchanged() {
    for s in [
        "",
        "plain text",
        "{ not a tag }",
        "a } b",
        "%}",
        "#}",
        "{",
        "}}",
        "{x{",
        "price: {amount}",
    ] {
        assert_eq!(r(s), s);
    }
    // no context access happens on the fast path: even NoHost with no vars works
    let ctx = Context::new(json!(null), Arc::new(NoHost));
    assert_eq!(engine().render("just text", &ctx).unwrap(), "just text");
}

#[test]
fn typed_rendering() {
    assert_eq!(typed("{{ inputs.list }}"), json!([1, 2, 3]));
    assert_eq!(typed("{{ inputs.m }}"), json!({"a": 1, "b": "x"}));
    assert_eq!(typed("{{ inputs.n }}"), json!(3));
    assert_eq!(typed("{{ inputs.f }}"), json!(2.5));
    assert_eq!(typed("{{ inputs.flag }}"), json!(true));
    assert_eq!(typed("{{ inputs.nul }}"), json!(null));
    assert_eq!(typed("{{ inputs.n > 2 }}"), json!(true));
    assert_eq!(typed("{{ inputs.list | length }}"), json!(3));
    assert_eq!(typed("{{- inputs.n -}}"), json!(3));
    assert_eq!(typed("  {{- [1] -}}\n"), json!([1]));
    assert_eq!(typed("{{ 1..3 }}"), json!([1, 2, 3]));
    assert_eq!(typed("{{ 'text' }}"), json!("text"));
    assert_eq!(typed("n={{ inputs.n }}"), json!("n=3"));
    assert_eq!(typed("{{ inputs.n }}{{ inputs.n }}"), json!("33"));
    assert_eq!(typed("{{ inputs.n }}\n"), json!("3\n"));
    assert_eq!(typed("plain"), json!("plain"));
    assert_eq!(
        typed("{% if true %}{{ inputs.list }}{% endif %}"),
        json!("[1,2,3]")
    );
    let e = engine()
        .render_typed("{{ missing.x }}", &ctx())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unable to find `missing` used in the expression `{{ missing.x }}` at line 1"
    );
}

#[test]
fn value_rendering() {
    let input = json!({
        "plain": "text",
        "expr": "{{ inputs.name }}",
        "{{ inputs.name }}_key": 1,
        "list": ["{{ inputs.n }}", 2, null, true, {"deep": "{{ inputs.list | join('-') }}"}],
        "number": 4.5,
    });
    let out = engine().render_value(&input, &ctx()).unwrap();
    assert_eq!(
        out,
        json!({
            "plain": "text",
            "expr": "kite",
            "kite_key": 1,
            "list": ["3", 2, null, true, {"deep": "1-2-3"}],
            "number": 4.5,
        })
    );
    let e = engine()
        .render_value(&json!({"a": ["{{ nope }}"]}), &ctx())
        .unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Undefined);
    // deep values are bounded
    let mut deep = json!("x");
    for _ in 0..300 {
        deep = json!([deep]);
    }
    assert_eq!(
        engine().render_value(&deep, &ctx()).unwrap_err().kind(),
        ExprErrorKind::Limit
    );
}

#[test]
fn syntax_check() {
    let e = engine();
    assert!(e.check("plain").is_ok());
    assert!(e.check("{{ anything.at.all | upper }}").is_ok());
    assert!(
        e.check("{% if a %}{{ b ?? c }}{% elseif d %}x{% else %}y{% endif %}")
            .is_ok()
    );
    assert!(
        e.check("{% for i in 1..3 %}{{ loop.index }}{% endfor %}")
            .is_ok()
    );
    for bad in [
        "{{ a ? }}",
        "{{ a | nosuchfilter }}",
        "{% if a %}",
        "{% endfor %}",
        "{{ 'open",
        "{% for x %}{% endfor %}",
        "{{ nosuchfunction() }}",
        "{% if a %}{% endfor %}",
    ] {
        let err = e.check(bad).unwrap_err();
        assert_eq!(err.kind(), ExprErrorKind::Syntax, "{bad}: {err}");
    }
    let err = e.check("line1\nline2 {{ a ?? }}").unwrap_err();
    assert_eq!(err.line(), 2);
    assert_eq!(err.expression(), "{{ a ?? }}");
}

#[test]
fn truthiness() {
    for f in ["false", "0", "-0", ""] {
        assert!(!is_truthy(f));
    }
    for t in ["true", "1", "ok", "False", " false", "null"] {
        assert!(is_truthy(t));
    }
    assert!(!is_truthy(&r("{{ inputs.off }}")));
    assert!(!is_truthy(&r("{{ inputs.nul }}")));
    assert!(is_truthy(&r("{{ inputs.n > 1 }}")));
}

#[test]
fn fuel_limit_stops_runaway_loops() {
    let start = Instant::now();
    err_kind(
        "{% for i in range(0, 100000000) %}{{ i }}{% endfor %}",
        ExprErrorKind::Limit,
    );
    let e = err_kind(
        "{% for i in range(0, 999999) %}{% for j in range(0, 999999) %}{% endfor %}{% endfor %}",
        ExprErrorKind::Limit,
    );
    assert!(e.to_string().contains("fuel"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(30));
    // a small budget is honoured
    let small = Engine::new(EngineConfig {
        max_fuel: Some(1_000),
        ..EngineConfig::default()
    });
    let e = small
        .render("{% for i in range(0, 10000) %}{% endfor %}", &ctx())
        .unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Limit);
    assert!(small.render("{{ inputs.name }}", &ctx()).is_ok());
}

#[test]
fn output_limit() {
    let small = Engine::new(EngineConfig {
        max_output_bytes: 100,
        ..EngineConfig::default()
    });
    let e = small
        .render(
            "{% for i in range(1, 50) %}{{ i }}-{{ i }}{% endfor %}",
            &ctx(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Limit);
    assert!(e.to_string().contains("100 bytes"), "{e}");
    // strings built in memory are bounded too (doubling)
    let e = small.render("{% set s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% set t = s ~ s %}", &ctx()).unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Limit);
    let e = small
        .render("{% set s = range(1, 50) | join('0123456789') %}", &ctx())
        .unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Limit);
    assert_eq!(small.render("{{ 'short' }}", &ctx()).unwrap(), "short");
    let e = small.render("{{ 'ab' | indent(1000) }}", &ctx());
    assert!(e.is_ok());
    let e = small
        .render("{{ 'a\nb' | indent(1000) }}", &ctx())
        .unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Limit);
}

#[test]
fn deep_nesting_fails_fast() {
    let start = Instant::now();
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(
        engine().render(&deep, &ctx()).unwrap_err().kind(),
        ExprErrorKind::Limit
    );
    let deep = format!("{{{{ {}1{} }}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        engine().render(&deep, &ctx()).unwrap_err().kind(),
        ExprErrorKind::Limit
    );
    let deep = format!("{{{{ {}true }}}}", "not ".repeat(10_000));
    assert_eq!(
        engine().render(&deep, &ctx()).unwrap_err().kind(),
        ExprErrorKind::Limit
    );
    let deep = format!(
        "{}{}",
        "{% if true %}".repeat(5_000),
        "{% endif %}".repeat(5_000)
    );
    assert!(engine().render(&deep, &ctx()).is_err());
    // long flat chains are fine
    let chain = format!("{{{{ 1{} }}}}", " + 1".repeat(2_000));
    assert_eq!(r(&chain), "2001");
    let chain = format!("{{{{ 'a'{} }}}}", " ~ 'a'".repeat(2_000));
    assert_eq!(r(&chain).len(), 2001);
    let chain = format!("{{{{ a{} ?? 'end' }}}}", " ?? a".repeat(500));
    assert_eq!(r(&chain), "end");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn huge_templates_are_bounded() {
    let e = engine();
    let plain = "x".repeat(10 * 1024 * 1024);
    assert_eq!(e.render(&plain, &ctx()).unwrap().len(), plain.len());
    let mut with_exprs = "abc {{ inputs.n }} ".repeat(600_000);
    with_exprs.truncate(10 * 1024 * 1024);
    match e.render(&with_exprs, &ctx()) {
        Ok(out) => assert!(out.len() <= EngineConfig::default().max_output_bytes),
        Err(err) => assert!(
            matches!(err.kind(), ExprErrorKind::Limit | ExprErrorKind::Syntax),
            "{err}"
        ),
    }
    let unclosed = format!("{{{{ {}", "a ~ ".repeat(2_000_000));
    assert!(e.render(&unclosed, &ctx()).is_err());
}

#[test]
fn recursive_rendering_mode() {
    let e = Engine::new(EngineConfig {
        recursive_rendering: true,
        ..EngineConfig::default()
    });
    assert_eq!(e.render("{{ vars.deep }}", &ctx()).unwrap(), "Hi kite");
    assert_eq!(
        e.render("{% raw %}{{ inputs.name }}{% endraw %}", &ctx())
            .unwrap(),
        "{{ inputs.name }}"
    );
    let looping = ctx().with_var("self", json!("{{ self }}x"));
    assert_eq!(
        e.render("{{ self }}", &looping).unwrap_err().kind(),
        ExprErrorKind::Limit
    );
    // the default is non-recursive
    assert_eq!(r("{{ vars.deep }}"), "{{ vars.template }}");
}

#[test]
fn cache_eviction_keeps_working() {
    let e = engine();
    let c = ctx();
    for i in 0..(CACHE_CAPACITY + 50) {
        assert_eq!(
            e.render(&format!("{{{{ {i} + 1 }}}}"), &c).unwrap(),
            (i + 1).to_string()
        );
    }
    assert_eq!(e.render("{{ 1 + 1 }}", &c).unwrap(), "2");
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<Context>();
    let e = engine();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                let c = Context::new(vars(), Arc::new(common::host()));
                for i in 0..200 {
                    let out = e
                        .render(
                            &format!("{{{{ inputs.n * {t} + {i} }}}}-{{{{ inputs.name }}}}"),
                            &c,
                        )
                        .unwrap();
                    assert_eq!(out, format!("{}-kite", 3 * t + i));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn outputs_that_look_like_tags() {
    assert_eq!(r("{{ '{%}' }}"), "{%}");
    assert_eq!(r("{{ '{% raw %}' }}"), "{% raw %}");
    assert_eq!(r("{{ '{% raw %}x{% endraw %}' }}"), "x");
    assert_eq!(r("{{ '{{ a }}' }}"), "{{ a }}");
    assert_eq!(r("{{ '{%-%}{%' }}"), "{%-%}{%");
}

#[test]
fn errors_do_not_poison_the_engine() {
    let e = engine();
    let c = ctx();
    assert!(e.render("{{ nope.x }}", &c).is_err());
    assert!(e.render("{% for x in 'y' %}{% endfor %}", &c).is_err());
    assert_eq!(e.render("{{ inputs.name }}", &c).unwrap(), "kite");
    assert_eq!(e.render("{{ render('{{ inputs.n }}') }}", &c).unwrap(), "3");
}
