//! Each forward convolution algorithm (direct taps, Winograd with and without
//! its multi-threaded GEMMs, im2col + GEMM) against an independent f64
//! definition, through the public `conv2d`, `conv2d_relu`, their backward
//! passes and the fused conv+ReLU+max-pool passes (inference and training),
//! on shapes that select it: 16-multiple channels and filters, the MNIST
//! CNN's own layers. Every case first asserts, with `conv2d_forward_plan`
//! (the function the forward passes dispatch with), which algorithm runs.
//!
//! Tolerance (f32 against f64): `|got - want| <= 1e-4 * (1 + sum of |terms|)`.

use ndarray::{Array1, Array4, ArrayView4};
use neurite_rand::Generator;
use neurite_tensor::{
    conv2d, conv2d_backward, conv2d_forward_plan, conv2d_relu, conv2d_relu_backward, conv2d_relu_max_pool2d,
    conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_with_indices, max_pool2d_backward, Conv2dParams,
    ConvAlgorithm, ConvForwardPlan, Padding, Pool2dParams,
};
use rand::Rng;

/// Keras/TensorFlow output size and leading padding, written out independently.
fn keras_out(input: usize, k: usize, s: usize, d: usize, same: bool) -> (usize, usize) {
    let eff = (k - 1) * d + 1;
    if same {
        let out = input.div_ceil(s);
        let total = ((out - 1) * s + eff).saturating_sub(input);
        (out, total / 2)
    } else {
        ((input - eff) / s + 1, 0)
    }
}

struct Case {
    x: Array4<f32>,
    w: Array4<f32>,
    b: Array1<f32>,
    p: Conv2dParams,
}

impl Case {
    fn new(shape: [usize; 4], kernel: (usize, usize, usize), p: Conv2dParams, seed: u64) -> Case {
        let mut rng = Generator::seed_from_u64(seed);
        let [n, h, w, c] = shape;
        let (kh, kw, f) = kernel;
        let mut r = |shape: (usize, usize, usize, usize)| {
            Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
        };
        let x = r((n, h, w, c));
        let wk = r((kh, kw, c, f));
        let b = Array1::from_shape_fn(f, |i| (i as f32 * 0.37).sin() * 0.5);
        Case { x, w: wk, b, p }
    }

    /// The `(index, (tap_h, tap_w))` input position read by output `(i, j)`, or None in padding.
    fn offsets(&self) -> (usize, usize) {
        let (_, h, w, _) = self.x.dim();
        let (kh, kw, _, _) = self.w.dim();
        let same = self.p.padding == Padding::Same;
        let (_, pt) = keras_out(h, kh, self.p.strides.0, self.p.dilation.0, same);
        let (_, pl) = keras_out(w, kw, self.p.strides.1, self.p.dilation.1, same);
        (pt, pl)
    }

    fn tap(&self, i: usize, j: usize, a: usize, e: usize) -> Option<(usize, usize)> {
        let (_, h, w, _) = self.x.dim();
        let (pt, pl) = self.offsets();
        let ih = (i * self.p.strides.0 + a * self.p.dilation.0) as isize - pt as isize;
        let iw = (j * self.p.strides.1 + e * self.p.dilation.1) as isize - pl as isize;
        (ih >= 0 && iw >= 0 && ih < h as isize && iw < w as isize).then_some((ih as usize, iw as usize))
    }

    /// Reference forward with bias, in f64: (values, sum of |terms| per output).
    fn forward(&self) -> (Array4<f64>, Array4<f64>) {
        let (n, h, w, ch) = self.x.dim();
        let (kh, kw, _, f) = self.w.dim();
        let same = self.p.padding == Padding::Same;
        let (oh, _) = keras_out(h, kh, self.p.strides.0, self.p.dilation.0, same);
        let (ow, _) = keras_out(w, kw, self.p.strides.1, self.p.dilation.1, same);
        let mut y = Array4::<f64>::zeros((n, oh, ow, f));
        let mut mag = Array4::<f64>::zeros((n, oh, ow, f));
        for b in 0..n {
            for i in 0..oh {
                for j in 0..ow {
                    for o in 0..f {
                        let (mut acc, mut m) = (self.b[o] as f64, (self.b[o] as f64).abs());
                        for a in 0..kh {
                            for e in 0..kw {
                                let Some((ih, iw)) = self.tap(i, j, a, e) else {
                                    continue;
                                };
                                for q in 0..ch {
                                    let t = self.x[[b, ih, iw, q]] as f64 * self.w[[a, e, q, o]] as f64;
                                    acc += t;
                                    m += t.abs();
                                }
                            }
                        }
                        y[[b, i, j, o]] = acc;
                        mag[[b, i, j, o]] = m;
                    }
                }
            }
        }
        (y, mag)
    }

