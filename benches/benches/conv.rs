//! Convolution and pooling benchmarks on the layers of the MNIST CNN
//! (28x28x1 -> Conv32 3x3 -> MaxPool2 -> Conv64 3x3 -> MaxPool2 -> Conv64 3x3, valid).
//!
//! * `conv2d_forward/<layer>/b<N>`: forward with bias, throughput = 2*N*OH*OW*KH*KW*C*F flops.
//! * `conv2d_fwd_bwd/<layer>/b<N>`: forward + backward (dX, dW, db), throughput 3x the forward flops.
//! * `conv_gemm_fwd` / `conv_gemm_fwd_bwd`: the bare GEMMs of the same shapes
//!   (`cols·W`; plus `colsᵀ·dY` and `dY·Wᵀ`) on pre-built matrices — the
//!   ceiling the conv kernels are compared with.
//! * `max_pool2d_fwd_bwd/<layer>/b<N>`: 2x2 max pooling forward + backward,
//!   throughput = input elements.
//!
//! Run: `cargo bench -p neurite-benches --bench conv [--features openblas]`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, Array2, Array4};
use neurite_rand::Generator;
use neurite_tensor::gemm::gemm;
use neurite_tensor::{
    conv2d, conv2d_backward, conv2d_output_shape, im2col, max_pool2d, max_pool2d_backward, Conv2dParams,
    ConvGeometry, Pool2dParams,
};
use rand::Rng;
use std::hint::black_box;
use std::time::Duration;

/// (name, input (H, W, C), filters) of the MNIST CNN's conv layers, 3x3 kernels.
const CONVS: [(&str, (usize, usize, usize), usize); 3] = [
    ("conv1_28x28x1_k3x3x32", (28, 28, 1), 32),
    ("conv2_13x13x32_k3x3x64", (13, 13, 32), 64),
    ("conv3_5x5x64_k3x3x64", (5, 5, 64), 64),
];
/// (name, input (H, W, C)) of its 2x2 max-pooling layers.
const POOLS: [(&str, (usize, usize, usize)); 2] =
    [("pool1_26x26x32", (26, 26, 32)), ("pool2_11x11x64", (11, 11, 64))];
const BATCHES: [usize; 2] = [32, 128];

fn random4(rng: &mut Generator, shape: [usize; 4]) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

struct ConvCase {
    x: Array4<f32>,
    w: Array4<f32>,
    b: Array1<f32>,
    gy: Array4<f32>,
    flops: u64,
}

fn conv_case(n: usize, (h, w, c): (usize, usize, usize), f: usize) -> ConvCase {
    let mut rng = Generator::seed_from_u64(42);
    let x = random4(&mut rng, [n, h, w, c]);
    let k = random4(&mut rng, [3, 3, c, f]);
    let out = conv2d_output_shape(x.shape(), k.shape(), &Conv2dParams::default()).expect("valid layer");
    let gy = random4(&mut rng, out);
    let flops = 2 * (out[0] * out[1] * out[2] * 9 * c * f) as u64;
    ConvCase {
        x,
        w: k,
        b: Array1::zeros(f),
        gy,
        flops,
    }
}

fn bench_conv(c: &mut Criterion) {
    let p = Conv2dParams::default();
    let mut fwd = configure(c, "conv2d_forward");
    for &(name, shape, f) in &CONVS {
        for &n in &BATCHES {
            let cs = conv_case(n, shape, f);
            fwd.throughput(Throughput::Elements(cs.flops));
            fwd.bench_with_input(BenchmarkId::new(name, format!("b{n}")), &cs, |bch, cs| {
                bch.iter(|| conv2d(cs.x.view(), cs.w.view(), Some(cs.b.view()), &p).expect("conv2d"))
            });
        }
    }
    fwd.finish();
    let mut fb = configure(c, "conv2d_fwd_bwd");
    for &(name, shape, f) in &CONVS {
        for &n in &BATCHES {
            let cs = conv_case(n, shape, f);
            fb.throughput(Throughput::Elements(3 * cs.flops));
            fb.bench_with_input(BenchmarkId::new(name, format!("b{n}")), &cs, |bch, cs| {
                bch.iter(|| {
                    let y = conv2d(cs.x.view(), cs.w.view(), Some(cs.b.view()), &p).expect("conv2d");
                    let g =
                        conv2d_backward(cs.x.view(), cs.w.view(), cs.gy.view(), &p, true).expect("backward");
                    black_box((y, g))
                })
            });
        }
    }
    fb.finish();
}

