//! Speed of the convolutions of issue #16's residual network
//! (`examples/resnet.rs`: 28x28 inputs, 16 and 32 channels) as GFLOP/s of
//! the direct convolution's arithmetic, forward at batch 256 (as
//! `resnet-predict`) and backward at batch 64 (as `resnet-train`; the stem
//! without the input gradient, as in the model):
//! `cargo run -p neurite-tensor --release --example resnet_conv_speed [-- FILTER]`
//! (only the lines containing FILTER run). Threads: rayon's default, or
//! `RAYON_NUM_THREADS`.

use ndarray::Array4;
use neurite_tensor::{conv2d, conv2d_backward, Conv2dParams, Padding};
use std::time::Instant;

/// One convolution of the network: input `[h, w, c]`, `f` filters of `k x k`, stride, count in the model.
struct Geometry {
    name: &'static str,
    hwc: [usize; 3],
    f: usize,
    k: usize,
    stride: usize,
    padding: Padding,
    uses: usize,
}

const GEOMETRIES: [Geometry; 5] = [
    Geometry {
        name: "stem 28x28x1->16 3x3",
        hwc: [28, 28, 1],
        f: 16,
        k: 3,
        stride: 1,
        padding: Padding::Same,
        uses: 1,
    },
    Geometry {
        name: "28x28x16->16 3x3",
        hwc: [28, 28, 16],
        f: 16,
        k: 3,
        stride: 1,
        padding: Padding::Same,
        uses: 4,
    },
    Geometry {
        name: "28x28x16->32 3x3 /2",
        hwc: [28, 28, 16],
        f: 32,
        k: 3,
        stride: 2,
        padding: Padding::Same,
        uses: 1,
    },
    Geometry {
        name: "28x28x16->32 1x1 /2",
        hwc: [28, 28, 16],
        f: 32,
        k: 1,
        stride: 2,
        padding: Padding::Valid,
        uses: 1,
    },
    Geometry {
        name: "14x14x32->32 3x3",
        hwc: [14, 14, 32],
        f: 32,
        k: 3,
        stride: 1,
        padding: Padding::Same,
        uses: 3,
    },
];

/// Best seconds of `reps` calls of `f` after 2 warm-up calls.
fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..2 {
        std::hint::black_box(f());
    }
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn random4(rng: &mut neurite_rand::Generator, shape: [usize; 4]) -> Array4<f32> {
    neurite_tensor::random::uniform(&shape, -1.0, 1.0, rng)
        .into_dimensionality()
        .expect("4-d")
}

fn main() {
    neurite_tensor::memory::tune_allocator();
    let filter = std::env::args().nth(1).unwrap_or_default();
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    let (mut forward_total, mut backward_total) = (0.0, 0.0);
    for g in GEOMETRIES.iter() {
        let p = Conv2dParams {
            strides: (g.stride, g.stride),
            padding: g.padding,
            dilation: (1, 1),
        };
        let [h, w, c] = g.hwc;
        let kernel = random4(&mut rng, [g.k, g.k, c, g.f]);
        for (pass, batch) in [("forward", 256), ("backward", 64)] {
            let what = format!("{} {pass} b{batch}", g.name);
            if !what.contains(&filter) {
                continue;
            }
            let x = random4(&mut rng, [batch, h, w, c]);
            let y = conv2d(x.view(), kernel.view(), None, &p).expect("valid geometry");
            let macs = (y.len() * g.k * g.k * c) as f64;
            let (secs, flops) = if pass == "forward" {
                let s = best_of(10, || conv2d(x.view(), kernel.view(), None, &p).unwrap());
                forward_total += s * g.uses as f64;
                (s, 2.0 * macs)
            } else {
                let s = best_of(10, || {
                    conv2d_backward(x.view(), kernel.view(), y.view(), &p, true).unwrap()
                });
                backward_total += s * g.uses as f64;
                (s, 4.0 * macs)
            };
            println!(
                "{what:<40} {:>9.1} us {:>7.1} GFLOP/s  (x{} in the model)",
                secs * 1e6,
                flops / secs / 1e9,
                g.uses
            );
        }
    }
    println!(
        "all convolutions of one resnet step: forward b256 {:.1} ms, backward b64 {:.1} ms",
        forward_total * 1e3,
        backward_total * 1e3
    );
}
