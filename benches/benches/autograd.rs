//! Autograd benchmarks.
//!
//! * `autograd_chain/<n>_elems`: a chain of 1,000 small element-wise ops
//!   (`mul`, `add`, `tanh`, `mul_scalar` in turn, each reading a shared
//!   parameter) on tensors of `n` = 1 or 16 elements, forward + backward.
//!   `Throughput::Elements(1000)`: elements/s are ops/s, so time per op is
//!   the reported time / 1000. This is the graph machinery's overhead per
//!   op (node allocation, closure, topological sort, gradient routing).
//! * `autograd_mlp_step/{autograd,raw_kernels}`: one training step (forward,
//!   loss, backward; no optimizer update) of Dense(64, relu) -> Dense(10,
//!   softmax) at batch 32 on 100 input features with sparse categorical
//!   cross-entropy. `autograd` writes it with `neurite_autograd::ops`
//!   (matmul + bias + relu, matmul + bias, sparse softmax CE, mean,
//!   backward); `raw_kernels` is the same computation by hand with ndarray
//!   and the same GEMM kernel (`matmul_t`), forward and backward written out.
//!
//! * `autograd_conv_relu/{separate,fused}`: Conv2D(64, 3x3) + ReLU on
//!   (32, 13, 13, 32) (the MNIST CNN's second conv), forward + backward into
//!   input, kernel and bias: `relu(conv2d(..))` (two nodes) vs the fused
//!   `conv2d_relu` (one node, relu in place, mask from the saved output).
//!
//! Run: `cargo bench -p neurite-benches --bench autograd`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::{Array1, Array2, Axis, Zip};
use neurite_autograd::{ops, Tensor, Var};
use neurite_tensor::gemm::matmul_t;
use neurite_tensor::random::{rng_from_seed, uniform};
use std::hint::black_box;
use std::time::Duration;

const CHAIN: usize = 1000;

fn chain(w: &Var) -> Var {
    let mut y = w.clone();
    for i in 0..CHAIN {
        y = match i % 4 {
            0 => ops::mul(&y, w),
            1 => ops::add(&y, w),
            2 => ops::tanh(&y),
            _ => ops::mul_scalar(&y, 0.5),
        }
        .unwrap();
    }
    y
}

fn bench_chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("autograd_chain");
    g.throughput(Throughput::Elements(CHAIN as u64));
    for n in [1usize, 16] {
        let w = Var::parameter(Tensor::from_elem(ndarray::IxDyn(&[n]), 0.3));
        g.bench_function(format!("{n}_elems"), |b| {
            b.iter(|| {
                let y = chain(&w);
                ops::sum_all(&y).unwrap().backward().unwrap();
                w.zero_grad();
            })
        });
    }
    g.finish();
}

struct Mlp {
    x: Array2<f32>,
    labels: Vec<usize>,
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
}

fn mlp() -> Mlp {
    let mut rng = rng_from_seed(42);
    let two = |t: Tensor| t.into_dimensionality::<ndarray::Ix2>().unwrap();
    let one = |t: Tensor| t.into_dimensionality::<ndarray::Ix1>().unwrap();
    Mlp {
        x: two(uniform(&[32, 100], -1.0, 1.0, &mut rng)),
        labels: (0..32).map(|i| (i * 7) % 10).collect(),
        w1: two(uniform(&[100, 64], -0.2, 0.2, &mut rng)),
        b1: one(uniform(&[64], -0.1, 0.1, &mut rng)),
        w2: two(uniform(&[64, 10], -0.3, 0.3, &mut rng)),
        b2: one(uniform(&[10], -0.1, 0.1, &mut rng)),
    }
}

/// Forward + backward with autograd ops; returns the loss.
fn step_autograd(x: &Var, labels: &[usize], p: &[Var; 4]) -> f32 {
    let [w1, b1, w2, b2] = p;
    let h = ops::relu(&ops::add(&ops::matmul(x, w1).unwrap(), b1).unwrap()).unwrap();
    let logits = ops::add(&ops::matmul(&h, w2).unwrap(), b2).unwrap();
    let loss = ops::mean_all(&ops::sparse_softmax_cross_entropy(&logits, labels).unwrap()).unwrap();
    let value = loss.item().unwrap();
    loss.backward().unwrap();
    for v in p {
        black_box(v.take_grad());
    }
    value
}