    /// Reference backward in f64: ((dX, dW, db), their sums of |terms|).
    #[allow(clippy::type_complexity)]
    fn backward(
        &self,
        gy: ArrayView4<f32>,
    ) -> (
        (Array4<f64>, Array4<f64>, Array1<f64>),
        (Array4<f64>, Array4<f64>, Array1<f64>),
    ) {
        let (n, h, w, ch) = self.x.dim();
        let (kh, kw, _, f) = self.w.dim();
        let (_, oh, ow, _) = gy.dim();
        let (mut dx, mut dw, mut db) = (
            Array4::<f64>::zeros((n, h, w, ch)),
            Array4::<f64>::zeros((kh, kw, ch, f)),
            Array1::<f64>::zeros(f),
        );
        let (mut mx, mut mw, mut mb) = (dx.clone(), dw.clone(), db.clone());
        for b in 0..n {
            for i in 0..oh {
                for j in 0..ow {
                    for o in 0..f {
                        let g = gy[[b, i, j, o]] as f64;
                        db[o] += g;
                        mb[o] += g.abs();
                        for a in 0..kh {
                            for e in 0..kw {
                                let Some((ih, iw)) = self.tap(i, j, a, e) else {
                                    continue;
                                };
                                for q in 0..ch {
                                    let (wv, xv) =
                                        (self.w[[a, e, q, o]] as f64, self.x[[b, ih, iw, q]] as f64);
                                    dx[[b, ih, iw, q]] += g * wv;
                                    mx[[b, ih, iw, q]] += (g * wv).abs();
                                    dw[[a, e, q, o]] += g * xv;
                                    mw[[a, e, q, o]] += (g * xv).abs();
                                }
                            }
                        }
                    }
                }
            }
        }
        ((dx, dw, db), (mx, mw, mb))
    }
}

fn assert_close<D: ndarray::Dimension>(
    what: &str,
    got: &ndarray::Array<f32, D>,
    want: &ndarray::Array<f64, D>,
    mag: &ndarray::Array<f64, D>,
) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for ((i, g), (w, m)) in got.indexed_iter().zip(want.iter().zip(mag.iter())) {
        let tol = 1e-4 * (1.0 + m);
        assert!(
            (*g as f64 - w).abs() <= tol,
            "{what}: got {g} want {w} (tol {tol}) at {i:?}"
        );
    }
}

/// The f64 max pooling of `y` (with each window's summed magnitude bound) under `p`.
fn pool_reference(y: &Array4<f64>, mag: &Array4<f64>, p: &Pool2dParams) -> (Array4<f64>, Array4<f64>) {
    let (n, h, w, c) = y.dim();
    let same = p.padding == Padding::Same;
    let (oh, pt) = keras_out(h, p.pool_size.0, p.strides.0, 1, same);
    let (ow, pl) = keras_out(w, p.pool_size.1, p.strides.1, 1, same);
    let mut out = Array4::<f64>::from_elem((n, oh, ow, c), f64::NEG_INFINITY);
    let mut out_mag = Array4::<f64>::zeros((n, oh, ow, c));
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for a in 0..p.pool_size.0 {
                    for e in 0..p.pool_size.1 {
                        let ih = (i * p.strides.0 + a) as isize - pt as isize;
                        let iw = (j * p.strides.1 + e) as isize - pl as isize;
                        if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                            continue;
                        }
                        for q in 0..c {
                            let v = y[[b, ih as usize, iw as usize, q]];
                            let o = &mut out[[b, i, j, q]];
                            *o = o.max(v);
                            let m = &mut out_mag[[b, i, j, q]];
                            *m = m.max(mag[[b, ih as usize, iw as usize, q]]);
                        }
                    }
                }
            }
        }
    }
    (out, out_mag)
}

