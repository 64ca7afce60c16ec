//! Flows parsed and validated per second.
//!
//! `cargo bench -p kite-flow --bench validate`. Measures the project's example flows, a
//! generated 500-task flow, and, when the conformance corpus sits beside the checkout
//! (`../shared/conformance/kestra/valids`, or `KITE_BENCH_CORPUS=DIR`), the whole corpus
//! as one batch, which is the "validate the corpus in under 100 ms" goal.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn read_dir(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

fn big_flow(tasks: usize) -> String {
    let mut s = String::from("id: big\nnamespace: bench\ntasks:\n");
    for i in 0..tasks {
        s.push_str(&format!(
            "  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ inputs.x ?? {i} }}}}\"\n    retry: {{type: constant, interval: PT1S, maxAttempt: 2}}\n"
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples = read_dir(&root.join("../../examples/flows"));
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(examples.len() as u64));
    g.bench_function("examples", |b| {
        b.iter(|| {
            for s in &examples {
                black_box(kite_flow::parse_flow(s));
            }
        })
    });
    let big = big_flow(500);
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_flow_500_tasks", |b| {
        b.iter(|| black_box(kite_flow::parse_flow(&big)))
    });
    let corpus_dir = std::env::var_os("KITE_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../../shared/conformance/kestra/valids"));
    let corpus = read_dir(&corpus_dir);
    if !corpus.is_empty() {
        g.throughput(Throughput::Elements(corpus.len() as u64));
        g.bench_function(format!("corpus_{}_flows", corpus.len()), |b| {
            b.iter(|| {
                for s in &corpus {
                    black_box(kite_flow::parse_flows(s));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
