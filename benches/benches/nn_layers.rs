//! Layer-level benchmarks of `neurite-nn`: a full training step of one layer
//! (forward through the autograd graph, sum of the output as the loss,
//! backward into the input and the parameters).
//!
//! * `dense_fwd_bwd/dense64_in100/b32`: `Dense(64)` on `(32, 100)`.
//! * `conv2d_layer_fwd_bwd/conv32_28x28x1/b32`: `Conv2D(32, (3, 3))` on `(32, 28, 28, 1)`.
//! * `conv2d_layer_fwd_bwd/conv64_13x13x32/b32`: `Conv2D(64, (3, 3))` on `(32, 13, 13, 32)`.
//!
//! Run: `cargo bench -p neurite-benches --bench nn_layers [--features openblas]`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurite_autograd::{ops, Var};
use neurite_nn::layers::{Conv2D, Dense};
use neurite_nn::{Activation, ForwardContext, Layer};
use neurite_tensor::random::{rng_from_seed, uniform};
use std::hint::black_box;
use std::time::Duration;

fn step(layer: &dyn Layer, x: &Var) {
    let y = layer
        .forward(x, &mut ForwardContext::training(0))
        .expect("forward");
    let loss = ops::sum_all(&y).expect("sum");
    loss.backward().expect("backward");
    for p in layer.parameters() {
        black_box(p.var.take_grad());
    }
    black_box(x.take_grad());
}

fn dense(c: &mut Criterion) {
    let mut g = c.benchmark_group("dense_fwd_bwd");
    g.sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut rng = rng_from_seed(0);
    let mut layer = Dense::new(64).activation(Activation::Relu);
    layer.build(&[100], &mut rng).expect("build");
    let x = Var::parameter(uniform(&[32, 100], -1.0, 1.0, &mut rng));
    g.throughput(Throughput::Elements(32));
    g.bench_function("dense64_in100/b32", |b| b.iter(|| step(&layer, &x)));
    g.finish();
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d_layer_fwd_bwd");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, (h, w, ch), filters) in [
        ("conv32_28x28x1", (28, 28, 1), 32),
        ("conv64_13x13x32", (13, 13, 32), 64),
    ] {
        let mut rng = rng_from_seed(1);
        let mut layer = Conv2D::new(filters, (3, 3)).activation(Activation::Relu);
        layer.build(&[h, w, ch], &mut rng).expect("build");
        let x = Var::parameter(uniform(&[32, h, w, ch], -1.0, 1.0, &mut rng));
        g.throughput(Throughput::Elements(32));
        g.bench_function(format!("{name}/b32"), |b| b.iter(|| step(&layer, &x)));
    }
    g.finish();
}

criterion_group!(benches, dense, conv);
criterion_main!(benches);
