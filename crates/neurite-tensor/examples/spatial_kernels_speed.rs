//! Speed of the issue-#16 kernels (spatial.rs, resize.rs, rectifier.rs,
//! conv/depthwise.rs) on MNIST-sized batches, as effective bandwidth next to
//! a plain copy of the same tensor, and depthwise convolution next to a
//! Conv2D of the same FLOPs:
//! `cargo run -p neurite-tensor --release --example spatial_kernels_speed [-- FILTER]`
//! (only the lines containing FILTER run; the criterion version is
//! `cargo bench -p neurite-tensor --bench spatial`).

use ndarray::Array4;
use neurite_tensor::rectifier::{relu_ext, relu_ext_backward, ReluParams};
use neurite_tensor::resize::{upsample2d, upsample2d_backward, Interpolation};
use neurite_tensor::spatial::{crop2d, zero_pad2d, Margins2d};
use neurite_tensor::{
    conv2d, conv2d_backward, depthwise_conv2d, depthwise_conv2d_backward, Conv2dParams, Padding, Tensor,
};
use std::time::Instant;

/// Times `f` (best of `reps` after 3 warm-up calls) when `what` contains the filter.
struct Timer {
    filter: String,
}

impl Timer {
    fn time<T>(&self, what: &str, unit: (&str, f64), reps: usize, mut f: impl FnMut() -> T) {
        if !what.contains(&self.filter) {
            return;
        }
        for _ in 0..3 {
            std::hint::black_box(f());
        }
        let mut best = f64::MAX;
        for _ in 0..reps {
            let t = Instant::now();
            std::hint::black_box(f());
            best = best.min(t.elapsed().as_secs_f64());
        }
        let (name, amount) = unit;
        println!(
            "{what:<50} {:>9.1} us  {:>7.2} {name} (best of {reps})",
            best * 1e6,
            amount / best / 1e9
        );
    }
}

fn random4(rng: &mut neurite_rand::Generator, shape: [usize; 4]) -> Array4<f32> {
    neurite_tensor::random::uniform(&shape, -1.0, 1.0, rng)
        .into_dimensionality()
        .expect("4-d")
}

fn main() {
    // As in training (fit, evaluate and predict call it): buffers are reused, not page-faulted back.
    neurite_tensor::memory::tune_allocator();
    let timer = Timer {
        filter: std::env::args().nth(1).unwrap_or_default(),
    };
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    let x = neurite_tensor::random::uniform(&[64, 28, 28, 32], -1.0, 1.0, &mut rng);
    let n = (x.len() * 4) as f64;
    let gb = |bytes: f64| ("GB/s", bytes);
    timer.time("memcpy baseline (clone) 64x28x28x32", gb(2.0 * n), 50, || {
        x.clone()
    });
    let m = Margins2d::uniform(1);
    let padded = zero_pad2d(&x, m).unwrap();
    timer.time(
        "zero_pad2d 64x28x28x32 pad 1",
        gb(n + padded.len() as f64 * 4.0),
        50,
        || zero_pad2d(&x, m).unwrap(),
    );
    timer.time(
        "crop2d (its backward) 64x30x30x32 -> 28x28",
        gb(n * 2.0),
        50,
        || crop2d(&padded, m).unwrap(),
    );
    let s = neurite_tensor::random::uniform(&[64, 14, 14, 32], -1.0, 1.0, &mut rng);
    let sn = s.len() as f64 * 4.0;
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        let y = upsample2d(&s, (2, 2), mode).unwrap();
        let bytes = gb(sn + y.len() as f64 * 4.0);
        timer.time(&format!("upsample2d {mode:?} 64x14x14x32 x2"), bytes, 50, || {
            upsample2d(&s, (2, 2), mode).unwrap()
        });
        timer.time(&format!("upsample2d_backward {mode:?}"), bytes, 50, || {
            upsample2d_backward(&y, s.shape(), (2, 2), mode).unwrap()
        });
    }
    let p = ReluParams {
        max_value: Some(6.0),
        negative_slope: 0.1,
        threshold: 0.0,
    };
    timer.time("relu_ext 64x28x28x32", gb(2.0 * n), 50, || {
        relu_ext(&x, &p).unwrap()
    });
    timer.time("relu_ext_backward 64x28x28x32", gb(3.0 * n), 50, || {
        relu_ext_backward(&x, &x, &p).unwrap()
    });
    timer.time(
        "unary::relu (existing kernel) 64x28x28x32",
        gb(2.0 * n),
        50,
        || neurite_tensor::unary::relu(&x),
    );
    let alpha = neurite_tensor::random::uniform(&[1, 1, 32], 0.0, 0.3, &mut rng);
    timer.time("prelu 64x28x28x32 alpha (1,1,32)", gb(2.0 * n), 50, || {
        neurite_tensor::rectifier::prelu(&x, &alpha).unwrap()
    });
    timer.time("prelu_backward", gb(3.0 * n), 20, || {
        neurite_tensor::rectifier::prelu_backward(&x, &x, &alpha).unwrap()
    });
    let same = Conv2dParams {
        padding: Padding::Same,
        ..Conv2dParams::default()
    };
    // Depthwise 3x3 same; all of these (but batch 1) are 57.8 MFLOP forward, as the Conv2D below.
    for (name, shape, kernel) in [
        ("b32 56x56x32", [32, 56, 56, 32], [3, 3, 32, 1]),
        ("b32 28x28x128", [32, 28, 28, 128], [3, 3, 128, 1]),
        ("b32 56x56x16 M2", [32, 56, 56, 16], [3, 3, 16, 2]),
        ("b1 112x112x32", [1, 112, 112, 32], [3, 3, 32, 1]),
    ] {
        let (xi, k) = (random4(&mut rng, shape), random4(&mut rng, kernel));
        let gy = depthwise_conv2d(xi.view(), k.view(), None, &same).unwrap();
        let flops = ("GFLOP/s", 2.0 * gy.len() as f64 * 9.0);
        timer.time(&format!("depthwise fwd {name} 3x3 same"), flops, 30, || {
            depthwise_conv2d(xi.view(), k.view(), None, &same).unwrap()
        });
        let flops = ("GFLOP/s", 2.0 * flops.1);
        timer.time(&format!("depthwise bwd {name} 3x3 same"), flops, 30, || {
            depthwise_conv2d_backward(xi.view(), k.view(), gy.view(), &same, true).unwrap()
        });
    }
    let (xc, kc) = (
        random4(&mut rng, [32, 14, 14, 16]),
        random4(&mut rng, [3, 3, 16, 32]),
    );
    let gy = conv2d(xc.view(), kc.view(), None, &same).unwrap();
    let flops = 2.0 * gy.len() as f64 * 9.0 * 16.0;
    timer.time(
        "conv2d fwd b32 14x14x16->32 3x3 same (same FLOPs)",
        ("GFLOP/s", flops),
        30,
        || conv2d(xc.view(), kc.view(), None, &same).unwrap(),
    );
    timer.time(
        "conv2d bwd b32 14x14x16->32 3x3 same (same FLOPs)",
        ("GFLOP/s", 2.0 * flops),
        30,
        || conv2d_backward(xc.view(), kc.view(), gy.view(), &same, true).unwrap(),
    );
    let _: Tensor = x;
}
