//! Every function, and the date filters (`date`, `dateAdd`, `timestamp*`).

mod common;

use std::sync::Arc;

use common::{check_all, ctx, engine, err_kind, r, typed, vars};
use kite_expr::{Context, ExprErrorKind, NoHost};
use serde_json::json;

#[test]
fn now_uses_the_host_clock() {
    check_all(&[
        ("{{ now() }}", "2024-01-15T10:30:00.123456Z"),
        ("{{ now(format='yyyy-MM-dd') }}", "2024-01-15"),
        ("{{ now('iso_sec') }}", "2024-01-15T10:30:00Z"),
        (
            "{{ now(timeZone='Europe/Paris') }}",
            "2024-01-15T11:30:00.123456+01:00",
        ),
        (
            "{{ now(format='HH:mm', timeZone='America/New_York') }}",
            "05:30",
        ),
        ("{{ now() | date('EEEE') }}", "Monday"),
    ]);
    err_kind(
        "{{ now(timeZone='Nowhere/Land') }}",
        ExprErrorKind::Function,
    );
    err_kind("{{ now(zone='UTC') }}", ExprErrorKind::TypeError);
}

#[test]
fn json_and_yaml_parsing() {
    check_all(&[
        ("{{ fromJson('{\"a\": [1, 2]}').a[1] }}", "2"),
        ("{{ json('[1, 2, 3]') | length }}", "3"),
        ("{{ fromJson(inputs.json).k }}", "[1,2]"),
        ("{{ fromJson('\"s\"') }}", "s"),
        ("{{ fromJson(inputs.nul) ?? 'null' }}", "null"),
        ("{{ yaml('a: 1\nb: [x, z]').b[1] }}", "z"),
        ("{{ yaml('flag: yes').flag }}", "true"),
        ("{{ yaml('- 1\n- 2') | length }}", "2"),
    ]);
    assert_eq!(
        typed("{{ fromJson('{\"a\": {\"b\": true}}') }}"),
        json!({"a": {"b": true}})
    );
    err_kind("{{ fromJson('{bad') }}", ExprErrorKind::Function);
    err_kind("{{ yaml('a: [') }}", ExprErrorKind::Function);
}

#[test]
fn host_functions() {
    check_all(&[
        ("{{ secret('API_KEY') }}", "s3cr3t"),
        ("{{ secret(key='API_KEY') | length }}", "6"),
        ("{{ read('kestra:///hello/file.txt') }}", "file content"),
        ("{{ fileSize('kestra:///hello/file.txt') }}", "12"),
        ("{{ fileExists('kestra:///hello/file.txt') }}", "true"),
        ("{{ fileExists('kestra:///nope') }}", "false"),
        ("{{ isFileEmpty('kestra:///hello/empty.txt') }}", "true"),
        ("{{ isFileEmpty('kestra:///hello/file.txt') }}", "false"),
        ("{{ kv('counter') + 1 }}", "43"),
        ("{{ kv('color', namespace='other.ns') }}", "blue"),
        (
            "{{ kv('nope', errorOnMissing=false) ?? 'absent' }}",
            "absent",
        ),
        ("{{ errorLogs()[0].message }}", "boom"),
        ("{{ errorLogs() | length }}", "1"),
    ]);
    err_kind("{{ secret('NOPE') }}", ExprErrorKind::Function);
    err_kind("{{ read('kestra:///nope') }}", ExprErrorKind::Function);
    err_kind("{{ fileSize('kestra:///nope') }}", ExprErrorKind::Function);
    err_kind(
        "{{ kv('nope', errorOnMissing=true) }}",
        ExprErrorKind::Function,
    );
    assert_eq!(r("{{ kv('nope') ?? 'none' }}"), "none");
    err_kind("{{ secret() }}", ExprErrorKind::Function);
}

#[test]
fn no_host_refuses_io() {
    let ctx = Context::new(vars(), Arc::new(NoHost));
    let e = engine().render("{{ secret('X') }}", &ctx).unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Function);
    assert!(
        e.to_string().starts_with("secret() is not available here"),
        "{e}"
    );
    for t in [
        "{{ read('x') }}",
        "{{ kv('x') }}",
        "{{ fileSize('x') }}",
        "{{ fileExists('x') }}",
    ] {
        assert_eq!(
            engine().render(t, &ctx).unwrap_err().kind(),
            ExprErrorKind::Function,
            "{t}"
        );
    }
    assert_eq!(
        engine().render("{{ errorLogs() | length }}", &ctx).unwrap(),
        "0"
    );
    assert_eq!(
        engine().render("{{ now('iso_sec') }}", &ctx).unwrap(),
        "1970-01-01T00:00:00Z"
    );
}

