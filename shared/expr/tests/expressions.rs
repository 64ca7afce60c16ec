//! Operators, literals, tags, strict variables and error messages.

mod common;

use common::{check_all, err, err_kind, r, typed};
use kite_expr::ExprErrorKind;
use serde_json::json;

#[test]
fn literals() {
    check_all(&[
        ("{{ 'single' }}", "single"),
        ("{{ \"double\" }}", "double"),
        (r"{{ 'it\'s' }}", "it's"),
        (r#"{{ "say \"hi\"" }}"#, "say \"hi\""),
        (r"{{ 'back\\slash' }}", "back\\slash"),
        (r"{{ 'a\nb' }}", "a\\nb"),
        ("{{ 42 }}", "42"),
        ("{{ 42L }}", "42"),
        ("{{ 2.50 }}", "2.5"),
        ("{{ true }}|{{ false }}|{{ TRUE }}", "true|false|true"),
        ("{{ null }}{{ none }}{{ NULL }}", ""),
        ("{{ [1, 'a', null, true] }}", "[1,\"a\",null,true]"),
        ("{{ [] }}", "[]"),
        ("{{ {'a': 1, 'b': [2]} }}", "{\"a\":1,\"b\":[2]}"),
        ("{{ {} }}", "{}"),
        ("{{ {'a': {'b': 1}} }}", "{\"a\":{\"b\":1}}"),
        ("{{ 'a ? b : c' }}", "a ? b : c"),
        ("{{ \"x#{ 1 + 1 }y\" }}", "x2y"),
        ("{{ \"#{inputs.name}-#{inputs.n}\" }}", "kite-3"),
        ("{{ '#{not interpolated}' }}", "#{not interpolated}"),
    ]);
}

#[test]
fn arithmetic() {
    check_all(&[
        ("{{ 1 + 2 }}", "3"),
        ("{{ 5 - 7 }}", "-2"),
        ("{{ 3 * 4 }}", "12"),
        ("{{ 10 / 4 }}", "2"),
        ("{{ -10 / 4 }}", "-2"),
        ("{{ 10.0 / 4 }}", "2.5"),
        ("{{ 10 / 4.0 }}", "2.5"),
        ("{{ 7 % 3 }}", "1"),
        ("{{ -7 % 3 }}", "-1"),
        ("{{ 7.5 % 2 }}", "1.5"),
        ("{{ 1 + 2 * 3 }}", "7"),
        ("{{ (1 + 2) * 3 }}", "9"),
        ("{{ 10 - 2 - 3 }}", "5"),
        ("{{ 100 / 10 / 5 }}", "2"),
        ("{{ 2 * 3 % 4 }}", "2"),
        ("{{ 0.1 + 0.2 }}", "0.30000000000000004"),
        ("{{ 1.5 + 1.5 }}", "3.0"),
        ("{{ inputs.n * inputs.f }}", "7.5"),
        ("{{ -inputs.n }}", "-3"),
        ("{{ +inputs.n }}", "3"),
        ("{{ - - 2 }}", "2"),
        ("{{ 'a' + 'b' }}", "ab"),
        ("{{ 'n=' + 1 }}", "n=1"),
        ("{{ 1 + 'x' }}", "1x"),
        ("{{ [1] + [2, 3] }}", "[1,2,3]"),
        ("{{ [1, 2, 3] - 2 }}", "[1,3]"),
        ("{{ 9223372036854775807 + 1 }}", "-9223372036854775808"),
    ]);
    assert_eq!(typed("{{ 10 / 4 }}"), json!(2));
    assert_eq!(typed("{{ 10 / 4.0 }}"), json!(2.5));
    err_kind("{{ 1 / 0 }}", ExprErrorKind::TypeError);
    err_kind("{{ 1 % 0 }}", ExprErrorKind::TypeError);
    err_kind("{{ true + 1 }}", ExprErrorKind::TypeError);
    err_kind("{{ [1] * 2 }}", ExprErrorKind::TypeError);
    err_kind("{{ -'x' }}", ExprErrorKind::TypeError);
    assert_eq!(r("{{ 1.0 / 0 }}"), "Infinity");
}

#[test]
fn comparisons() {
    check_all(&[
        ("{{ 1 == 1 }}", "true"),
        ("{{ 1 == 1.0 }}", "true"),
        ("{{ 1 equals 1 }}", "true"),
        ("{{ 'a' equals 'b' }}", "false"),
        ("{{ '1' == 1 }}", "false"),
        ("{{ 'x' == 'x' }}", "true"),
        ("{{ 1 != 2 }}", "true"),
        ("{{ null == null }}", "true"),
        ("{{ inputs.nul == null }}", "true"),
        ("{{ [1, 2] == [1, 2] }}", "true"),
        ("{{ {'a': 1} == {'a': 1.0} }}", "true"),
        ("{{ 2 > 1 }}", "true"),
        ("{{ 2 < 1 }}", "false"),
        ("{{ 2 >= 2 }}", "true"),
        ("{{ 2 <= 1.5 }}", "false"),
        ("{{ 1.5 < 2 }}", "true"),
        ("{{ 'a' < 'b' }}", "true"),
        ("{{ null > 1 }}", "false"),
        ("{{ inputs.n > 2 and inputs.n < 4 }}", "true"),
        ("{{ 1 + 1 == 2 }}", "true"),
    ]);
    err_kind("{{ 'a' < 1 }}", ExprErrorKind::TypeError);
}

#[test]
fn logic() {
    check_all(&[
        ("{{ true and false }}", "false"),
        ("{{ true or false }}", "true"),
        ("{{ not true }}", "false"),
        ("{{ not false and not false }}", "true"),
        ("{{ not (true and false) }}", "true"),
        ("{{ false or false or true }}", "true"),
        ("{{ true and true and false }}", "false"),
        ("{{ false and missing.value }}", "false"),
        ("{{ true or missing.value }}", "true"),
        ("{{ 1 and 'x' }}", "true"),
        ("{{ 0 or '' }}", "false"),
        ("{{ not inputs.list }}", "false"),
        ("{{ true or false and false }}", "true"),
    ]);
    err_kind("{{ true and missing.value }}", ExprErrorKind::Undefined);
}

#[test]
fn ternary() {
    check_all(&[
        ("{{ true ? 'y' : 'n' }}", "y"),
        ("{{ false ? 'y' : 'n' }}", "n"),
        ("{{ taskrun.attemptsCount == 3 ? 'ok' : ko }}", "ok"),
        (
            "{{ inputs.n > 5 ? 'big' : inputs.n > 2 ? 'mid' : 'small' }}",
            "mid",
        ),
        ("{{ (inputs.flag ? 1 : 2) + 10 }}", "11"),
        ("{{ inputs.empty ? 'y' : 'n' }}", "n"),
        ("{{ inputs.name ~ '!' == 'kite!' ? 'yes' : 'no' }}", "yes"),
    ]);
    assert_eq!(r("{{ max(true ? 1 : 2, 0) }}"), "1");
    // the unevaluated branch may reference missing variables
    assert_eq!(r("{{ false ? missing.x : 'safe' }}"), "safe");
    err_kind("{{ true ? missing.x : 'safe' }}", ExprErrorKind::Undefined);
}

#[test]
fn concatenation_and_contains() {
    check_all(&[
        ("{{ 'a' ~ 'b' ~ 'c' }}", "abc"),
        ("{{ 'n' ~ 1 ~ 2.0 ~ true }}", "n12.0true"),
        ("{{ 'x' ~ null ~ 'y' }}", "xy"),
        ("{{ 'l=' ~ inputs.list }}", "l=[1, 2, 3]"),
        ("{{ 'm=' ~ inputs.m }}", "m={a=1, b=x}"),
        ("{{ 'a' ~ 'b' | upper }}", "AB"),
        ("{{ inputs.list contains 2 }}", "true"),
        ("{{ inputs.list contains 5 }}", "false"),
        ("{{ inputs.list contains [1, 3] }}", "true"),
        ("{{ inputs.list contains [1, 9] }}", "false"),
        ("{{ inputs.m contains 'a' }}", "true"),
        ("{{ inputs.m contains 'z' }}", "false"),
        ("{{ 'kestra' contains 'str' }}", "true"),
        ("{{ inputs.nul contains 'x' }}", "false"),
        ("{{ not (inputs.list contains 5) }}", "true"),
    ]);
    err_kind("{{ 5 contains 5 }}", ExprErrorKind::TypeError);
}

#[test]
fn ranges() {
    check_all(&[
        ("{{ 1..4 }}", "[1,2,3,4]"),
        ("{{ 3..1 }}", "[]"),
        ("{% for i in 0..2 %}{{ i }}{% endfor %}", "012"),
        ("{{ (1..3) | length }}", "3"),
        ("{{ range(0, 10, 5) }}", "[0,5,10]"),
        ("{{ range(3, 1, -1) }}", "[3,2,1]"),
        ("{{ range('a', 'c') | join }}", "abc"),
    ]);
    err_kind("{{ range(1, 2, 0) }}", ExprErrorKind::Function);
    err_kind("{{ 0..2000000 }}", ExprErrorKind::Limit);
}

#[test]
fn attribute_access() {
    check_all(&[
        ("{{ inputs.name }}", "kite"),
        ("{{ inputs['name'] }}", "kite"),
        ("{{ inputs[\"name\"] }}", "kite"),
        ("{{ outputs['my-task'].v }}", "2"),
        ("{{ inputs.list[1] }}", "2"),
        ("{{ inputs.list['2'] }}", "3"),
        ("{{ inputs.nested[0][1] }}", "2"),
        ("{{ outputs.each[taskrun.value].value }}", "B"),
        ("{{ inputs.m['a'] + 1 }}", "2"),
        ("{{ fromJson(inputs.json).k[1] }}", "2"),
        ("{{ inputs.name.length }}", "4"),
        ("{{ inputs.list.size }}", "3"),
    ]);
}

#[test]
fn methods() {
    check_all(&[
        ("{{ inputs.name.length() }}", "4"),
        ("{{ inputs.name.toUpperCase() }}", "KITE"),
        ("{{ inputs.name.substring(1, 3) }}", "it"),
        ("{{ inputs.name.contains('it') }}", "true"),
        ("{{ inputs.name.startsWith('ki') }}", "true"),
        ("{{ inputs.name.replace('k', 'b') }}", "bite"),
        ("{{ inputs.name.indexOf('t') }}", "2"),
        ("{{ 'a,b'.split(',') | length }}", "2"),
        ("{{ inputs.list.size() }}", "3"),
        ("{{ inputs.list.get(0) }}", "1"),
        ("{{ inputs.list.contains(3) }}", "true"),
        ("{{ inputs.m.containsKey('a') }}", "true"),
        ("{{ inputs.m.get('b') }}", "x"),
        ("{{ inputs.m.keySet() }}", "[\"a\",\"b\"]"),
        ("{{ inputs.n.toString() ~ '!' }}", "3!"),
        ("{{ inputs.name.equals('kite') }}", "true"),
        ("{% for e in inputs.m %}{{ e.getKey() }}{% endfor %}", "ab"),
    ]);
    err_kind("{{ inputs.name.nope() }}", ExprErrorKind::Function);
}

#[test]
fn null_coalescing() {
    check_all(&[
        ("{{ inputs.missing ?? 'd' }}", "d"),
        ("{{ outputs.missing.value ?? 'x' }}", "x"),
        ("{{ missing ?? 'root' }}", "root"),
        ("{{ inputs.nul ?? 'null!' }}", "null!"),
        ("{{ inputs.name ?? 'd' }}", "kite"),
        ("{{ inputs.off ?? 'd' }}", "false"),
        ("{{ inputs.empty ?? 'd' }}", ""),
        ("{{ a.b ?? c.d ?? 'last' }}", "last"),
        ("{{ a.b ?? inputs.name ?? 'last' }}", "kite"),
        ("{{ inputs.missing ?? missing.too ?? inputs.n }}", "3"),
        ("{{ inputs.list[10] ?? 'oob' }}", "oob"),
        ("{{ outputs[taskrun.id].value ?? 'none' }}", "none"),
        ("{{ (inputs.missing | upper) ?? 'caught' }}", "caught"),
        ("{{ inputs.missing | upper ?? 'x' }}", "x"),
        ("{{ inputs.missing ?? 'a' ~ 'b' }}", "ab"),
        ("{{ fromJson(inputs.missing) ?? 'no json' }}", "no json"),
        ("{{ (inputs.missing == 1) ?? 'cmp' }}", "cmp"),
        ("{{ inputs.missing.deep.deeper ?? [1, 2] }}", "[1,2]"),
        (
            "{{ currentEachOutput(outputs.each) ?? 'null' }}",
            "{\"value\":\"B\"}",
        ),
        ("{{ currentEachOutput(outputs.t1) ?? 'null' }}", "null"),
    ]);
    assert_eq!(typed("{{ inputs.missing ?? [1] }}"), json!([1]));
    // the right-hand side stays strict
    err_kind(
        "{{ inputs.missing ?? other.missing }}",
        ExprErrorKind::Undefined,
    );
}

#[test]
fn undefined_coalescing() {
    check_all(&[
        ("{{ inputs.missing ??? 'd' }}", "d"),
        ("{{ inputs.nul ??? 'd' }}", ""),
        ("{{ inputs.name ??? 'd' }}", "kite"),
        ("{{ a.b ??? c.d ??? 'z' }}", "z"),
        ("{{ (inputs.nul ??? 'x') ?? 'y' }}", "y"),
        ("{{ (inputs.missing ?? null) ??? 'u' }}", ""),
    ]);
    assert_eq!(typed("{{ inputs.nul ??? 'd' }}"), json!(null));
}

#[test]
fn tests_operator() {
    check_all(&[
        ("{{ inputs.crash is defined }}", "false"),
        ("{{ inputs.a.b is defined }}", "false"),
        ("{{ inputs.name is defined }}", "true"),
        ("{{ inputs.nul is defined }}", "false"),
        ("{{ inputs.crash is not defined }}", "true"),
        ("{{ missing is null }}", "true"),
        ("{{ inputs.nul is null }}", "true"),
        ("{{ inputs.name is not null }}", "true"),
        ("{{ inputs.empty is empty }}", "true"),
        ("{{ inputs.blank is empty }}", "true"),
        ("{{ inputs.list is empty }}", "false"),
        ("{{ [] is empty }}", "true"),
        ("{{ {} is empty }}", "true"),
        ("{{ inputs.nul is empty }}", "true"),
        ("{{ inputs.list is not empty }}", "true"),
        ("{{ 4 is even }}", "true"),
        ("{{ 3 is even }}", "false"),
        ("{{ 3 is odd }}", "true"),
        ("{{ -3 is odd }}", "true"),
        ("{{ inputs.list is iterable }}", "true"),
        ("{{ inputs.m is iterable }}", "false"),
        ("{{ 'abc' is iterable }}", "false"),
        ("{{ inputs.m is map }}", "true"),
        ("{{ inputs.list is map }}", "false"),
        ("{{ inputs.json is json }}", "true"),
        ("{{ 'not json' is json }}", "false"),
        ("{{ 1 is json }}", "false"),
        ("{{ inputs.n + 1 is even }}", "true"),
        (
            "{% if inputs.crash is defined %}crash{% else %}ok{% endif %}",
            "ok",
        ),
    ]);
    err_kind("{{ 'x' is even }}", ExprErrorKind::TypeError);
    err_kind("{{ missing is empty }}", ExprErrorKind::Undefined);
    err_kind("{{ 1 is prime }}", ExprErrorKind::Syntax);
}

#[test]
fn precedence() {
    check_all(&[
        // `~` (110) binds tighter than `|` (100)
        ("{{ 'a' ~ 'b' | upper }}", "AB"),
        // `|` binds tighter than `+`
        ("{{ 1 + [1, 2] | length }}", "3"),
        // `??` (120) binds tighter than `~`
        ("{{ inputs.missing ?? 'a' ~ 'b' }}", "ab"),
        // `not` applies to the primary only (Pebble 3)
        ("{{ not false and false }}", "false"),
        ("{{ not (false and false) }}", "true"),
        // `is` (20) is looser than `==`
        ("{{ 2 == 2 is defined }}", "true"),
        ("{{ 1 + 1 * 2 == 3 and true }}", "true"),
    ]);
}

#[test]
fn if_tags() {
    check_all(&[
        ("{% if true %}yes{% endif %}", "yes"),
        ("{% if false %}yes{% else %}no{% endif %}", "no"),
        (
            "{% if inputs.n == 1 %}one{% elseif inputs.n == 3 %}three{% else %}other{% endif %}",
            "three",
        ),
        (
            "{% if inputs.n == 1 %}one{% elif inputs.n == 2 %}two{% else %}other{% endif %}",
            "other",
        ),
        ("{% if inputs.list %}non-empty{% endif %}", "non-empty"),
        ("{% if inputs.empty %}x{% else %}empty{% endif %}", "empty"),
        ("{% if inputs.nul %}x{% else %}null{% endif %}", "null"),
        ("{% if 0 %}x{% else %}zero{% endif %}", "zero"),
        (
            "{% if inputs.flag and not inputs.off %}both{% endif %}",
            "both",
        ),
    ]);
    err_kind("{% if missing %}x{% endif %}", ExprErrorKind::Undefined);
    err_kind("{% if true %}x", ExprErrorKind::Syntax);
    err_kind("{% endif %}", ExprErrorKind::Syntax);
}

#[test]
fn for_loops() {
    check_all(&[
        ("{% for x in inputs.list %}{{ x }}{% endfor %}", "123"),
        (
            "{% for x in inputs.list %}{{ loop.index }}{% endfor %}",
            "012",
        ),
        (
            "{% for x in inputs.list %}{{ loop.revindex }}{% endfor %}",
            "210",
        ),
        (
            "{% for x in inputs.list %}{{ loop.first }}/{{ loop.last }} {% endfor %}",
            "true/false false/false false/true ",
        ),
        (
            "{% for x in inputs.list %}{{ loop.length }}{% endfor %}",
            "333",
        ),
        ("{% for x in [] %}x{% else %}empty{% endfor %}", "empty"),
        (
            "{% for x in inputs.nul %}x{% else %}none{% endfor %}",
            "none",
        ),
        (
            "{% for e in inputs.m %}{{ e.key }}={{ e.value }};{% endfor %}",
            "a=1;b=x;",
        ),
        ("{% for e in inputs.m %}{{ e }} {% endfor %}", "a=1 b=x "),
        (
            "{% for row in [[1, 2], [3], []] %}[{% for c in row %}{{ c }}{% endfor %}]{% endfor %}",
            "[12][3][]",
        ),
        (
            "{% for i in range(1, 3) %}{% for j in range(1, 2) %}{{ i }}{{ j }} {% endfor %}{% endfor %}",
            "11 12 21 22 31 32 ",
        ),
        (
            "{% for log in errorLogs() %}{{ log.taskId }}: {{ log.message }}{% endfor %}",
            "t1: boom",
        ),
        (
            "{% for x in inputs.list %}{% if x is even %}{{ x }}{% endif %}{% endfor %}",
            "2",
        ),
    ]);
    err_kind(
        "{% for x in 'abc' %}{{ x }}{% endfor %}",
        ExprErrorKind::TypeError,
    );
    err_kind(
        "{% for x in missing %}{% endfor %}",
        ExprErrorKind::Undefined,
    );
}

#[test]
fn set_and_macros() {
    check_all(&[
        ("{% set x = 5 %}{{ x * 2 }}", "10"),
        ("{% set name = inputs.name | upper %}{{ name }}", "KITE"),
        (
            "{% set items = [1, 2] %}{% for i in items %}{{ i }}{% endfor %}",
            "12",
        ),
        (
            "{% macro greet(who, punct='!') %}Hi {{ who }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }}",
            "Hi a! Hi b?",
        ),
        (
            "{% filter upper %}hello {{ inputs.name }}{% endfilter %}",
            "HELLO KITE",
        ),
        (
            "{% filter lower | title %}HELLO WORLD{% endfilter %}",
            "Hello World",
        ),
        ("{% autoescape %}<b>{% endautoescape %}", "<b>"),
        ("{% block b %}in block{% endblock %}", "in block"),
    ]);
    err_kind("{% set true = 1 %}", ExprErrorKind::Syntax);
    err_kind("{% include 'x' %}", ExprErrorKind::Syntax);
    err_kind("{% unknown %}", ExprErrorKind::Syntax);
    err_kind("{{ undefinedMacro(1) }}", ExprErrorKind::Syntax);
}

#[test]
fn whitespace_comments_and_raw() {
    check_all(&[
        ("a {{- ' b ' -}} c", "a b c"),
        ("a\n  {%- if true %}\nx{%- endif %}", "a\nx"),
        ("a {# comment #} b", "a  b"),
        ("a {#- comment -#} b", "ab"),
        ("{# {{ not rendered }} #}ok", "ok"),
        ("{% raw %}{{ x }} {% if %}{% endraw %}", "{{ x }} {% if %}"),
        ("{% raw -%}   {{ x }}   {%- endraw %}", "{{ x }}"),
        ("{% verbatim %}{{ y }}{% endverbatim %}", "{{ y }}"),
        (
            "line1\n{% if true %}\nline2\n{% endif %}\nline3\n",
            "line1\n\nline2\n\nline3\n",
        ),
        ("{{ inputs.name }}\n", "kite\n"),
        ("}} %} #}", "}} %} #}"),
        ("a{ {{- 1 }}", "a{1"),
        ("{{ '{{ nested }}' }}", "{{ nested }}"),
        ("{ {{ '%' }} }", "{ % }"),
    ]);
    err_kind("{# unclosed", ExprErrorKind::Syntax);
    err_kind("{% raw %}unclosed", ExprErrorKind::Syntax);
}

#[test]
fn rendering_is_not_recursive() {
    assert_eq!(r("{{ vars.template }}"), "Hi {{ inputs.name }}");
    assert_eq!(r("{{ render(vars.template) }}"), "Hi kite");
    assert_eq!(r("{{ render(vars.deep) }}"), "Hi kite");
    assert_eq!(r("{{ renderOnce(vars.deep) }}"), "Hi {{ inputs.name }}");
    assert_eq!(
        r("{{ render(vars.deep, recursive=false) }}"),
        "Hi {{ inputs.name }}"
    );
}

#[test]
fn undefined_errors_name_the_expression() {
    let e = err("{{ foo.bar }}");
    assert_eq!(
        e.to_string(),
        "Unable to find `foo` used in the expression `{{ foo.bar }}` at line 1"
    );
    assert_eq!(e.kind(), ExprErrorKind::Undefined);
    let e = err("first\nsecond {{ inputs.name }}\nthird {{ inputs.nope.x }}");
    assert_eq!(
        e.to_string(),
        "Unable to find `nope` used in the expression `{{ inputs.nope.x }}` at line 3"
    );
    assert_eq!(e.line(), 3);
    assert_eq!(e.expression(), "{{ inputs.nope.x }}");
    let e = err("{% for x in inputs.list %}\n{{ x.missing }}{% endfor %}");
    assert_eq!(
        e.to_string(),
        "Unable to find `missing` used in the expression `{{ x.missing }}` at line 2"
    );
    let e = err("{% if outputs.t2.value == 1 %}{% endif %}");
    assert_eq!(
        e.to_string(),
        "Unable to find `t2` used in the expression `{% if outputs.t2.value == 1 %}` at line 1"
    );
    let e = err("{{ inputs.list[7] }}");
    assert_eq!(
        e.to_string(),
        "Unable to find `7` used in the expression `{{ inputs.list[7] }}` at line 1"
    );
    let e = err("{{ 'x' ~ render(vars.bad) }}");
    assert_eq!(e.kind(), ExprErrorKind::Undefined);
}

#[test]
fn other_errors_name_the_expression() {
    let e = err("a\n{{ inputs.name | upper ? }}");
    assert_eq!(e.kind(), ExprErrorKind::Syntax);
    assert_eq!(e.line(), 2);
    assert!(
        e.to_string()
            .contains("in the expression `{{ inputs.name | upper ? }}` at line 2"),
        "{e}"
    );
    let e = err("{{ secret('NOPE') }}");
    assert_eq!(e.kind(), ExprErrorKind::Function);
    assert_eq!(
        e.to_string(),
        "Cannot find secret for key 'NOPE'. in the expression `{{ secret('NOPE') }}` at line 1"
    );
    let e = err("x\n\n{{ 1 + true }}");
    assert_eq!(e.kind(), ExprErrorKind::TypeError);
    assert_eq!(e.line(), 3);
    let e = err("{{ inputs.name | abbreviate(-1) }}");
    assert_eq!(e.expression(), "{{ inputs.name | abbreviate(-1) }}");
    let e = err("{{ }}");
    assert_eq!(e.kind(), ExprErrorKind::Syntax);
    let e = err("{{ 'unterminated }}");
    assert_eq!(e.kind(), ExprErrorKind::Syntax);
    let e = err("{{ inputs.name | date('yyyy') }}");
    assert_eq!(e.kind(), ExprErrorKind::Function);
}

#[test]
fn unclosed_and_malformed_tags() {
    for t in [
        "{{ 1",
        "{% if",
        "{{ ) }}",
        "{{ [1, }}",
        "{{ a b }}",
        "{{ 1 ? 2 }}",
        "{{ f( }}",
        "{{ x. }}",
        "{{ 'a' 'b' }}",
    ] {
        let e = err(t);
        assert_eq!(e.kind(), ExprErrorKind::Syntax, "{t}: {e}");
    }
}
