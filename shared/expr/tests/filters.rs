//! Every filter, with positional and named arguments, nulls and errors.

mod common;

use common::{check_all, err_kind, r, typed};
use kite_expr::ExprErrorKind;
use serde_json::json;

#[test]
fn default_filter() {
    check_all(&[
        ("{{ inputs.missing | default('d') }}", "d"),
        ("{{ inputs.missing.deep.er | default('d') }}", "d"),
        ("{{ missing | default('root') }}", "root"),
        ("{{ inputs.nul | default('null') }}", "null"),
        ("{{ inputs.empty | default('empty') }}", "empty"),
        ("{{ inputs.blank | default('blank') }}", "blank"),
        ("{{ [] | default('no items') }}", "no items"),
        ("{{ inputs.name | default('d') }}", "kite"),
        ("{{ 0 | default('d') }}", "0"),
        ("{{ inputs.off | default('d') }}", "false"),
        ("{{ inputs.missing | default(default='named') }}", "named"),
        ("{{ inputs.missing | default(inputs.n) + 1 }}", "4"),
    ]);
    err_kind(
        "{{ inputs.name | default(missing.x) }}",
        ExprErrorKind::Undefined,
    );
}

#[test]
fn case_and_trim() {
    check_all(&[
        ("{{ 'Hello' | upper }}", "HELLO"),
        ("{{ 'Hello' | lower }}", "hello"),
        ("{{ 'hello world' | capitalize }}", "Hello world"),
        ("{{ '  hELLO' | capitalize }}", "  HELLO"),
        ("{{ 'hello big world' | title }}", "Hello Big World"),
        ("{{ '  padded \n' | trim }}", "padded"),
        ("{{ 12 | upper }}", "12"),
        ("{{ inputs.nul | upper }}", ""),
        ("{{ 'élan' | upper }}", "ÉLAN"),
    ]);
}

#[test]
fn replace_filter() {
    check_all(&[
        ("{{ 'hello' | replace({'l': 'L'}) }}", "heLLo"),
        ("{{ 'a-b_c' | replace({'-': '+', '_': '='}) }}", "a+b=c"),
        (
            "{{ 'a1b22' | replace({'[0-9]+': '#'}, regexp=true) }}",
            "a#b#",
        ),
        (
            "{{ 'John Smith' | replace({'(\\\\w+) (\\\\w+)': '$2 $1'}, regexp=true) }}",
            "Smith John",
        ),
        ("{{ 'a.b' | replace({'.': '!'}) }}", "a!b"),
        ("{{ 'a.b' | replace({'.': '!'}, regexp=true) }}", "!!!"),
        ("{{ 'hello' | replace('l', 'w') }}", "hewwo"),
        (
            "{{ ['ab', 'cb'] | replace({'b': 'x'}) }}",
            "[\"ax\",\"cx\"]",
        ),
        (
            "{{ {'k': 'ab', 'n': 1} | replace({'b': 'x'}) }}",
            "{\"k\":\"ax\",\"n\":\"1\"}",
        ),
        ("{{ 'abc' | replace(replace_pairs={'a': 'z'}) }}", "zbc"),
    ]);
    err_kind("{{ 'x' | replace() }}", ExprErrorKind::Function);
    err_kind(
        "{{ 'x' | replace({'(': 'y'}, regexp=true) }}",
        ExprErrorKind::Function,
    );
}

#[test]
fn split_and_join() {
    check_all(&[
        ("{{ 'a,b,c' | split(',') }}", "[\"a\",\"b\",\"c\"]"),
        ("{{ 'a,b,c' | split(',', 2) }}", "[\"a\",\"b,c\"]"),
        (
            "{{ 'a,b,c' | split(delimiter=',', limit=2) | last }}",
            "b,c",
        ),
        ("{{ 'a.b.c' | split('\\\\.') | length }}", "3"),
        ("{{ 'a1b2c' | split('[0-9]') | join('-') }}", "a-b-c"),
        ("{{ 'x,,y,,' | split(',') | length }}", "3"),
        ("{{ inputs.multi | split('\\n') | first }}", "line1"),
        ("{{ inputs.list | join(', ') }}", "1, 2, 3"),
        ("{{ inputs.list | join }}", "123"),
        ("{{ ['a', null, 1.5] | join('|') }}", "a|null|1.5"),
        ("{{ inputs.nul | join(',') }}", ""),
    ]);
    err_kind("{{ 'a' | split }}", ExprErrorKind::Function);
}