#[test]
fn render_functions() {
    check_all(&[
        ("{{ render('{{ inputs.name }}') }}", "kite"),
        ("{{ render(vars.template) | upper }}", "HI KITE"),
        ("{% set who = 'local' %}{{ render('{{ who }}') }}", "local"),
        (
            "{% for x in [1, 2] %}{{ render('{{ x * 10 }}') }}{% endfor %}",
            "1020",
        ),
        ("{{ render('plain') }}", "plain"),
        ("{{ render(5) }}", "5"),
        ("{{ renderOnce(vars.deep) }}", "Hi {{ inputs.name }}"),
        (
            "{{ render('{% raw %}{{ kept }}{% endraw %}') }}",
            "{{ kept }}",
        ),
    ]);
    err_kind("{{ render('{{ nope }}') }}", ExprErrorKind::Undefined);
    err_kind(
        "{{ render(vars.template, recursive='yes') }}",
        ExprErrorKind::TypeError,
    );
}

#[test]
fn render_recursion_is_bounded() {
    let ctx = ctx().with_var("loop1", json!("{{ render(loop1) }}"));
    let e = engine().render("{{ render(loop1) }}", &ctx).unwrap_err();
    assert_eq!(e.kind(), ExprErrorKind::Limit, "{e}");
}

#[test]
fn current_each_output() {
    let base = ctx();
    assert_eq!(r("{{ currentEachOutput(outputs.each).value }}"), "B");
    let nested = base
        .with_var("parents", json!([{"taskrun": {"value": "x"}}]))
        .with_var("taskrun", json!({"value": "b"}));
    assert_eq!(
        engine()
            .render("{{ currentEachOutput(outputs.nestedEach).value }}", &nested)
            .unwrap(),
        "XB"
    );
    let missing = base.with_var("parents", json!([{"taskrun": {"value": "zzz"}}]));
    assert_eq!(
        engine()
            .render(
                "{{ currentEachOutput(outputs.nestedEach) ?? 'null' }}",
                &missing
            )
            .unwrap(),
        "null"
    );
    err_kind("{{ currentEachOutput('x') }}", ExprErrorKind::Function);
    err_kind(
        "{{ currentEachOutput(outputs.nope) }}",
        ExprErrorKind::Undefined,
    );
}

#[test]
fn range_min_max() {
    check_all(&[
        ("{{ range(1, 3) }}", "[1,2,3]"),
        ("{{ range(0, 6, 2) | join(',') }}", "0,2,4,6"),
        ("{{ range(5, 1, -2) }}", "[5,3,1]"),
        ("{{ range(start=1, end=2) }}", "[1,2]"),
        ("{{ min(3, 1, 2) }}", "1"),
        ("{{ max(3, 1.5, 2) }}", "3"),
        ("{{ max(inputs.list) }}", "3"),
        ("{{ min('b', 'a') }}", "a"),
    ]);
    err_kind("{{ max(1, 'a') }}", ExprErrorKind::TypeError);
    err_kind("{{ range(0, 5000000) }}", ExprErrorKind::Limit);
}

#[test]
fn ids_and_random() {
    let u = r("{{ uuid() }}");
    assert_eq!(u.len(), 36);
    assert_ne!(u, r("{{ uuid() }}"));
    assert_eq!(r("{{ id() }}").len(), 22);
    for _ in 0..50 {
        let n: i64 = r("{{ randomInt(5, 8) }}").parse().unwrap();
        assert!((5..8).contains(&n));
    }
    err_kind("{{ randomInt(5, 5) }}", ExprErrorKind::Function);
}

#[test]
fn print_context() {
    let v = typed("{{ printContext() }}");
    assert_eq!(v["flow"]["id"], json!("hello"));
    assert!(v.get("__kite_result").is_none());
    let v = typed("{{ fetchContext().inputs.name }}");
    assert_eq!(v, json!("kite"));
}

#[test]
fn unknown_function() {
    err_kind("{{ nope() }}", ExprErrorKind::Syntax);
}

