//! Rendering throughput for a typical Kestra expression mix.
//!
//! Run with `cargo bench -p kite-expr --bench render`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kite_expr::{Context, Engine, EngineConfig, TestHost};
use serde_json::json;

fn context() -> Context {
    let vars = json!({
        "flow": {"id": "hello", "namespace": "company.team"},
        "execution": {"id": "4wjLkzW3MTEy6cQdMgnFqb", "startDate": "2024-01-15T10:30:00.123456Z"},
        "inputs": {"name": "kite", "count": 42, "list": ["a", "b", "c", "d", "e"], "payload": {"id": 7, "tags": ["x", "y"]}},
        "outputs": {"fetch": {"uri": "kestra:///company/team/hello/file.json", "code": 200}, "each": {"a": {"value": 1}}},
        "taskrun": {"id": "tr1", "attemptsCount": 3, "value": "a"},
        "trigger": {"date": "2024-01-15T10:00:00Z"},
    });
    Context::new(vars, Arc::new(TestHost::default()))
}

const MIX: &[(&str, &str)] = &[
    (
        "plain_fast_path",
        "s3://bucket/some/static/path/without/expressions.csv",
    ),
    ("variable", "{{ inputs.name }}"),
    ("nested_path", "{{ outputs.fetch.uri }}"),
    (
        "filter_chain",
        "{{ inputs.name | upper | replace({'K': 'C'}) | default('x') }}",
    ),
    ("ternary", "{{ taskrun.attemptsCount == 3 ? 'ok' : 'ko' }}"),
    ("coalesce", "{{ outputs.missing.value ?? inputs.name }}"),
    (
        "concat_text",
        "Execution {{ execution.id }} of {{ flow.namespace }}.{{ flow.id }} started",
    ),
    ("date", "{{ trigger.date | date('yyyy-MM-dd') }}"),
    ("json", "{{ inputs.payload | toJson }}"),
    (
        "for_loop",
        "{% for x in inputs.list %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
    ),
];

fn bench(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default());
    let ctx = context();
    for (_, t) in MIX {
        engine.render(t, &ctx).expect("bench templates render");
    }

    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    for (name, t) in MIX {
        group.bench_function(*name, |b| {
            b.iter(|| engine.render(black_box(t), black_box(&ctx)))
        });
    }
    group.bench_function("typed_list", |b| {
        b.iter(|| engine.render_typed(black_box("{{ inputs.list }}"), &ctx))
    });
    group.finish();

    let mut mix = c.benchmark_group("mix");
    mix.throughput(Throughput::Elements(MIX.len() as u64));
    mix.bench_function("typical_kestra_mix", |b| {
        b.iter(|| {
            for (_, t) in MIX {
                black_box(engine.render(black_box(t), &ctx).ok());
            }
        })
    });
    let mut n = 0u64;
    mix.throughput(Throughput::Elements(1));
    mix.bench_function("uncached_compile", |b| {
        b.iter(|| {
            n += 1;
            let t = format!("{{{{ inputs.count + {n} }}}} {{{{ inputs.name | upper }}}}");
            black_box(engine.render(&t, &ctx).ok())
        })
    });
    mix.bench_function("context_creation_and_render", |b| {
        b.iter(|| {
            let ctx = context();
            black_box(engine.render("{{ inputs.name }}", &ctx).ok())
        })
    });
    mix.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
