//! Robustness: arbitrary strings and grammar-generated templates never panic, and
//! hostile inputs fail quickly.

mod common;

use std::time::{Duration, Instant};

use common::{ctx, engine};
use kite_expr::{Engine, EngineConfig, ExprErrorKind};
use proptest::prelude::*;

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        // delimiters, complete and broken
        Just("{{ ".to_owned()),
        Just(" }}".to_owned()),
        Just("{%".to_owned()),
        Just("%}".to_owned()),
        Just("{#".to_owned()),
        Just("#}".to_owned()),
        Just("{{-".to_owned()),
        Just("-}}".to_owned()),
        Just("{% raw %}".to_owned()),
        Just("{% endraw %}".to_owned()),
        Just("{% if ".to_owned()),
        Just("{% elseif ".to_owned()),
        Just("{% else %}".to_owned()),
        Just("{% endif %}".to_owned()),
        Just("{% for x in ".to_owned()),
        Just("{% endfor %}".to_owned()),
        Just("{% set v = ".to_owned()),
        // names and paths
        Just("inputs".to_owned()),
        Just("inputs.name".to_owned()),
        Just("inputs.list".to_owned()),
        Just("inputs.m".to_owned()),
        Just("outputs['my-task'].v".to_owned()),
        Just("missing.deep".to_owned()),
        Just("loop.index".to_owned()),
        Just("x".to_owned()),
        // literals
        Just("'str'".to_owned()),
        Just("\"d#{ 1 }q\"".to_owned()),
        Just("42".to_owned()),
        Just("2.5".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{'k': 1}".to_owned()),
        Just("1..3".to_owned()),
        Just("'{%}'".to_owned()),
        Just("'{% raw %}'".to_owned()),
        Just("'{% endraw %}'".to_owned()),
        Just("'}}{{'".to_owned()),
        // operators and punctuation
        prop::sample::select(vec![
            " + ",
            " - ",
            " * ",
            " / ",
            " % ",
            " ~ ",
            " == ",
            " != ",
            " < ",
            " >= ",
            " and ",
            " or ",
            " not ",
            " ?? ",
            " ??? ",
            " ? ",
            " : ",
            " contains ",
            " equals ",
            " is ",
            " is not ",
            " | ",
            "(",
            ")",
            "[",
            "]",
            ",",
            ".",
            "=",
        ])
        .prop_map(str::to_owned),
        // filters, tests, functions
        prop::sample::select(vec![
            "upper",
            "default('d')",
            "length",
            "join(',')",
            "split(',')",
            "date('yyyy')",
            "jq('.')",
            "toJson",
            "numberformat('#.##')",
            "slice(1)",
            "defined",
            "empty",
            "even",
            "now()",
            "range(1, 3)",
            "fromJson('[1]')",
            "render('{{ 1 }}')",
            "max(1, 2)",
            "dateAdd(1, 'DAYS')",
            "abs",
            "replace({'a': 'b'})",
        ])
        .prop_map(str::to_owned),
        // plain text
        "[a-z \\n{}%#]{0,6}",
    ]
}

fn template() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

fn small_engine() -> Engine {
    Engine::new(EngineConfig {
        max_fuel: Some(200_000),
        max_output_bytes: 64 * 1024,
        recursive_rendering: false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
        let e = small_engine();
        let c = ctx();
        let _ = e.render(&s, &c);
        let _ = e.render_typed(&s, &c);
        let _ = e.check(&s);
    }

    #[test]
    fn arbitrary_bytes_with_delimiters_never_panic(s in "[{}%#\\-a-z0-9 .|'\"()\\[\\]?:~=!<>+*/,]{0,60}") {
        let e = small_engine();
        let _ = e.render(&s, &ctx());
        let _ = e.check(&s);
    }

    #[test]
    fn grammar_templates_never_panic(t in template()) {
        let e = small_engine();
        let c = ctx();
        let _ = e.render(&t, &c);
        let _ = e.render_typed(&t, &c);
        let _ = e.check(&t);
        let _ = e.render_value(&serde_json::json!({ "k": t.clone(), t.clone(): [t] }), &c);
    }

    #[test]
    fn wrapped_expressions_never_panic(parts in prop::collection::vec(fragment(), 1..12)) {
        let t = format!("{{{{ {} }}}}", parts.concat());
        let e = small_engine();
        let _ = e.render(&t, &ctx());
        let t = format!("{{% if {} %}}y{{% endif %}}", parts.concat());
        let _ = e.render(&t, &ctx());
    }
}

fn fails_fast(t: &str, kinds: &[ExprErrorKind]) {
    let start = Instant::now();
    let err = engine()
        .render(t, &ctx())
        .expect_err("hostile template must fail");
    assert!(
        kinds.contains(&err.kind()),
        "unexpected {:?} for a hostile template",
        err.kind()
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn hostile_nesting() {
    let n = 10_000;
    fails_fast(
        &format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        &format!("{{{{ {}1{} }}}}", "[".repeat(n), "]".repeat(n)),
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        &format!("{{{{ {}1{} }}}}", "{'a': ".repeat(n), "}".repeat(n)),
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        &format!("{{{{ {}1 }}}}", "- ".repeat(n)),
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        &format!("{{{{ x{} }}}}", " | upper".repeat(n)),
        &[ExprErrorKind::Limit, ExprErrorKind::Syntax],
    );
    fails_fast(
        &format!("{{{{ a{} }}}}", "[0]".repeat(n)),
        &[ExprErrorKind::Limit, ExprErrorKind::Syntax],
    );
    fails_fast(
        &format!("{{{{ {}1{} }}}}", "f(".repeat(n), ")".repeat(n)),
        &[ExprErrorKind::Limit, ExprErrorKind::Syntax],
    );
    fails_fast(
        &format!("{{{{ {} 1 }}}}", "true ? 1 : ".repeat(n)),
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        &format!("{{{{ \"{}\" }}}}", "#{ \"".repeat(n)),
        &[ExprErrorKind::Limit, ExprErrorKind::Syntax],
    );
    fails_fast(
        &"{% if true %}".repeat(n),
        &[ExprErrorKind::Syntax, ExprErrorKind::Limit],
    );
    fails_fast(
        &"{% for i in [1] %}".repeat(n),
        &[ExprErrorKind::Syntax, ExprErrorKind::Limit],
    );
}

#[test]
fn hostile_loops() {
    fails_fast(
        "{% for i in range(0, 100000000) %}{{ i }}{% endfor %}",
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        "{% for i in 0..999999 %}{% for j in 0..999999 %}{{ j }}{% endfor %}{% endfor %}",
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        "{% for i in range(0, 999999) %}{% for j in range(0, 999999) %}{% endfor %}{% endfor %}",
        &[ExprErrorKind::Limit],
    );
    fails_fast(
        "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
        &[ExprErrorKind::Limit, ExprErrorKind::TypeError],
    );
}
