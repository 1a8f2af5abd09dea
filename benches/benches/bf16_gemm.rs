//! bf16 GEMM benchmarks: the f32 `gemm` against `gemm_bf16_with` for every bf16
//! kernel this CPU can run (`amx`, `avx512bf16`, `portable`), on square
//! products and on the GEMMs of the Keras MNIST CNN in im2col form
//! (conv 3x3x32 -> conv 3x3x64 -> pool -> dense 128).
//!
//! Every benchmark declares `Throughput::Elements(2 * m * n * k)`, so criterion's
//! elements/s are FLOP/s.
//!
//! * `bf16_square/<n>/<impl>`: `C = A·B`, all `n x n`.
//! * `bf16_mnist_b<N>/<gemm>/<impl>`:
//!   `conv1_fwd` `[N*26*26, 9] x [9, 32]`, `conv1_dw` `[9, N*26*26] x [N*26*26, 32]` (A transposed),
//!   `conv2_fwd` `[N*24*24, 288] x [288, 64]`, `conv2_dw` `[288, N*24*24] x [N*24*24, 64]` (A transposed),
//!   `conv2_dx` `[N*24*24, 64] x [64, 288]` (B transposed), `dense_fwd` `[N, 9216] x [9216, 128]`,
//!   `dense_dw` `[9216, N] x [N, 128]` (A transposed), `dense_dx` `[N, 128] x [128, 9216]` (B transposed).
//!
//! `<impl>` is `f32` (`neurite_tensor::gemm::gemm`) or the bf16 kernel's name.
//!
//! Run: `RAYON_NUM_THREADS=2 cargo bench -p neurite-benches --bench bf16_gemm -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use neurite_rand::Generator;
use neurite_tensor::bf16::{gemm_bf16_with, Bf16Kernel};
use neurite_tensor::gemm::gemm;
use rand::Rng;
use std::hint::black_box;
use std::time::Duration;

fn random2(rng: &mut Generator, rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0f32..1.0))
}

/// `C = op(A)·op(B)` (beta = 0) with the f32 GEMM and every available bf16 kernel.
fn bench_all(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    (a, ta): (&Array2<f32>, bool),
    (b, tb): (&Array2<f32>, bool),
) {
    let (m, k) = if ta { (a.ncols(), a.nrows()) } else { a.dim() };
    let n = if tb { b.nrows() } else { b.ncols() };
    let mut c = Array2::<f32>::zeros((m, n));
    g.throughput(Throughput::Elements((2 * m * n * k) as u64));
    g.bench_function(BenchmarkId::new(name, "f32"), |bench| {
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
    for kernel in Bf16Kernel::ALL {
        if let Some(why) = kernel.unavailable_reason() {
            eprintln!("skipped: {name}/{}: {why}", kernel.name());
            continue;
        }
        g.bench_function(BenchmarkId::new(name, kernel.name()), |bench| {
            bench.iter(|| {
                gemm_bf16_with(
                    kernel,
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
}

fn square(c: &mut Criterion) {
    let mut rng = Generator::seed_from_u64(0);
    let mut g = c.benchmark_group("bf16_square");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [256usize, 512, 1024] {
        g.sample_size(if n >= 512 { 20 } else { 50 });
        let a = random2(&mut rng, n, n);
        let b = random2(&mut rng, n, n);
        bench_all(&mut g, &n.to_string(), (&a, false), (&b, false));
    }
    g.finish();
}

fn mnist(c: &mut Criterion) {
    let mut rng = Generator::seed_from_u64(1);
    for batch in [32usize, 128] {
        let mut g = c.benchmark_group(format!("bf16_mnist_b{batch}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        // conv1: 28x28x1 -> 26x26x32, K = 9.
        let m1 = batch * 26 * 26;
        let cols1 = random2(&mut rng, m1, 9);
        let w1 = random2(&mut rng, 9, 32);
        let dy1 = random2(&mut rng, m1, 32);
        bench_all(&mut g, "conv1_fwd", (&cols1, false), (&w1, false));
        bench_all(&mut g, "conv1_dw", (&cols1, true), (&dy1, false));
        // conv2: 26x26x32 -> 24x24x64, K = 288.
        let m2 = batch * 24 * 24;
        let cols2 = random2(&mut rng, m2, 288);
        let w2 = random2(&mut rng, 288, 64);
        let dy2 = random2(&mut rng, m2, 64);
        bench_all(&mut g, "conv2_fwd", (&cols2, false), (&w2, false));
        bench_all(&mut g, "conv2_dw", (&cols2, true), (&dy2, false));
        bench_all(&mut g, "conv2_dx", (&dy2, false), (&w2, true));
        // dense: 12*12*64 = 9216 -> 128.
        let x = random2(&mut rng, batch, 9216);
        let w3 = random2(&mut rng, 9216, 128);
        let dy3 = random2(&mut rng, batch, 128);
        bench_all(&mut g, "dense_fwd", (&x, false), (&w3, false));
        bench_all(&mut g, "dense_dw", (&x, true), (&dy3, false));
        bench_all(&mut g, "dense_dx", (&dy3, false), (&w3, true));
        g.finish();
    }
}

criterion_group!(benches, square, mnist);
criterion_main!(benches);
