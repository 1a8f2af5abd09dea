//! Speed of the issue-#16 kernels (spatial.rs, resize.rs, rectifier.rs) on MNIST-sized
//! batches, as effective bandwidth next to a plain copy of the same tensor:
//! `cargo run -p neurite-tensor --release --example spatial_kernels_speed`.

use neurite_tensor::rectifier::{relu_ext, relu_ext_backward, ReluParams};
use neurite_tensor::resize::{upsample2d, upsample2d_backward, Interpolation};
use neurite_tensor::spatial::{crop2d, zero_pad2d, Margins2d};
use neurite_tensor::Tensor;
use std::time::Instant;

fn time<T>(what: &str, bytes: usize, reps: usize, mut f: impl FnMut() -> T) {
    for _ in 0..3 {
        std::hint::black_box(f());
    }
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{what:<44} {:>8.1} us  {:>6.2} GB/s (bytes read+written / best time)",
        best * 1e6,
        bytes as f64 / best / 1e9
    );
}

fn main() {
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    let x = neurite_tensor::random::uniform(&[64, 28, 28, 32], -1.0, 1.0, &mut rng);
    let n = x.len() * 4;
    time("memcpy baseline (clone) 64x28x28x32", 2 * n, 50, || x.clone());
    let m = Margins2d::uniform(1);
    let padded = zero_pad2d(&x, m).unwrap();
    time("zero_pad2d 64x28x28x32 pad 1", n + padded.len() * 4, 50, || {
        zero_pad2d(&x, m).unwrap()
    });
    time("crop2d (its backward) 64x30x30x32 -> 28x28", n * 2, 50, || {
        crop2d(&padded, m).unwrap()
    });
    let s = neurite_tensor::random::uniform(&[64, 14, 14, 32], -1.0, 1.0, &mut rng);
    let sn = s.len() * 4;
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        let y = upsample2d(&s, (2, 2), mode).unwrap();
        time(
            &format!("upsample2d {mode:?} 64x14x14x32 x2"),
            sn + y.len() * 4,
            50,
            || upsample2d(&s, (2, 2), mode).unwrap(),
        );
        time(
            &format!("upsample2d_backward {mode:?}"),
            sn + y.len() * 4,
            50,
            || upsample2d_backward(&y, s.shape(), (2, 2), mode).unwrap(),
        );
    }
    let p = ReluParams {
        max_value: Some(6.0),
        negative_slope: 0.1,
        threshold: 0.0,
    };
    time("relu_ext 64x28x28x32", 2 * n, 50, || relu_ext(&x, &p).unwrap());
    time("relu_ext_backward 64x28x28x32", 3 * n, 50, || {
        relu_ext_backward(&x, &x, &p).unwrap()
    });
    time("unary::relu (existing kernel) 64x28x28x32", 2 * n, 50, || {
        neurite_tensor::unary::relu(&x)
    });
    let alpha = neurite_tensor::random::uniform(&[1, 1, 32], 0.0, 0.3, &mut rng);
    time("prelu 64x28x28x32 alpha (1,1,32)", 2 * n, 50, || {
        neurite_tensor::rectifier::prelu(&x, &alpha).unwrap()
    });
    time("prelu_backward", 3 * n, 20, || {
        neurite_tensor::rectifier::prelu_backward(&x, &x, &alpha).unwrap()
    });
    let _: Tensor = x;
}
