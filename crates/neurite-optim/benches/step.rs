//! Step cost of the optimizers on the parameter set of a small MLP
//! (784-128-10: kernels 784x128 and 128x10, biases 128 and 10), the model of
//! the MLP training benchmark, and on one large tensor.
//!
//! * `optim_mlp_step/<optimizer>`: one step over the four MLP parameters.
//! * `optim_large_step/<optimizer>`: one step on a single 1 Mi-element tensor.
//!
//! Run: `cargo bench -p neurite-optim --bench step`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::{ArrayD, IxDyn};
use neurite_autograd::Var;
use neurite_optim::{Adam, Optimizer, Rmsprop, Sgd};
use std::hint::black_box;
use std::time::Duration;

fn param(shape: &[usize], seed: usize) -> Var {
    let n: usize = shape.iter().product();
    let fill = |f: &dyn Fn(usize) -> f32| {
        ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).expect("shape and length agree")
    };
    let w = Var::parameter(fill(&|i| ((i + seed) % 97) as f32 / 97.0 - 0.5));
    w.set_grad(Some(fill(&|i| ((i + seed) % 13) as f32 / 1300.0 - 0.005)));
    w
}

fn optimizers() -> Vec<(&'static str, Box<dyn Optimizer>)> {
    vec![
        ("sgd", Box::new(Sgd::new(1e-3))),
        ("sgd_momentum", Box::new(Sgd::new(1e-3).momentum(0.9))),
        ("rmsprop", Box::new(Rmsprop::new(1e-4))),
        ("adam", Box::new(Adam::new(1e-4))),
    ]
}

fn bench(c: &mut Criterion, group_name: &str, shapes: &[&[usize]]) {
    let params: Vec<(String, Var)> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("p{i}"), param(s, i)))
        .collect();
    let refs: Vec<(&str, &Var)> = params.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let elements: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    let mut group = c.benchmark_group(group_name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .throughput(Throughput::Elements(elements as u64));
    for (name, mut opt) in optimizers() {
        group.bench_function(name, |b| b.iter(|| opt.step(black_box(&refs)).unwrap()));
    }
    group.finish();
}

fn step(c: &mut Criterion) {
    bench(c, "optim_mlp_step", &[&[784, 128], &[128], &[128, 10], &[10]]);
    bench(c, "optim_large_step", &[&[1 << 20]]);
}

criterion_group!(benches, step);
criterion_main!(benches);
