//! Expression cost on the hot path: each watch event is evaluated against
//! every `--until`/`--when`/`--fail-if` condition. Target: ≤ 1 µs per eval on
//! a 5 KB object, regexes and filters included.

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kubectl_notify::expr::Expr;

/// One case per kind of expression SPEC §4 offers, as a user would write it.
const CASES: &[(&str, &str)] = &[
    ("equality", ".status.ready == true"),
    ("number", ".status.readyReplicas >= 3"),
    ("regex", ".spec.image =~ ':v1\\.[0-9]+\\.[0-9]+$'"),
    ("label", ".metadata.labels['app.kubernetes.io/name'] == web"),
    (
        "filter",
        ".status.conditions[?@.type=='Ready'].status == True",
    ),
    (
        "filter_regex",
        ".status.conditions[?@.reason =~ '^Minimum'].status == True",
    ),
    (
        "and_or",
        ".status.observedGeneration >= 7 && (.status.phase == Running || .status.phase == Succeeded) && .spec.paused != true",
    ),
];

fn object() -> serde_json::Value {
    // Eight managedFields entries bring the widget to about 5 KB.
    let object = common::widget(17, 1_000_002, 8);
    let size = common::wire_size(&object);
    assert!((4_500..=5_500).contains(&size), "object is {size} bytes");
    eprintln!("object of {size} bytes");
    object
}

fn eval(c: &mut Criterion) {
    let object = object();
    let mut group = c.benchmark_group("expr/eval");
    for (name, source) in CASES {
        let expr = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert!(expr.eval(&object), "{source} should hold on the fixture");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(&expr).eval(black_box(&object)))
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    // Once per run, before connecting: a filter, a regex and both connectives.
    let source = ".status.conditions[?@.type=='Ready'].status == True && .spec.image =~ ':v1\\.[0-9]+' || .status.phase == Failed";
    c.bench_function("expr/parse", |b| b.iter(|| Expr::parse(black_box(source))));
}

criterion_group!(benches, eval, parse);
criterion_main!(benches);
