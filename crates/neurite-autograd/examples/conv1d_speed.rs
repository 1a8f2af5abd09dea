//! Conv1D's speed on the text-classification shape of issue #17 (batch 32,
//! 100 steps, 64 channels, 64 filters, kernel 5, ReLU) and a causal dilated
//! variant: `ops::conv1d_relu` (the 2-d kernels on height-1 views) forward
//! and forward + backward, against a plain reference (the definition's loops,
//! written the way a first version would be: step, filter, tap, channel).
//!
//! `cargo run -p neurite-autograd --release --example conv1d_speed`

use ndarray::Array3;
use neurite_autograd::ops::{self, Conv1dPadding, Conv1dParams};
use neurite_autograd::Var;
use std::time::Instant;

/// `y[b, t, f] = relu(bias[f] + Σ_{j, c} x[b, t*s + j*d - pad, c] k[j, c, f])` in loops.
fn reference(x: &Array3<f32>, k: &Array3<f32>, bias: &[f32], p: &Conv1dParams) -> Array3<f32> {
    let (n, len, c) = x.dim();
    let (kk, _, f) = k.dim();
    let pad = if p.padding == Conv1dPadding::Causal {
        p.dilation * (kk - 1)
    } else {
        0
    };
    let out = (len + pad - p.dilation * (kk - 1) - 1) / p.stride + 1;
    let mut y = Array3::<f32>::zeros((n, out, f));
    for b in 0..n {
        for t in 0..out {
            for o in 0..f {
                let mut acc = bias[o];
                for j in 0..kk {
                    let pos = (t * p.stride + j * p.dilation) as isize - pad as isize;
                    if pos < 0 || pos as usize >= len {
                        continue;
                    }
                    for ch in 0..c {
                        acc += x[[b, pos as usize, ch]] * k[[j, ch, o]];
                    }
                }
                y[[b, t, o]] = acc.max(0.0);
            }
        }
    }
    y
}

/// Median milliseconds of `runs` calls of `f` (after one warm-up call).
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, len, c, f, k) = (32, 100, 64, 64, 5);
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    let x = neurite_tensor::random::normal(&[n, len, c], 0.0, 1.0, &mut rng);
    let kern = neurite_tensor::random::normal(&[k, c, f], 0.0, 0.1, &mut rng);
    let bias = vec![0.01f32; f];
    let x3 = x.clone().into_dimensionality::<ndarray::Ix3>()?;
    let k3 = kern.clone().into_dimensionality::<ndarray::Ix3>()?;
    for (label, p) in [
        ("valid k5", Conv1dParams::default()),
        (
            "causal k5 d2",
            Conv1dParams {
                padding: Conv1dPadding::Causal,
                dilation: 2,
                ..Default::default()
            },
        ),
    ] {
        let want = reference(&x3, &k3, &bias, &p);
        let xv = Var::parameter(x.clone());
        let kv = Var::parameter(kern.clone());
        let bv = Var::parameter(ndarray::arr1(&bias).into_dyn());
        let got = ops::conv1d_relu(&xv, &kv, Some(&bv), &p)?.to_tensor();
        let worst = got
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let flops = 2.0 * (n * want.dim().1 * f * k * c) as f64;
        let t_ref = median_ms(5, || {
            std::hint::black_box(reference(&x3, &k3, &bias, &p));
        });
        let t_fwd = median_ms(30, || {
            std::hint::black_box(neurite_autograd::no_grad(|| {
                ops::conv1d_relu(&xv, &kv, Some(&bv), &p).unwrap()
            }));
        });
        let t_train = median_ms(30, || {
            let y = ops::conv1d_relu(&xv, &kv, Some(&bv), &p).unwrap();
            ops::sum_all(&y).unwrap().backward().unwrap();
        });
        println!(
            "conv1d relu {label} b{n} L{len} c{c} f{f}: reference loops {t_ref:.2} ms ({:.1} GFLOP/s), \
             ops::conv1d_relu fwd {t_fwd:.3} ms ({:.1} GFLOP/s, {:.0}x), fwd+bwd {t_train:.3} ms; max |diff| {worst:.2e}",
            flops / t_ref / 1e6,
            flops / t_fwd / 1e6,
            t_ref / t_fwd
        );
    }
    // The same valid convolution through ops::conv2d_relu on (n, 1, L, c): what the wrapper costs.
    let x4 = Var::parameter(x.clone().into_shape_with_order(vec![n, 1, len, c])?);
    let k4 = Var::parameter(kern.clone().into_shape_with_order(vec![1, k, c, f])?);
    let b4 = Var::parameter(ndarray::arr1(&bias).into_dyn());
    let p2 = neurite_tensor::Conv2dParams::default();
    let t_fwd = median_ms(30, || {
        std::hint::black_box(neurite_autograd::no_grad(|| {
            ops::conv2d_relu(&x4, &k4, Some(&b4), &p2).unwrap()
        }));
    });
    let t_train = median_ms(30, || {
        let y = ops::conv2d_relu(&x4, &k4, Some(&b4), &p2).unwrap();
        ops::sum_all(&y).unwrap().backward().unwrap();
    });
    println!("conv2d relu on the (n, 1, L, c) view, valid k5: fwd {t_fwd:.3} ms, fwd+bwd {t_train:.3} ms");
    Ok(())
}
