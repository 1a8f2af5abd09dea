//! GEMM benchmarks: square sgemm and the GEMMs of the MNIST CNN (im2col, NHWC, valid
//! padding, 3x3 kernels) at batch 32 and 128, forward and backward.
//!
//! Every benchmark declares `Throughput::Elements(2 * m * n * k)`: the "elements" are
//! floating-point operations, so `cargo xtask bench` reports elements/s as GFLOP/s.
//!
//! * `sgemm_square/<n>`: `C = A·B`, all `n x n`, row-major.
//! * `mnist_gemm_b<N>/<layer>_fwd`: `[M, K] x [K, F]` with `M = N*OH*OW`, `K = 9*C`.
//! * `mnist_gemm_b<N>/<layer>_dw`: kernel gradient `Aᵀ·G`, `[K, M] x [M, F]` (A passed transposed).
//! * `mnist_gemm_b<N>/<layer>_dx`: input gradient `G·Bᵀ`, `[M, F] x [F, K]` (B passed transposed).
//!
//! Layers: conv1 `[N*26*26, 9] x [9, 32]`, conv2 `[N*11*11, 288] x [288, 64]`,
//! conv3 `[N*3*3, 576] x [576, 64]`, dense `[N, 576] x [576, 64]`.
//!
//! * `gemm_rayon_interplay/...`: do the BLAS threads and rayon's pool fight over the cores?
//!   `gemm` (conv2 forward at batch 128, GEMM threads = all cores), `relu` (rayon-parallel
//!   over the 991k-element result), `gemm_then_relu` (both back to back, as a layer does);
//!   and `per_sample_gemms_{serial,2threads}`: 128 per-sample conv2 GEMMs `[121, 288] x [288, 64]`
//!   in a plain loop vs split over 2 scoped threads (GEMM threads nested in user threads, as
//!   when GEMMs are issued from inside a rayon task).
//!
//! Run: `cargo bench -p neurite-benches --bench gemm [--features openblas]`, or
//! `cargo xtask bench [--features openblas] -- gemm` for the table and JSON report.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use neurite_rand::Generator;
use neurite_tensor::gemm::gemm;
use rand::Rng;
use std::hint::black_box;
use std::time::Duration;

fn random2(rng: &mut Generator, rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0f32..1.0))
}

/// `C = op(A)·op(B)` timed into a preallocated `C` (beta = 0), as the layers call it.
fn bench_gemm(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    (a, ta): (&Array2<f32>, bool),
    (b, tb): (&Array2<f32>, bool),
) {
    let (m, k) = if ta { (a.ncols(), a.nrows()) } else { a.dim() };
    let n = if tb { b.nrows() } else { b.ncols() };
    let mut c = Array2::<f32>::zeros((m, n));
    g.throughput(Throughput::Elements((2 * m * n * k) as u64));
    g.bench_function(id, |bench| {
        bench.iter(|| {
            gemm(
                1.0,
                black_box(a.view()),
                ta,
                black_box(b.view()),
                tb,
                0.0,
                &mut c.view_mut(),
            )
            .unwrap();
            black_box(&c);
        })
    });
}

fn square(c: &mut Criterion) {
    let mut rng = Generator::seed_from_u64(0);
    let mut g = c.benchmark_group("sgemm_square");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [128usize, 256, 512, 1024] {
        if n >= 512 {
            g.sample_size(20);
        }
        let a = random2(&mut rng, n, n);
        let b = random2(&mut rng, n, n);
        bench_gemm(&mut g, BenchmarkId::from_parameter(n), (&a, false), (&b, false));
    }
    g.finish();
}

/// (name, rows of the im2col matrix per sample, K, F) of the MNIST CNN's GEMMs.
const LAYERS: [(&str, usize, usize, usize); 4] = [
    ("conv1", 26 * 26, 9, 32),
    ("conv2", 11 * 11, 288, 64),
    ("conv3", 3 * 3, 576, 64),
    ("dense", 1, 576, 64),
];

fn mnist(c: &mut Criterion) {
    let mut rng = Generator::seed_from_u64(1);
    for batch in [32usize, 128] {
        let mut g = c.benchmark_group(format!("mnist_gemm_b{batch}"));
        g.sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (name, per_sample, k, f) in LAYERS {
            let m = batch * per_sample;
            let cols = random2(&mut rng, m, k); // im2col matrix / dense input
            let w = random2(&mut rng, k, f); // kernel as [K, F]
            let dy = random2(&mut rng, m, f); // output gradient
            bench_gemm(
                &mut g,
                BenchmarkId::from_parameter(format!("{name}_fwd")),
                (&cols, false),
                (&w, false),
            );
            bench_gemm(
                &mut g,
                BenchmarkId::from_parameter(format!("{name}_dw")),
                (&cols, true),
                (&dy, false),
            );
            bench_gemm(
                &mut g,
                BenchmarkId::from_parameter(format!("{name}_dx")),
                (&dy, false),
                (&w, true),
            );
        }
        g.finish();
    }
}

fn interplay(c: &mut Criterion) {
    use neurite_tensor::{unary::relu, Tensor};
    let mut rng = Generator::seed_from_u64(2);
    let mut g = c.benchmark_group("gemm_rayon_interplay");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let (m, k, f) = (128 * 121, 288, 64);
    let cols = random2(&mut rng, m, k);
    let w = random2(&mut rng, k, f);
    let mut out = Array2::<f32>::zeros((m, f));
    let act = Tensor::from_shape_simple_fn(vec![m, f], || rng.random_range(-1.0f32..1.0));
    let flops = (2 * m * k * f) as u64;
    g.throughput(Throughput::Elements(flops));
    g.bench_function("gemm", |b| {
        b.iter(|| gemm(1.0, cols.view(), false, w.view(), false, 0.0, &mut out.view_mut()).unwrap())
    });
    g.bench_function("relu", |b| b.iter(|| black_box(relu(black_box(&act)))));
    g.bench_function("gemm_then_relu", |b| {
        b.iter(|| {
            gemm(1.0, cols.view(), false, w.view(), false, 0.0, &mut out.view_mut()).unwrap();
            black_box(relu(black_box(&act)))
        })
    });
    let samples: Vec<Array2<f32>> = (0..128).map(|_| random2(&mut rng, 121, k)).collect();
    g.bench_function("per_sample_gemms_serial", |b| {
        b.iter(|| {
            samples
                .iter()
                .map(|s| neurite_tensor::gemm::matmul(s.view(), w.view()).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("per_sample_gemms_2threads", |b| {
        b.iter(|| {
            let (lo, hi) = samples.split_at(samples.len() / 2);
            let run = |part: &[Array2<f32>]| {
                part.iter()
                    .map(|s| neurite_tensor::gemm::matmul(s.view(), w.view()).unwrap())
                    .collect::<Vec<_>>()
            };
            std::thread::scope(|scope| {
                let h = scope.spawn(|| run(hi));
                let mut r = run(lo);
                r.extend(h.join().unwrap());
                r
            })
        })
    });
    g.finish();
}

criterion_group!(benches, square, mnist, interplay);
criterion_main!(benches);