fn upstream(shape: &[usize], seed: u64) -> Array4<f32> {
    let mut rng = Generator::seed_from_u64(seed ^ 0x5eed);
    let d = (shape[0], shape[1], shape[2], shape[3]);
    Array4::from_shape_simple_fn(d, || rng.random_range(-1.0f32..1.0))
}

/// Pooling options for the fused passes: 2x2 stride 2 valid (the direct
/// kernel pools in registers for inference), an overlapping same-padded
/// window, and a stride-1 window.
fn pools() -> [Pool2dParams; 3] {
    [
        Pool2dParams::new((2, 2)),
        Pool2dParams {
            pool_size: (3, 3),
            strides: (2, 2),
            padding: Padding::Same,
        },
        Pool2dParams {
            pool_size: (2, 2),
            strides: (1, 1),
            padding: Padding::Valid,
        },
    ]
}

/// Asserts that `shape`/`kernel`/`p` run `expect`, then checks every public
/// pass on them against the reference. Returns the forward plan.
fn check(
    shape: [usize; 4],
    kernel: (usize, usize, usize),
    p: Conv2dParams,
    expect: ConvAlgorithm,
    seed: u64,
) -> ConvForwardPlan {
    let c = Case::new(shape, kernel, p, seed);
    let label = format!("x {shape:?} kernel {kernel:?} {p:?}");
    let plan = conv2d_forward_plan(c.x.shape(), c.w.shape(), &p).unwrap();
    assert_eq!(plan.algorithm, expect, "{label}: {plan:?}");

    // Forward, with and without ReLU.
    let (want, mag) = c.forward();
    let y = conv2d(c.x.view(), c.w.view(), Some(c.b.view()), &p).unwrap();
    assert_close(&format!("{label}: conv2d"), &y, &want, &mag);
    let yr = conv2d_relu(c.x.view(), c.w.view(), Some(c.b.view()), &p).unwrap();
    assert_close(
        &format!("{label}: conv2d_relu"),
        &yr,
        &want.mapv(|v| v.max(0.0)),
        &mag,
    );

    // Backward: with and without the input gradient.
    let gy = upstream(y.shape(), seed);
    let ((dx, dw, db), (mx, mw, mb)) = c.backward(gy.view());
    for need_dx in [true, false] {
        let g = conv2d_backward(c.x.view(), c.w.view(), gy.view(), &p, need_dx).unwrap();
        assert_close(&format!("{label}: dW"), &g.kernel, &dw, &mw);
        assert_close(&format!("{label}: db"), &g.bias, &db, &mb);
        match g.input {
            Some(gx) => assert_close(&format!("{label}: dX"), &gx, &dx, &mx),
            None => assert!(!need_dx, "{label}: dX missing"),
        }
    }
    // ReLU's backward: the gradient passes where the output is positive.
    let gy_relu = ndarray::Zip::from(&gy)
        .and(&yr)
        .map_collect(|&g, &v| if v > 0.0 { g } else { 0.0 });
    let ((dx, dw, db), (mx, mw, mb)) = c.backward(gy_relu.view());
    let g = conv2d_relu_backward(c.x.view(), c.w.view(), yr.view(), gy.view(), &p, true).unwrap();
    assert_close(&format!("{label}: relu dW"), &g.kernel, &dw, &mw);
    assert_close(&format!("{label}: relu db"), &g.bias, &db, &mb);
    assert_close(&format!("{label}: relu dX"), &g.input.unwrap(), &dx, &mx);

    // The fused conv + ReLU + max-pool passes, where the pooling fits.
    for pool in pools() {
        let (oh, ow) = (y.shape()[1], y.shape()[2]);
        if pool.padding == Padding::Valid && (pool.pool_size.0 > oh || pool.pool_size.1 > ow) {
            continue;
        }
        let plabel = format!("{label} {pool:?}");
        let (pw, pm) = pool_reference(&want.mapv(|v| v.max(0.0)), &mag, &pool);
        let inf = conv2d_relu_max_pool2d(c.x.view(), c.w.view(), Some(c.b.view()), &p, &pool).unwrap();
        assert_close(&format!("{plabel}: fused inference"), &inf, &pw, &pm);
        let (tr, idx) =
            conv2d_relu_max_pool2d_with_indices(c.x.view(), c.w.view(), Some(c.b.view()), &p, &pool).unwrap();
        assert_close(&format!("{plabel}: fused training"), &tr, &pw, &pm);
        // Backward: dY routed to each window's argmax where the pooled
        // output is positive, then the reference convolution backward.
        let gp = upstream(tr.shape(), seed ^ 7);
        let gp_relu = ndarray::Zip::from(&gp)
            .and(&tr)
            .map_collect(|&g, &v| if v > 0.0 { g } else { 0.0 });
        let conv_shape = [y.shape()[0], oh, ow, y.shape()[3]];
        let d_conv = max_pool2d_backward(gp_relu.view(), &idx, conv_shape).unwrap();
        let ((dx, dw, db), (mx, mw, mb)) = c.backward(d_conv.view());
        let g = conv2d_relu_max_pool2d_backward(c.x.view(), c.w.view(), tr.view(), &idx, gp.view(), &p, true)
            .unwrap();
        assert_close(&format!("{plabel}: fused dW"), &g.kernel, &dw, &mw);
        assert_close(&format!("{plabel}: fused db"), &g.bias, &db, &mb);
        assert_close(&format!("{plabel}: fused dX"), &g.input.unwrap(), &dx, &mx);
        // Each argmax is its window's maximum: the reference conv values it
        // points at add up to the reference pooled values.
        let ones = tr.mapv(|v| if v > 0.0 { 1.0f32 } else { 0.0 });
        let routed = max_pool2d_backward(ones.view(), &idx, conv_shape).unwrap();
        let at_argmax: f64 = routed.iter().zip(want.iter()).map(|(&r, &v)| r as f64 * v).sum();
        let pooled: f64 = tr
            .iter()
            .zip(pw.iter())
            .filter(|(t, _)| **t > 0.0)
            .map(|(_, v)| v)
            .sum();
        let bound: f64 = pm.iter().sum::<f64>();
        assert!(
            (at_argmax - pooled).abs() <= 1e-4 * (1.0 + bound),
            "{plabel}: argmax {at_argmax} vs max {pooled}"
        );
    }
    plan
}