#[test]
fn length_first_last() {
    check_all(&[
        ("{{ inputs.list | length }}", "3"),
        ("{{ 'kite' | length }}", "4"),
        ("{{ 'héllo' | length }}", "5"),
        ("{{ inputs.m | length }}", "2"),
        ("{{ inputs.nul | length }}", "0"),
        ("{{ inputs.list | first }}", "1"),
        ("{{ inputs.list | last }}", "3"),
        ("{{ 'kite' | first }}", "k"),
        ("{{ 'kite' | last }}", "e"),
        ("{{ [] | first }}", ""),
    ]);
    err_kind("{{ 5 | first }}", ExprErrorKind::TypeError);
}

#[test]
fn keys_values() {
    check_all(&[
        ("{{ inputs.m | keys }}", "[\"a\",\"b\"]"),
        ("{{ inputs.m | values }}", "[1,\"x\"]"),
        ("{{ {'z': 1, 'a': 2} | keys | join(',') }}", "z,a"),
    ]);
    err_kind("{{ inputs.list | keys }}", ExprErrorKind::TypeError);
    err_kind("{{ 'x' | values }}", ExprErrorKind::TypeError);
}

#[test]
fn slice_filter() {
    check_all(&[
        ("{{ 'kestra' | slice(1, 4) }}", "est"),
        ("{{ 'kestra' | slice(2) }}", "stra"),
        ("{{ inputs.list | slice(1) }}", "[2,3]"),
        ("{{ inputs.list | slice(0, 2) }}", "[1,2]"),
        ("{{ inputs.list | slice(fromIndex=1, toIndex=2) }}", "[2]"),
    ]);
    err_kind("{{ 'abc' | slice(0, 10) }}", ExprErrorKind::TypeError);
    err_kind("{{ 'abc' | slice(2, 1) }}", ExprErrorKind::TypeError);
    err_kind("{{ 'abc' | slice(-1) }}", ExprErrorKind::TypeError);
    err_kind("{{ 5 | slice(1) }}", ExprErrorKind::TypeError);
}

#[test]
fn sort_reverse_merge() {
    check_all(&[
        ("{{ inputs.words | sort }}", "[\"a\",\"b\",\"c\"]"),
        ("{{ inputs.words | rsort }}", "[\"c\",\"b\",\"a\"]"),
        ("{{ [3, 1.5, 2] | sort }}", "[1.5,2,3]"),
        ("{{ inputs.words | reverse }}", "[\"c\",\"a\",\"b\"]"),
        ("{{ 'abc' | reverse }}", "cba"),
        ("{{ [1, 2] | merge([3]) }}", "[1,2,3]"),
        (
            "{{ {'a': 1} | merge({'b': 2, 'a': 3}) }}",
            "{\"a\":3,\"b\":2}",
        ),
        ("{{ inputs.nul | merge([1]) }}", "[1]"),
        ("{{ [1] | merge(null) }}", "[1]"),
    ]);
    err_kind("{{ 'x' | merge([1]) }}", ExprErrorKind::TypeError);
    err_kind("{{ 5 | sort }}", ExprErrorKind::TypeError);
}

#[test]
fn flatten_chunk_distinct() {
    check_all(&[
        ("{{ inputs.nested | flatten }}", "[1,2,3,4]"),
        ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", "[[1,2],[3,4],[5]]"),
        ("{{ [1, 2, 3] | chunk(size=3) | length }}", "1"),
        ("{{ [1, 2, 1, '1', 2.0] | distinct }}", "[1,2,\"1\"]"),
    ]);
    err_kind("{{ 'x' | flatten }}", ExprErrorKind::TypeError);
    err_kind("{{ [1] | chunk(0) }}", ExprErrorKind::TypeError);
    err_kind("{{ 'x' | chunk(2) }}", ExprErrorKind::TypeError);
}