#[test]
fn date_filter() {
    check_all(&[
        ("{{ inputs.date | date('yyyy-MM-dd') }}", "2024-03-05"),
        ("{{ inputs.date | date }}", "2024-03-05T14:07:09.500000Z"),
        (
            "{{ inputs.date | date('iso') }}",
            "2024-03-05T14:07:09.500000Z",
        ),
        (
            "{{ inputs.date | date('iso_sec') }}",
            "2024-03-05T14:07:09Z",
        ),
        (
            "{{ inputs.date | date('sql') }}",
            "2024-03-05 14:07:09.500000",
        ),
        ("{{ inputs.date | date('sql_seq') }}", "2024-03-05 14:07:09"),
        ("{{ inputs.date | date('iso_date') }}", "2024-03-05Z"),
        ("{{ inputs.date | date('iso_local_date') }}", "2024-03-05"),
        (
            "{{ inputs.date | date('iso_local_date_time') }}",
            "2024-03-05T14:07:09.5",
        ),
        (
            "{{ inputs.date | date('iso_instant') }}",
            "2024-03-05T14:07:09.500Z",
        ),
        (
            "{{ inputs.date | date('iso_date_time') }}",
            "2024-03-05T14:07:09.5Z[UTC]",
        ),
        ("{{ inputs.date | date('iso_local_time') }}", "14:07:09.5"),
        ("{{ inputs.date | date('iso_ordinal_date') }}", "2024-065Z"),
        ("{{ inputs.date | date('iso_week_date') }}", "2024-W10-2Z"),
        (
            "{{ inputs.date | date('rfc_1123_date_time') }}",
            "Tue, 5 Mar 2024 14:07:09 GMT",
        ),
        (
            "{{ inputs.date | date(\"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\") }}",
            "2024-03-05T14:07:09.500Z",
        ),
        ("{{ inputs.date | date('EEE, MMMM d') }}", "Tue, March 5"),
        ("{{ inputs.date | date('hh:mm a') }}", "02:07 PM"),
        (
            "{{ inputs.date | date('HH:mm', timeZone='Asia/Tokyo') }}",
            "23:07",
        ),
        (
            "{{ inputs.date | date('yyyy-MM-dd HH:mm XXX', timeZone='Europe/Paris') }}",
            "2024-03-05 15:07 +01:00",
        ),
        (
            "{{ inputs.date | date(format='dd/MM/yyyy', timeZone='UTC') }}",
            "05/03/2024",
        ),
        (
            "{{ '05/03/2024' | date('yyyy-MM-dd', existingFormat='dd/MM/yyyy') }}",
            "2024-03-05",
        ),
        (
            "{{ '2024-03-05' | date('iso_sec') }}",
            "2024-03-05T00:00:00Z",
        ),
        (
            "{{ '2024-03-05T10:00:00' | date('iso_sec', timeZone='Europe/Paris') }}",
            "2024-03-05T10:00:00+01:00",
        ),
        (
            "{{ '2024-03-05T10:00:00+02:00' | date('iso_sec') }}",
            "2024-03-05T08:00:00Z",
        ),
        ("{{ 0 | date('iso_sec') }}", "1970-01-01T00:00:00Z"),
        ("{{ 1700000000 | date('yyyy') }}", "2023"),
        (
            "{{ inputs.date | date('medium') }}",
            "Mar 5, 2024, 2:07:09 PM",
        ),
        ("{{ inputs.nul | date('yyyy') }}", ""),
    ]);
    err_kind("{{ 'yesterday' | date('yyyy') }}", ExprErrorKind::Function);
    err_kind(
        "{{ inputs.date | date('yyyy-MM-dd ppp') }}",
        ExprErrorKind::Function,
    );
    err_kind("{{ inputs.list | date }}", ExprErrorKind::TypeError);
}

#[test]
fn date_add_filter() {
    check_all(&[
        (
            "{{ inputs.date | dateAdd(1, 'DAYS') }}",
            "2024-03-06T14:07:09.500000Z",
        ),
        (
            "{{ inputs.date | dateAdd(-2, 'HOURS', 'iso_sec') }}",
            "2024-03-05T12:07:09Z",
        ),
        (
            "{{ inputs.date | dateAdd(amount=30, unit='SECONDS', format='HH:mm:ss') }}",
            "14:07:39",
        ),
        (
            "{{ inputs.date | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}",
            "2024-04-05",
        ),
        (
            "{{ '2024-01-31' | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}",
            "2024-02-29",
        ),
        ("{{ inputs.date | dateAdd(1, 'YEARS', 'yyyy') }}", "2025"),
        (
            "{{ inputs.date | dateAdd(2, 'WEEKS', 'yyyy-MM-dd') }}",
            "2024-03-19",
        ),
        (
            "{{ inputs.date | dateAdd(500, 'MILLIS', 'HH:mm:ss.SSS') }}",
            "14:07:10.000",
        ),
        (
            "{{ now() | dateAdd(-1, 'DAYS', 'yyyy-MM-dd') }}",
            "2024-01-14",
        ),
    ]);
    err_kind(
        "{{ inputs.date | dateAdd(1, 'FORTNIGHTS') }}",
        ExprErrorKind::Function,
    );
    err_kind("{{ inputs.date | dateAdd(1) }}", ExprErrorKind::Function);
}

#[test]
fn timestamps() {
    check_all(&[
        ("{{ inputs.date | timestamp }}", "1709647629"),
        ("{{ inputs.date | timestampMicro }}", "1709647629500000"),
        ("{{ inputs.date | timestampNano }}", "1709647629500000000"),
        (
            "{{ '2024-03-05T10:00:00' | timestamp(timeZone='Europe/Paris') }}",
            "1709629200",
        ),
        (
            "{{ '05/03/2024' | timestamp(existingFormat='dd/MM/yyyy') }}",
            "1709596800",
        ),
    ]);
    assert_eq!(typed("{{ inputs.date | timestamp }}"), json!(1_709_647_629));
    assert_eq!(
        typed("{{ inputs.date | timestampNano }}"),
        json!("1709647629500000000")
    );
}