fn params(stride: usize, dil: usize, same: bool) -> Conv2dParams {
    Conv2dParams {
        strides: (stride, stride),
        padding: if same { Padding::Same } else { Padding::Valid },
        dilation: (dil, dil),
    }
}

/// The MNIST CNN's own layers: 28x28x1 -> 3x3x32 (direct taps), then
/// 13x13x32 -> 3x3x64 (Winograd), at a training batch split into tasks and
/// at a single image (Winograd's multi-threaded GEMMs).
#[test]
fn mnist_cnn_layers_run_their_algorithms_and_match_the_definition() {
    let p = Conv2dParams::default();
    let plan = check([10, 28, 28, 1], (3, 3, 32), p, ConvAlgorithm::Direct, 1);
    assert!(plan.tasks > 1, "{plan:?}");
    let plan = check([1, 13, 13, 32], (3, 3, 64), p, ConvAlgorithm::Winograd, 2);
    assert!(plan.parallel_gemm && plan.tasks == 1, "{plan:?}");
    let plan = check([12, 13, 13, 32], (3, 3, 64), p, ConvAlgorithm::Winograd, 3);
    assert!(!plan.parallel_gemm && plan.tasks > 1, "{plan:?}");
}

/// Direct taps: every kernel shape of at most 32 taps with 1-3 channels,
/// 16 and 32 filters, every stride, dilation and padding.
#[test]
fn direct_taps_every_option() {
    let mut seed = 100;
    for c in 1..=3usize {
        for f in [16usize, 32] {
            for (kh, kw) in [(3, 3), (2, 2), (1, 3), (3, 1), (1, 1)] {
                for stride in 1..=2 {
                    for dil in 1..=2 {
                        for same in [false, true] {
                            seed += 1;
                            let p = params(stride, dil, same);
                            // 1x1 stride 1 is the pointwise GEMM, never the direct kernel.
                            let expect = if (kh, kw, stride) == (1, 1, 1) {
                                ConvAlgorithm::Gemm
                            } else {
                                ConvAlgorithm::Direct
                            };
                            let n = if seed % 4 == 0 { 9 } else { 2 };
                            check([n, 8, 9, c], (kh, kw, f), p, expect, seed);
                        }
                    }
                }
            }
        }
    }
    // 25 and 32 taps: still direct; 36 taps: im2col + GEMM.
    check(
        [2, 9, 9, 1],
        (5, 5, 16),
        Conv2dParams::default(),
        ConvAlgorithm::Direct,
        1,
    );
    check(
        [2, 9, 9, 2],
        (4, 4, 16),
        params(1, 1, true),
        ConvAlgorithm::Direct,
        2,
    );
    check(
        [2, 9, 9, 4],
        (3, 3, 16),
        Conv2dParams::default(),
        ConvAlgorithm::Gemm,
        3,
    );
}