#[test]
fn numbers() {
    check_all(&[
        ("{{ -5 | abs }}", "5"),
        ("{{ -2.5 | abs }}", "2.5"),
        ("{{ inputs.neg | abs }}", "4"),
        ("{{ 3.14159 | numberformat('#.##') }}", "3.14"),
        ("{{ 3.1 | numberformat('0.00') }}", "3.10"),
        ("{{ 1234567 | numberformat('#,###') }}", "1,234,567"),
        ("{{ 1234.5 | numberformat }}", "1,234.5"),
        ("{{ 1234.5 | numberFormat('#,##0.00') }}", "1,234.50"),
        ("{{ 0.256 | numberformat('#%') }}", "26%"),
        ("{{ '42' | number }}", "42"),
        ("{{ '4.5' | number }}", "4.5"),
        ("{{ '42' | number + 1 }}", "43"),
        ("{{ '42' | number('DOUBLE') }}", "42.0"),
        ("{{ '12' | number(type='LONG') * 2 }}", "24"),
        ("{{ 'x' | className }}", "java.lang.String"),
        ("{{ 1 | className }}", "java.lang.Integer"),
        ("{{ 10000000000 | className }}", "java.lang.Long"),
        ("{{ 1.5 | className }}", "java.lang.Double"),
        ("{{ true | className }}", "java.lang.Boolean"),
        ("{{ inputs.list | className }}", "java.util.ArrayList"),
        ("{{ inputs.m | className }}", "java.util.LinkedHashMap"),
    ]);
    assert_eq!(typed("{{ '42' | number }}"), json!(42));
    assert_eq!(typed("{{ '1.5' | number('FLOAT') }}"), json!(1.5));
    err_kind("{{ 'x' | abs }}", ExprErrorKind::TypeError);
    err_kind("{{ 'x' | numberformat('#') }}", ExprErrorKind::TypeError);
    err_kind("{{ 'abc' | number }}", ExprErrorKind::TypeError);
    err_kind("{{ 5 | number }}", ExprErrorKind::TypeError);
}

#[test]
fn abbreviate_and_slugify() {
    check_all(&[
        (
            "{{ 'this is a long sentence' | abbreviate(10) }}",
            "this is...",
        ),
        ("{{ 'short' | abbreviate(10) }}", "short"),
        ("{{ 'abcdef' | abbreviate(2) }}", "ab"),
        ("{{ 'Hello World!' | slugify }}", "hello-world"),
        ("{{ '  Ça va? _très_ bien ' | slugify }}", "ca-va-tres-bien"),
    ]);
}

#[test]
fn substrings_and_affixes() {
    check_all(&[
        ("{{ 'a.b.c' | substringBefore('.') }}", "a"),
        ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
        ("{{ 'a.b.c' | substringAfter('.') }}", "b.c"),
        ("{{ 'a.b.c' | substringAfterLast('.') }}", "c"),
        ("{{ 'abc' | substringBefore('x') }}", "abc"),
        ("{{ 'abc' | substringAfter('x') }}", ""),
        ("{{ 'kestra.io' | startsWith('kes') }}", "true"),
        ("{{ 'kestra.io' | endsWith('.io') }}", "true"),
        ("{{ 'kestra.io' | endsWith(value='.com') }}", "false"),
    ]);
}

#[test]
fn escaping() {
    check_all(&[
        ("{{ \"it's\" | escapeChar('single') }}", "it\\'s"),
        ("{{ 'say \"x\"' | escapeChar('double') }}", "say \\\"x\\\""),
        ("{{ \"it's\" | escapeChar('shell') }}", "it'\\''s"),
        ("{{ [\"a'b\"] | escapeChar('single') | first }}", "a\\'b"),
        (
            "{{ '<a href=\"x\">&</a>' | escape }}",
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;",
        ),
        ("{{ '<b>' | raw }}", "<b>"),
        ("{{ '<b>' }}", "<b>"),
    ]);
    err_kind("{{ 'x' | escapeChar('triple') }}", ExprErrorKind::Function);
    err_kind("{{ 'x' | escapeChar }}", ExprErrorKind::Function);
}

