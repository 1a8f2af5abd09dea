//! Criterion benchmarks of the spatial kernels of issue #16 next to a
//! Conv2D of the same FLOPs:
//!
//! * `spatial_conv/<op>_<fwd|bwd>/<shape>`: depthwise (3x3 same, stride 1
//!   and 2, multiplier 2, batch 1), conv2d_transpose (3x3 s2 same) and the
//!   Conv2D of the same 57.8 MFLOP (3x3 same, 16 -> 32 channels on 14x14);
//!   throughput in flops (`bwd` counts 2x the forward: dX and dW).
//! * `spatial_memory/<op>/<shape>`: upsample nearest/bilinear x2 forward and
//!   backward, zero_pad2d and crop2d; throughput in bytes read + written.
//!
//! Every call allocates its result as training does; the allocator is tuned
//! as `fit` tunes it (`memory::tune_allocator`), so buffers are reused.
//!
//! Run: `cargo bench -p neurite-tensor --bench spatial [-- FILTER]`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array4;
use neurite_rand::Generator;
use neurite_tensor::resize::{upsample2d, upsample2d_backward, Interpolation};
use neurite_tensor::spatial::{crop2d, zero_pad2d, Margins2d};
use neurite_tensor::{
    conv2d, conv2d_backward, conv2d_transpose, conv2d_transpose_backward, conv2d_transpose_output_shape,
    depthwise_conv2d, depthwise_conv2d_backward, depthwise_conv2d_output_shape, Conv2dParams,
    Conv2dTransposeParams, Padding,
};
use rand::Rng;
use std::hint::black_box;
use std::time::Duration;

fn random4(rng: &mut Generator, shape: [usize; 4]) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    neurite_tensor::memory::tune_allocator();
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

/// A benchmark: its op, shape, throughput and the closure it times.
type Case = (&'static str, &'static str, Throughput, Box<dyn Fn()>);

fn conv_cases(rng: &mut Generator) -> Vec<Case> {
    let params = |s: usize| Conv2dParams {
        strides: (s, s),
        padding: Padding::Same,
        ..Conv2dParams::default()
    };
    let mut cases: Vec<Case> = Vec::new();
    for &(shape, x, k, s) in &[
        ("b32_56x56x32_k3x3", [32, 56, 56, 32], [3, 3, 32, 1], 1),
        ("b32_28x28x128_k3x3", [32, 28, 28, 128], [3, 3, 128, 1], 1),
        ("b32_56x56x16_k3x3_m2", [32, 56, 56, 16], [3, 3, 16, 2], 1),
        ("b1_112x112x32_k3x3", [1, 112, 112, 32], [3, 3, 32, 1], 1),
        ("b32_56x56x32_k3x3_s2", [32, 56, 56, 32], [3, 3, 32, 1], 2),
    ] {
        let p = params(s);
        let (x, k) = (random4(rng, x), random4(rng, k));
        let gy = random4(
            rng,
            depthwise_conv2d_output_shape(x.shape(), k.shape(), &p).unwrap(),
        );
        let flops = 2 * (gy.len() * 9) as u64;
        let (x2, k2) = (x.clone(), k.clone());
        cases.push((
            "depthwise_fwd",
            shape,
            Throughput::Elements(flops),
            Box::new(move || {
                black_box(depthwise_conv2d(x2.view(), k2.view(), None, &p).unwrap());
            }),
        ));
        cases.push((
            "depthwise_bwd",
            shape,
            Throughput::Elements(2 * flops),
            Box::new(move || {
                black_box(depthwise_conv2d_backward(x.view(), k.view(), gy.view(), &p, true).unwrap());
            }),
        ));
    }
    let up = Conv2dTransposeParams {
        strides: (2, 2),
        padding: Padding::Same,
        ..Default::default()
    };
    for &(shape, x, k) in &[
        ("b32_7x7x64_to_14x14x32_k3x3_s2", [32, 7, 7, 64], [3, 3, 32, 64]),
        ("b32_14x14x32_to_28x28x1_k3x3_s2", [32, 14, 14, 32], [3, 3, 1, 32]),
    ] {
        let (x, k) = (random4(rng, x), random4(rng, k));
        let gy = random4(
            rng,
            conv2d_transpose_output_shape(x.shape(), k.shape(), &up).unwrap(),
        );
        let flops = 2 * (x.len() * 9 * k.shape()[2]) as u64;
        let (x2, k2) = (x.clone(), k.clone());
        cases.push((
            "conv2d_transpose_fwd",
            shape,
            Throughput::Elements(flops),
            Box::new(move || {
                black_box(conv2d_transpose(x2.view(), k2.view(), None, &up).unwrap());
            }),
        ));
        cases.push((
            "conv2d_transpose_bwd",
            shape,
            Throughput::Elements(2 * flops),
            Box::new(move || {
                black_box(conv2d_transpose_backward(x.view(), k.view(), gy.view(), &up, true).unwrap());
            }),
        ));
    }
    // The Conv2D of the same 57.8 MFLOP as the first depthwise shape.
    let same = params(1);
    let (x, k) = (random4(rng, [32, 14, 14, 16]), random4(rng, [3, 3, 16, 32]));
    let gy = random4(rng, [32, 14, 14, 32]);
    let flops = 2 * (gy.len() * 9 * 16) as u64;
    let (x2, k2) = (x.clone(), k.clone());
    cases.push((
        "conv2d_fwd",
        "b32_14x14x16_k3x3x32_same_flops",
        Throughput::Elements(flops),
        Box::new(move || {
            black_box(conv2d(x2.view(), k2.view(), None, &same).unwrap());
        }),
    ));
    cases.push((
        "conv2d_bwd",
        "b32_14x14x16_k3x3x32_same_flops",
        Throughput::Elements(2 * flops),
        Box::new(move || {
            black_box(conv2d_backward(x.view(), k.view(), gy.view(), &same, true).unwrap());
        }),
    ));
    cases
}