/// The GEMMs a conv layer performs, on matrices built once outside the timing.
fn bench_conv_gemm(c: &mut Criterion) {
    let p = Conv2dParams::default();
    let mut fwd = configure(c, "conv_gemm_fwd");
    let mut cases = Vec::new();
    for &(name, shape, f) in &CONVS {
        for &n in &BATCHES {
            let cs = conv_case(n, shape, f);
            let g = ConvGeometry::new(cs.x.shape(), (3, 3), &p).expect("geometry");
            let cols = im2col(cs.x.view(), &g).expect("im2col");
            let (m, k) = cols.dim();
            let wm = cs.w.clone().into_shape_with_order((k, f)).expect("kernel matrix");
            let dy = cs.gy.clone().into_shape_with_order((m, f)).expect("dY matrix");
            cases.push((name, n, cs.flops, cols, wm, dy));
        }
    }
    for (name, n, flops, cols, wm, _) in &cases {
        let mut y = Array2::<f32>::zeros((cols.nrows(), wm.ncols()));
        fwd.throughput(Throughput::Elements(*flops));
        fwd.bench_function(BenchmarkId::new(*name, format!("b{n}")), |bch| {
            bch.iter(|| {
                gemm(1.0, cols.view(), false, wm.view(), false, 0.0, &mut y.view_mut()).expect("gemm")
            })
        });
    }
    fwd.finish();
    let mut fb = configure(c, "conv_gemm_fwd_bwd");
    for (name, n, flops, cols, wm, dy) in &cases {
        let mut y = Array2::<f32>::zeros((cols.nrows(), wm.ncols()));
        let mut dw = Array2::<f32>::zeros(wm.dim());
        let mut dcols = Array2::<f32>::zeros(cols.dim());
        fb.throughput(Throughput::Elements(3 * *flops));
        fb.bench_function(BenchmarkId::new(*name, format!("b{n}")), |bch| {
            bch.iter(|| {
                gemm(1.0, cols.view(), false, wm.view(), false, 0.0, &mut y.view_mut()).expect("gemm");
                gemm(1.0, cols.view(), true, dy.view(), false, 0.0, &mut dw.view_mut()).expect("gemm");
                gemm(1.0, dy.view(), false, wm.view(), true, 0.0, &mut dcols.view_mut()).expect("gemm");
            })
        });
    }
    fb.finish();
}

fn bench_pool(c: &mut Criterion) {
    pool_group(c, false);
    pool_group(c, true);
}

/// `max_pool2d_fwd` (inference) or `max_pool2d_fwd_bwd` (training) on the MNIST CNN's pools.
fn pool_group(c: &mut Criterion, with_backward: bool) {
    let p = Pool2dParams::new((2, 2));
    let name = if with_backward {
        "max_pool2d_fwd_bwd"
    } else {
        "max_pool2d_fwd"
    };
    let mut g = configure(c, name);
    for &(name, (h, w, ch)) in &POOLS {
        for &n in &BATCHES {
            let mut rng = Generator::seed_from_u64(7);
            let x = random4(&mut rng, [n, h, w, ch]);
            let (y, _) = max_pool2d(x.view(), &p).expect("pool");
            let gy = random4(&mut rng, [n, y.dim().1, y.dim().2, ch]);
            g.throughput(Throughput::Elements(x.len() as u64));
            g.bench_function(BenchmarkId::new(name, format!("b{n}")), |bch| {
                bch.iter(|| {
                    let (y, idx) = max_pool2d(x.view(), &p).expect("pool");
                    if !with_backward {
                        return black_box((y, None));
                    }
                    let dx = max_pool2d_backward(gy.view(), &idx, [n, h, w, ch]).expect("pool backward");
                    black_box((y, Some(dx)))
                })
            });
        }
    }
    g.finish();
}

