//! Property tests: the loader and parser never panic, and stay bounded on hostile input.

use proptest::prelude::*;

fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "id",
        "namespace",
        "tasks",
        "type",
        "- ",
        ": ",
        "\n",
        "  ",
        "{",
        "}",
        "[",
        "]",
        "'",
        "\"",
        "&a ",
        "*a",
        "io.kestra.plugin.core.log.Log",
        "io.kestra.plugin.core.flow.Parallel",
        "message",
        "{{ x }}",
        "~",
        "true",
        "1",
        "-1.5",
        "#",
        "---",
        "? ",
        "!!str ",
        "|\n",
        ">\n",
        "\t",
        "inputs",
        "STRING",
        "retry",
        "PT1S",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,400}") {
        let _ = kite_flow::parse_flows(&s);
    }

    #[test]
    fn yaml_shaped_text_never_panics(s in yamlish()) {
        let _ = kite_flow::parse_flows(&s);
    }

    #[test]
    fn mutated_valid_flows_never_panic(cut in 0usize..400, insert in ".{0,8}") {
        let base = "id: f\nnamespace: n\ninputs:\n  - id: a\n    type: INT\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: t\n        type: io.kestra.plugin.core.log.Log\n        message: '{{ inputs.a }}'\n        retry: {type: constant, interval: PT1S}\n";
        let mut s = base.to_owned();
        let at = cut.min(s.len());
        if s.is_char_boundary(at) {
            s.insert_str(at, &insert);
        }
        let _ = kite_flow::parse_flows(&s);
    }
}

#[test]
fn a_ten_megabyte_string_is_refused() {
    let s = format!(
        "id: f\nnamespace: n\ndescription: '{}'\ntasks: []\n",
        "x".repeat(10 * 1024 * 1024)
    );
    let p = kite_flow::parse_flow(&s);
    assert!(p.errors().any(|d| d.message.contains("more than")));
}

#[test]
fn alias_bombs_are_refused() {
    let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        src.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(!kite_flow::parse_flow(&src).is_valid());
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let src = format!(
        "id: f\nnamespace: n\ntasks: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(!kite_flow::parse_flow(&src).is_valid());
    let mut tasks = String::from("id: f\nnamespace: n\ntasks:\n");
    for depth in 0..200 {
        let pad = "  ".repeat(depth * 2);
        tasks.push_str(&format!("{pad}- id: s{depth}\n{pad}  type: io.kestra.plugin.core.flow.Sequential\n{pad}  tasks:\n"));
    }
    assert!(!kite_flow::parse_flow(&tasks).is_valid());
}
