//! Recurrent-layer benchmarks of `neurite-nn` (the fused one-node LSTM/GRU).
//!
//! * `lstm_fwd_bwd/lstm64_t20_f100/b32`: `LSTM(64)` on `(32, 20, 100)`:
//!   forward through the autograd graph, sum of the output as the loss,
//!   backward into the parameters (the input is data, as for a first layer).
//! * `lstm_fwd/lstm64_t20_f100/b32`: the same forward alone, inference mode under `no_grad`.
//! * `lstm_fwd_bwd/lstm64_seq_t20_f100/b32`: `return_sequences=true`, gradient also into the input
//!   (as for a stacked LSTM's second layer).
//! * `gru_fwd_bwd/gru64_t20_f100/b32`: `GRU(64)` on the same input.
//!
//! Run: `cargo bench -p neurite-benches --bench lstm [--features openblas]`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurite_autograd::{no_grad, ops, Var};
use neurite_nn::layers::{GRU, LSTM};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::random::{rng_from_seed, uniform};
use std::hint::black_box;
use std::time::Duration;

const BATCH: usize = 32;
const STEPS: usize = 20;
const FEATURES: usize = 100;
const UNITS: usize = 64;

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

fn built<L: Layer>(mut layer: L) -> L {
    layer
        .build(&[STEPS, FEATURES], &mut rng_from_seed(0))
        .expect("build");
    layer
}

fn input(requires_grad: bool) -> Var {
    let t = uniform(&[BATCH, STEPS, FEATURES], -1.0, 1.0, &mut rng_from_seed(1));
    if requires_grad {
        Var::parameter(t)
    } else {
        Var::constant(t)
    }
}

fn lstm(c: &mut Criterion) {
    let mut g = c.benchmark_group("lstm_fwd_bwd");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(BATCH as u64));
    let layer = built(LSTM::new(UNITS));
    let x = input(false);
    g.bench_function("lstm64_t20_f100/b32", |b| b.iter(|| step(&layer, &x)));
    let seq = built(LSTM::new(UNITS).return_sequences(true));
    let xg = input(true);
    g.bench_function("lstm64_seq_t20_f100/b32", |b| b.iter(|| step(&seq, &xg)));
    g.finish();

    let mut g = c.benchmark_group("lstm_fwd");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("lstm64_t20_f100/b32", |b| {
        b.iter(|| {
            let y = no_grad(|| layer.forward(&x, &mut ForwardContext::inference())).expect("forward");
            black_box(y);
        })
    });
    g.finish();
}

fn gru(c: &mut Criterion) {
    let mut g = c.benchmark_group("gru_fwd_bwd");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(BATCH as u64));
    let layer = built(GRU::new(UNITS));
    let x = input(false);
    g.bench_function("gru64_t20_f100/b32", |b| b.iter(|| step(&layer, &x)));
    g.finish();
}

criterion_group!(benches, lstm, gru);
criterion_main!(benches);
