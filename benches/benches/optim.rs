//! Optimizer benchmarks.
//!
//! * `optim_adam_step/{seq,par}/<n>`: one Adam step (Keras defaults) on a
//!   single parameter of `n` elements, updated on the calling thread (`seq`,
//!   `parallel_threshold(usize::MAX)`) or with `Zip::par_for_each` (`par`,
//!   `parallel_threshold(0)`). `Throughput::Elements(n)`. The crossover picks
//!   `neurite_optim::DEFAULT_PARALLEL_THRESHOLD`.
//! * `optim_sgd_step/{seq,par}/<n>`: the same for plain SGD (the cheapest
//!   rule, so the one where threading overhead shows most).
//!
//! Run: `cargo bench -p neurite-benches --bench optim`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{ArrayD, IxDyn};
use neurite_autograd::Var;
use neurite_optim::{Adam, Optimizer, Sgd};
use std::time::Duration;

const SIZES: [usize; 7] = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22];

fn param(n: usize) -> Var {
    let w = Var::parameter(ArrayD::from_shape_fn(IxDyn(&[n]), |i| {
        (i[0] % 97) as f32 / 97.0 - 0.5
    }));
    w.set_grad(Some(ArrayD::from_shape_fn(IxDyn(&[n]), |i| {
        (i[0] % 13) as f32 / 13.0 - 0.5
    })));
    w
}

fn bench_rule(c: &mut Criterion, group_name: &str, make: &dyn Fn(usize) -> Box<dyn Optimizer>) {
    let mut group = c.benchmark_group(group_name);
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    for &n in &SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for (label, threshold) in [("seq", usize::MAX), ("par", 0)] {
            let w = param(n);
            let mut opt = make(threshold);
            group.bench_with_input(BenchmarkId::new(label, n), &n, |b, _| {
                b.iter(|| opt.step(&[("w", &w)]).unwrap())
            });
        }
    }
    group.finish();
}

fn optim(c: &mut Criterion) {
    bench_rule(c, "optim_adam_step", &|t| {
        Box::new(Adam::default().parallel_threshold(t))
    });
    bench_rule(c, "optim_sgd_step", &|t| {
        Box::new(Sgd::new(0.01).parallel_threshold(t))
    });
}

criterion_group!(benches, optim);
criterion_main!(benches);