#[test]
fn indentation() {
    check_all(&[
        ("{{ 'a\nb\nc' | indent(2) }}", "a\n  b\n  c"),
        ("{{ 'a\nb' | nindent(2) }}", "\n  a\n  b"),
        ("{{ 'a\r\nb' | indent(1, '>') }}", "a\r\n>b"),
        ("{{ '' | indent(4) }}", ""),
        (
            "key:{{ inputs.m | yaml | nindent(2) }}",
            "key:\n  a: 1\n  b: x\n  ",
        ),
    ]);
    err_kind("{{ 'a' | indent }}", ExprErrorKind::Function);
    err_kind("{{ 'a' | indent(-1) }}", ExprErrorKind::Function);
}

#[test]
fn url_and_base64() {
    check_all(&[
        ("{{ 'a b&c=d/é' | urlencode }}", "a+b%26c%3Dd%2F%C3%A9"),
        ("{{ 'a+b%26c%3Dd' | urldecode }}", "a b&c=d"),
        ("{{ 'hello' | base64encode }}", "aGVsbG8="),
        ("{{ 'aGVsbG8=' | base64decode }}", "hello"),
        ("{{ 'héllo' | base64encode | base64decode }}", "héllo"),
    ]);
    err_kind("{{ '!!!' | base64decode }}", ExprErrorKind::Function);
}

#[test]
fn hashes() {
    check_all(&[
        (
            "{{ 'abc' | sha256 }}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "{{ 'abc' | sha1 }}",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        ("{{ 'abc' | md5 }}", "900150983cd24fb0d6963f7d28e17f72"),
        (
            "{{ 'abc' | sha512 }}",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ]);
}

#[test]
fn json_and_yaml() {
    check_all(&[
        ("{{ inputs.m | toJson }}", "{\"a\":1,\"b\":\"x\"}"),
        ("{{ inputs.m | json }}", "{\"a\":1,\"b\":\"x\"}"),
        ("{{ 'quote\"d' | toJson }}", "\"quote\\\"d\""),
        ("{{ inputs.nul | toJson }}", "null"),
        ("{{ 1.5 | toJson }}", "1.5"),
        ("{{ [1, {'a': [true]}] | toJson }}", "[1,{\"a\":[true]}]"),
        ("{{ inputs.m | yaml }}", "a: 1\nb: x\n"),
        ("{{ [1, 'two'] | yaml }}", "- 1\n- two\n"),
        ("{{ 'text' | yaml }}", "text\n"),
        ("{{ inputs.nul | yaml }}", "null"),
    ]);
}

#[test]
fn jq_filter() {
    check_all(&[
        ("{{ inputs.m | jq('.a') }}", "[1]"),
        ("{{ inputs.m | jq('.a') | first }}", "1"),
        ("{{ inputs.list | jq('.[]') }}", "[1,2,3]"),
        ("{{ inputs.list | jq('map(. * 2)') | first }}", "[2,4,6]"),
        ("{{ inputs.json | jq('.k | length') | first }}", "2"),
        (
            "{{ {'items': [{'n': 1}, {'n': 5}]} | jq('.items[] | select(.n > 2) | .n') }}",
            "[5]",
        ),
        (
            "{{ inputs.m | jq(expression='keys') | first | join(',') }}",
            "a,b",
        ),
        ("{{ inputs.m | jq('.missing') }}", "[null]"),
    ]);
    assert_eq!(typed("{{ inputs.list | jq('.[0]') }}"), json!([1]));
    err_kind("{{ inputs.m | jq('.a[') }}", ExprErrorKind::Function);
    err_kind("{{ 'not json' | jq('.') }}", ExprErrorKind::Function);
    err_kind(
        "{{ inputs.m | jq('error(\"x\")') }}",
        ExprErrorKind::Function,
    );
}

#[test]
fn unknown_filters_and_arguments() {
    err_kind("{{ 'x' | nope }}", ExprErrorKind::Syntax);
    err_kind("{{ 'x' | upper(1) }}", ExprErrorKind::TypeError);
    err_kind("{{ 'x' | abbreviate(size=1) }}", ExprErrorKind::TypeError);
    assert!(r("{{ 'x' | upper }}") == "X");
}