/// The same step by hand: forward, softmax CE, and the backward pass written out.
fn step_raw(m: &Mlp) -> (f32, [Tensor; 4]) {
    let n = m.x.nrows() as f32;
    let mut z1 = matmul_t(m.x.view(), false, m.w1.view(), false).unwrap();
    z1 += &m.b1;
    let h = z1.mapv(|v| v.max(0.0));
    let mut z2 = matmul_t(h.view(), false, m.w2.view(), false).unwrap();
    z2 += &m.b2;
    // Softmax rows, loss, and dz2 = (p - onehot) / n in place.
    let mut loss = 0.0f32;
    for (mut row, &label) in z2.axis_iter_mut(Axis(0)).zip(&m.labels) {
        let mx = row.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
        let mut s = 0.0;
        row.mapv_inplace(|v| {
            let e = (v - mx).exp();
            s += e;
            e
        });
        row.mapv_inplace(|e| e / s);
        loss -= row[label].ln();
        row[label] -= 1.0;
        row.mapv_inplace(|v| v / n);
    }
    let dz2 = z2;
    let dw2 = matmul_t(h.view(), true, dz2.view(), false).unwrap();
    let db2 = dz2.sum_axis(Axis(0));
    let mut dh = matmul_t(dz2.view(), false, m.w2.view(), true).unwrap();
    Zip::from(&mut dh).and(&h).for_each(|d, &h| {
        if h <= 0.0 {
            *d = 0.0
        }
    });
    let dw1 = matmul_t(m.x.view(), true, dh.view(), false).unwrap();
    let db1 = dh.sum_axis(Axis(0));
    (
        loss / n,
        [dw1.into_dyn(), db1.into_dyn(), dw2.into_dyn(), db2.into_dyn()],
    )
}

fn bench_mlp(c: &mut Criterion) {
    let m = mlp();
    let x = Var::constant(m.x.clone().into_dyn());
    let params = [
        Var::parameter(m.w1.clone().into_dyn()),
        Var::parameter(m.b1.clone().into_dyn()),
        Var::parameter(m.w2.clone().into_dyn()),
        Var::parameter(m.b2.clone().into_dyn()),
    ];
    // Both paths compute the same loss and gradients.
    let (raw_loss, raw_grads) = step_raw(&m);
    let [w1, b1, w2, b2] = &params;
    let h = ops::relu(&ops::add(&ops::matmul(&x, w1).unwrap(), b1).unwrap()).unwrap();
    let logits = ops::add(&ops::matmul(&h, w2).unwrap(), b2).unwrap();
    let loss = ops::mean_all(&ops::sparse_softmax_cross_entropy(&logits, &m.labels).unwrap()).unwrap();
    assert!((loss.item().unwrap() - raw_loss).abs() < 1e-4);
    loss.backward().unwrap();
    for (p, r) in params.iter().zip(&raw_grads) {
        let g = p.take_grad().unwrap();
        assert!(g.iter().zip(r.iter()).all(|(a, b)| (a - b).abs() < 1e-4));
    }

    let mut g = c.benchmark_group("autograd_mlp_step");
    g.bench_function("autograd", |b| {
        b.iter(|| black_box(step_autograd(&x, &m.labels, &params)))
    });
    g.bench_function("raw_kernels", |b| b.iter(|| black_box(step_raw(&m))));
    g.finish();
}

fn bench_conv_relu(c: &mut Criterion) {
    let mut rng = rng_from_seed(9);
    let x = Var::parameter(uniform(&[32, 13, 13, 32], -1.0, 1.0, &mut rng));
    let k = Var::parameter(uniform(&[3, 3, 32, 64], -0.1, 0.1, &mut rng));
    let b = Var::parameter(uniform(&[64], -0.1, 0.1, &mut rng));
    let p = ops::Conv2dParams::default();
    let mut g = c.benchmark_group("autograd_conv_relu");
    g.sample_size(20);
    let run = |y: Var| {
        ops::sum_all(&y).unwrap().backward().unwrap();
        for v in [&x, &k, &b] {
            black_box(v.take_grad());
        }
    };
    g.bench_function("separate", |bch| {
        bch.iter(|| run(ops::relu(&ops::conv2d(&x, &k, Some(&b), &p).unwrap()).unwrap()))
    });
    g.bench_function("fused", |bch| {
        bch.iter(|| run(ops::conv2d_relu(&x, &k, Some(&b), &p).unwrap()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench_chain, bench_mlp, bench_conv_relu
}
criterion_main!(benches);