fn memory_cases(rng: &mut Generator) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let bytes = |floats: usize| Throughput::Bytes(4 * floats as u64);
    let s = random4(rng, [64, 14, 14, 32]).into_dyn();
    for (mode, fwd, bwd) in [
        (
            Interpolation::Nearest,
            "upsample_nearest_fwd",
            "upsample_nearest_bwd",
        ),
        (
            Interpolation::Bilinear,
            "upsample_bilinear_fwd",
            "upsample_bilinear_bwd",
        ),
    ] {
        let y = upsample2d(&s, (2, 2), mode).unwrap();
        let moved = s.len() + y.len();
        let s2 = s.clone();
        cases.push((
            fwd,
            "b64_14x14x32_x2",
            bytes(moved),
            Box::new(move || {
                black_box(upsample2d(&s2, (2, 2), mode).unwrap());
            }),
        ));
        let shape = s.shape().to_vec();
        cases.push((
            bwd,
            "b64_14x14x32_x2",
            bytes(moved),
            Box::new(move || {
                black_box(upsample2d_backward(&y, &shape, (2, 2), mode).unwrap());
            }),
        ));
    }
    let x = random4(rng, [64, 28, 28, 32]).into_dyn();
    let m = Margins2d::uniform(1);
    let padded = zero_pad2d(&x, m).unwrap();
    let moved = x.len() + padded.len();
    cases.push((
        "zero_pad2d",
        "b64_28x28x32_pad1",
        bytes(moved),
        Box::new(move || {
            black_box(zero_pad2d(&x, m).unwrap());
        }),
    ));
    cases.push((
        "crop2d",
        "b64_30x30x32_crop1",
        bytes(moved),
        Box::new(move || {
            black_box(crop2d(&padded, m).unwrap());
        }),
    ));
    cases
}

fn run(c: &mut Criterion, group: &str, cases: Vec<Case>) {
    let mut g = configure(c, group);
    for (op, shape, throughput, f) in &cases {
        g.throughput(throughput.clone());
        g.bench_function(BenchmarkId::new(*op, shape), |b| b.iter(f));
    }
    g.finish();
}

fn bench_conv(c: &mut Criterion) {
    let cases = conv_cases(&mut Generator::seed_from_u64(7));
    run(c, "spatial_conv", cases);
}

fn bench_memory(c: &mut Criterion) {
    let cases = memory_cases(&mut Generator::seed_from_u64(8));
    run(c, "spatial_memory", cases);
}

criterion_group!(benches, bench_conv, bench_memory);
criterion_main!(benches);