/// Winograd: 16 and 32 channels and filters, output sizes that do and do
/// not fill whole 4x4 tiles, both paddings, one image (one task, threaded
/// GEMMs) and batches split into tasks.
#[test]
fn winograd_every_option_and_both_gemm_branches() {
    let (mut seed, mut parallel, mut split) = (200, 0, 0);
    for c in [16usize, 32] {
        for f in [16usize, 32] {
            for (h, w) in [(10, 10), (13, 11), (12, 17)] {
                for same in [false, true] {
                    for n in [1usize, 10] {
                        seed += 1;
                        let plan = check(
                            [n, h, w, c],
                            (3, 3, f),
                            params(1, 1, same),
                            ConvAlgorithm::Winograd,
                            seed,
                        );
                        if plan.parallel_gemm {
                            assert_eq!(plan.tasks, 1);
                            parallel += 1;
                        } else {
                            assert!(plan.tasks > 1);
                            split += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(parallel > 0 && split > 0, "parallel {parallel}, split {split}");
}

/// 16-multiple shapes that Winograd and the direct kernel refuse go to
/// im2col + GEMM and are right there too.
#[test]
fn shapes_next_to_the_fast_paths_use_the_gemm() {
    let gemm = ConvAlgorithm::Gemm;
    // Filters not a multiple of 16.
    check([2, 10, 10, 16], (3, 3, 24), Conv2dParams::default(), gemm, 1);
    // Channels not a multiple of 16.
    check([2, 10, 10, 24], (3, 3, 16), Conv2dParams::default(), gemm, 2);
    // Output smaller than 8x8.
    check([2, 9, 9, 16], (3, 3, 16), Conv2dParams::default(), gemm, 3);
    // Stride 2, dilation 2, a 1x1 and a 5x5 kernel.
    check([2, 12, 12, 16], (3, 3, 16), params(2, 1, true), gemm, 4);
    check([2, 12, 12, 16], (3, 3, 16), params(1, 2, false), gemm, 5);
    check([2, 10, 10, 16], (1, 1, 16), Conv2dParams::default(), gemm, 6);
    check([2, 12, 12, 16], (5, 5, 16), params(1, 1, true), gemm, 7);
}

#[test]
fn empty_outputs_are_trivial_plans() {
    let p = Conv2dParams::default();
    let plan = conv2d_forward_plan(&[0, 9, 9, 16], &[3, 3, 16, 16], &p).unwrap();
    assert_eq!(plan.algorithm, ConvAlgorithm::Trivial);
    let plan = conv2d_forward_plan(&[1, 9, 9, 16], &[3, 3, 16, 0], &p).unwrap();
    assert_eq!(plan.algorithm, ConvAlgorithm::Trivial);
    let e = conv2d_forward_plan(&[1, 9, 9, 15], &[3, 3, 16, 16], &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("15 channels"), "{e}");
}