/// Issue #16's conv variants next to a Conv2D of the same FLOPs (2 * multiply-adds):
/// `conv_variants/<op>_<fwd|fwd_bwd>/<shape>`, throughput in flops (x3 with backward).
fn bench_conv_variants(c: &mut Criterion) {
    use neurite_tensor::{
        conv2d_transpose, conv2d_transpose_backward, depthwise_conv2d, depthwise_conv2d_backward,
        Conv2dTransposeParams, Padding,
    };
    let same = Conv2dParams {
        padding: Padding::Same,
        ..Conv2dParams::default()
    };
    let up = Conv2dTransposeParams {
        strides: (2, 2),
        padding: Padding::Same,
        ..Default::default()
    };
    let mut rng = Generator::seed_from_u64(7);
    let mut g = configure(c, "conv_variants");
    type Run = Box<dyn Fn(bool)>;
    let mut cases: Vec<(&str, &str, u64, Run)> = Vec::new();
    // (input NHWC, kernel, taps per output) for each op; all are 57.8 MFLOP forward.
    for &(shape, x, k) in &[
        ("b32_56x56x32_k3x3", [32, 56, 56, 32], [3, 3, 32, 1]),
        ("b32_28x28x128_k3x3", [32, 28, 28, 128], [3, 3, 128, 1]),
    ] {
        let (x, k) = (random4(&mut rng, x), random4(&mut rng, k));
        let gy = random4(
            &mut rng,
            neurite_tensor::depthwise_conv2d_output_shape(x.shape(), k.shape(), &same).unwrap(),
        );
        let flops = 2 * (gy.len() * 9) as u64;
        cases.push((
            "depthwise_same",
            shape,
            flops,
            Box::new(move |bwd| {
                black_box(depthwise_conv2d(x.view(), k.view(), None, &same).unwrap());
                if bwd {
                    black_box(depthwise_conv2d_backward(x.view(), k.view(), gy.view(), &same, true).unwrap());
                }
            }),
        ));
    }
    for &(shape, x, k) in &[
        ("b32_7x7x64_to_14x14x32_k3x3_s2", [32, 7, 7, 64], [3, 3, 32, 64]),
        ("b32_14x14x32_to_28x28x1_k3x3_s2", [32, 14, 14, 32], [3, 3, 1, 32]),
    ] {
        let (x, k) = (random4(&mut rng, x), random4(&mut rng, k));
        let gy = random4(
            &mut rng,
            neurite_tensor::conv2d_transpose_output_shape(x.shape(), k.shape(), &up).unwrap(),
        );
        let flops = 2 * (x.len() * 9 * k.shape()[2]) as u64;
        cases.push((
            "conv2d_transpose_same",
            shape,
            flops,
            Box::new(move |bwd| {
                black_box(conv2d_transpose(x.view(), k.view(), None, &up).unwrap());
                if bwd {
                    black_box(conv2d_transpose_backward(x.view(), k.view(), gy.view(), &up, true).unwrap());
                }
            }),
        ));
    }
    // The Conv2D of the same 57.8 MFLOP: 3x3 same, 16 -> 32 channels on 14x14.
    let (x, k) = (
        random4(&mut rng, [32, 14, 14, 16]),
        random4(&mut rng, [3, 3, 16, 32]),
    );
    let gy = random4(&mut rng, [32, 14, 14, 32]);
    cases.push((
        "conv2d_same",
        "b32_14x14x16_k3x3x32",
        2 * (gy.len() * 9 * 16) as u64,
        Box::new(move |bwd| {
            black_box(conv2d(x.view(), k.view(), None, &same).unwrap());
            if bwd {
                black_box(conv2d_backward(x.view(), k.view(), gy.view(), &same, true).unwrap());
            }
        }),
    ));
    for (op, shape, flops, run) in &cases {
        for bwd in [false, true] {
            g.throughput(Throughput::Elements(if bwd { 3 * flops } else { *flops }));
            let id = BenchmarkId::new(format!("{op}_{}", if bwd { "fwd_bwd" } else { "fwd" }), shape);
            g.bench_function(id, |b| b.iter(|| run(bwd)));
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_conv,
    bench_conv_gemm,
    bench_pool,
    bench_conv_variants
);
criterion_main!(benches);
