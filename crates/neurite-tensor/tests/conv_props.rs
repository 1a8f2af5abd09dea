//! Property tests of conv2d forward/backward against plainly written direct
//! convolution loops (with explicit Keras padding arithmetic re-derived here),
//! plus adjoint identities and finite differences.
//!
//! Tolerance (f32): |got - want| <= 1e-4 * (1 + sum of |terms|) for every element,
//! where the reference is accumulated in f64.

use ndarray::{Array1, Array4, ArrayView4};
use neurite_rand::Generator;
use neurite_tensor::{conv2d, conv2d_backward, conv2d_relu, conv2d_relu_backward, Conv2dParams, Padding};
use proptest::prelude::*;
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

#[derive(Debug, Clone)]
struct Case {
    x: Array4<f32>,
    w: Array4<f32>,
    b: Array1<f32>,
    p: Conv2dParams,
}

fn rand_array(rng: &mut Generator, shape: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

/// Reference forward in f64: returns (values, sum of |terms| per output).
fn naive_forward(c: &Case) -> (Array4<f64>, Array4<f64>) {
    let (n, h, w, ch) = c.x.dim();
    let (kh, kw, _, f) = c.w.dim();
    let same = c.p.padding == Padding::Same;
    let (oh, pt) = keras_out(h, kh, c.p.strides.0, c.p.dilation.0, same);
    let (ow, pl) = keras_out(w, kw, c.p.strides.1, c.p.dilation.1, same);
    let mut y = Array4::<f64>::zeros((n, oh, ow, f));
    let mut mag = Array4::<f64>::zeros((n, oh, ow, f));
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for o in 0..f {
                    let mut acc = c.b[o] as f64;
                    let mut m = (c.b[o] as f64).abs();
                    for a in 0..kh {
                        for e in 0..kw {
                            let ih = (i * c.p.strides.0 + a * c.p.dilation.0) as isize - pt as isize;
                            let iw = (j * c.p.strides.1 + e * c.p.dilation.1) as isize - pl as isize;
                            if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                continue;
                            }
                            for q in 0..ch {
                                let t =
                                    c.x[[b, ih as usize, iw as usize, q]] as f64 * c.w[[a, e, q, o]] as f64;
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

/// Reference backward in f64: (dX, dW, db).
fn naive_backward(c: &Case, gy: ArrayView4<f32>) -> (Array4<f64>, Array4<f64>, Array1<f64>) {
    let (n, h, w, ch) = c.x.dim();
    let (kh, kw, _, f) = c.w.dim();
    let (_, oh, ow, _) = gy.dim();
    let same = c.p.padding == Padding::Same;
    let (_, pt) = keras_out(h, kh, c.p.strides.0, c.p.dilation.0, same);
    let (_, pl) = keras_out(w, kw, c.p.strides.1, c.p.dilation.1, same);
    let mut dx = Array4::<f64>::zeros((n, h, w, ch));
    let mut dw = Array4::<f64>::zeros((kh, kw, ch, f));
    let mut db = Array1::<f64>::zeros(f);
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for o in 0..f {
                    let g = gy[[b, i, j, o]] as f64;
                    db[o] += g;
                    for a in 0..kh {
                        for e in 0..kw {
                            let ih = (i * c.p.strides.0 + a * c.p.dilation.0) as isize - pt as isize;
                            let iw = (j * c.p.strides.1 + e * c.p.dilation.1) as isize - pl as isize;
                            if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                continue;
                            }
                            let (ih, iw) = (ih as usize, iw as usize);
                            for q in 0..ch {
                                dx[[b, ih, iw, q]] += g * c.w[[a, e, q, o]] as f64;
                                dw[[a, e, q, o]] += g * c.x[[b, ih, iw, q]] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw, db)
}

fn assert_close<D: ndarray::Dimension>(
    what: &str,
    got: &ndarray::Array<f32, D>,
    want: &ndarray::Array<f64, D>,
    scale: f64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.shape(), want.shape(), "{} shape", what);
    for (g, w) in got.iter().zip(want.iter()) {
        let tol = 1e-4 * (1.0 + scale);
        prop_assert!(
            ((*g as f64) - w).abs() <= tol,
            "{}: got {} want {} (tol {})",
            what,
            g,
            w,
            tol
        );
    }
    Ok(())
}

prop_compose! {
    fn case()(
        // 9..20 images: several tasks per batch (see conv::MIN_TASKS).
        n in prop_oneof![1usize..3, 9usize..20], c in prop_oneof![1usize..4, 4usize..9], f in 1usize..4,
        kh in 1usize..4, kw in 1usize..4,
        sh in 1usize..4, sw in 1usize..4,
        dh in 1usize..4, dw in 1usize..4,
        same in any::<bool>(),
        eh in 0usize..5, ew in 0usize..5,
        seed in any::<u64>(),
    ) -> Case {
        let pad = if same { Padding::Same } else { Padding::Valid };
        // Valid: the input is at least the dilated kernel (eh = 0: kernel as large as the input).
        // Same: any input size from 1, also smaller than the kernel.
        let (h, w) = if same { (1 + eh * 2, 1 + ew) } else { ((kh - 1) * dh + 1 + eh, (kw - 1) * dw + 1 + ew) };
        let mut rng = Generator::seed_from_u64(seed);
        let x = rand_array(&mut rng, (n, h, w, c));
        let wt = rand_array(&mut rng, (kh, kw, c, f));
        let b = Array1::from_shape_simple_fn(f, || rng.random_range(-1.0f32..1.0));
        Case { x, w: wt, b, p: Conv2dParams { strides: (sh, sw), padding: pad, dilation: (dh, dw) } }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn forward_matches_direct_loops(c in case()) {
        let y = conv2d(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        let (want, mag) = naive_forward(&c);
        let scale = mag.iter().cloned().fold(0.0, f64::max);
        assert_close("conv2d", &y, &want, scale)?;
    }

    #[test]
    fn forward_of_non_contiguous_views(c in case()) {
        // Same data, stored (W, H) transposed and viewed back as NHWC: a non-standard layout.
        let xt = c.x.view().permuted_axes([0, 2, 1, 3]).to_owned();
        let xv = xt.view().permuted_axes([0, 2, 1, 3]);
        let a = conv2d(xv, c.w.view(), Some(c.b.view()), &c.p).unwrap();
        let b = conv2d(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn backward_matches_direct_loops(c in case(), seed in any::<u64>()) {
        let y = conv2d(c.x.view(), c.w.view(), None, &c.p).unwrap();
        let mut rng = Generator::seed_from_u64(seed);
        let gy = rand_array(&mut rng, y.dim());
        let g = conv2d_backward(c.x.view(), c.w.view(), gy.view(), &c.p, true).unwrap();
        let (dx, dw, db) = naive_backward(&c, gy.view());
        // Each gradient element sums at most (number of outputs) * F * KH*KW*C products of |v| <= 1.
        let scale = (gy.len() * c.w.len()) as f64 / 8.0;
        assert_close("dX", g.input.as_ref().unwrap(), &dx, scale.sqrt())?;
        assert_close("dW", &g.kernel, &dw, scale.sqrt())?;
        assert_close("db", &g.bias, &db, scale.sqrt())?;
        // Not asking for dX must not change the other gradients.
        let g2 = conv2d_backward(c.x.view(), c.w.view(), gy.view(), &c.p, false).unwrap();
        prop_assert!(g2.input.is_none());
        prop_assert_eq!(&g2.kernel, &g.kernel);
        prop_assert_eq!(&g2.bias, &g.bias);
    }

    /// conv2d_relu == max(conv2d + b, 0), bit for bit.
    #[test]
    fn relu_forward_is_relu_of_forward(c in case()) {
        let y = conv2d(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        let r = conv2d_relu(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        prop_assert_eq!(r, y.mapv(|v| v.max(0.0)));
    }

    /// conv2d_relu_backward == conv2d_backward of the gradient masked by output > 0.
    #[test]
    fn relu_backward_masks_the_gradient(c in case(), seed in any::<u64>(), need_dx in any::<bool>()) {
        let y = conv2d_relu(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        let mut rng = Generator::seed_from_u64(seed);
        let gy = rand_array(&mut rng, y.dim());
        let g = conv2d_relu_backward(c.x.view(), c.w.view(), y.view(), gy.view(), &c.p, need_dx).unwrap();
        let masked = ndarray::Zip::from(&gy).and(&y).map_collect(|&g, &o| if o > 0.0 { g } else { 0.0 });
        let (dx, dw, db) = naive_backward(&c, masked.view());
        let scale = ((gy.len() * c.w.len()) as f64 / 8.0).sqrt();
        prop_assert_eq!(g.input.is_some(), need_dx);
        if let Some(gx) = &g.input {
            assert_close("dX", gx, &dx, scale)?;
        }
        assert_close("dW", &g.kernel, &dw, scale)?;
        assert_close("db", &g.bias, &db, scale)?;
    }

    /// <conv(x, W), g> == <x, dX(g)> == <W, dW(g)>: backward is the adjoint of forward.
    #[test]
    fn adjoint_identities(c in case(), seed in any::<u64>()) {
        let y = conv2d(c.x.view(), c.w.view(), None, &c.p).unwrap();
        let mut rng = Generator::seed_from_u64(seed);
        let gy = rand_array(&mut rng, y.dim());
        let g = conv2d_backward(c.x.view(), c.w.view(), gy.view(), &c.p, true).unwrap();
        let dot = |a: &Array4<f32>, b: &Array4<f32>| a.iter().zip(b).map(|(u, v)| *u as f64 * *v as f64).sum::<f64>();
        let lhs = dot(&y, &gy);
        let via_x = dot(&c.x, g.input.as_ref().unwrap());
        let via_w = dot(&c.w, &g.kernel);
        let tol = 1e-4 * (1.0 + y.len() as f64 * c.w.len() as f64).sqrt();
        prop_assert!((lhs - via_x).abs() <= tol, "<y,g>={} <x,dX>={}", lhs, via_x);
        prop_assert!((lhs - via_w).abs() <= tol, "<y,g>={} <W,dW>={}", lhs, via_w);
    }
}

/// Central finite differences of L = <conv2d(x, W, b), G> (linear, so exact up to rounding).
#[test]
fn finite_differences_small_case() {
    let mut rng = Generator::seed_from_u64(7);
    let x = rand_array(&mut rng, (2, 5, 4, 2));
    let w = rand_array(&mut rng, (3, 2, 2, 3));
    let b = Array1::from_vec(vec![0.1f32, -0.2, 0.3]);
    let p = Conv2dParams {
        strides: (2, 1),
        padding: Padding::Same,
        dilation: (1, 2),
    };
    let y = conv2d(x.view(), w.view(), Some(b.view()), &p).unwrap();
    let gy = rand_array(&mut rng, y.dim());
    let loss = |x: &Array4<f32>, w: &Array4<f32>, b: &Array1<f32>| -> f64 {
        let y = conv2d(x.view(), w.view(), Some(b.view()), &p).unwrap();
        y.iter().zip(&gy).map(|(u, v)| *u as f64 * *v as f64).sum()
    };
    let g = conv2d_backward(x.view(), w.view(), gy.view(), &p, true).unwrap();
    let eps = 1e-2f32;
    let dx = g.input.unwrap();
    for (idx, &an) in dx.indexed_iter() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[idx] += eps;
        xm[idx] -= eps;
        let num = (loss(&xp, &w, &b) - loss(&xm, &w, &b)) / (2.0 * eps as f64);
        assert!(
            (num - an as f64).abs() < 2e-3,
            "dX{idx:?}: numeric {num} analytic {an}"
        );
    }
    for (idx, &an) in g.kernel.indexed_iter() {
        let (mut wp, mut wm) = (w.clone(), w.clone());
        wp[idx] += eps;
        wm[idx] -= eps;
        let num = (loss(&x, &wp, &b) - loss(&x, &wm, &b)) / (2.0 * eps as f64);
        assert!(
            (num - an as f64).abs() < 2e-3,
            "dW{idx:?}: numeric {num} analytic {an}"
        );
    }
    for o in 0..3 {
        let (mut bp, mut bm) = (b.clone(), b.clone());
        bp[o] += eps;
        bm[o] -= eps;
        let num = (loss(&x, &w, &bp) - loss(&x, &w, &bm)) / (2.0 * eps as f64);
        assert!(
            (num - g.bias[o] as f64).abs() < 2e-3,
            "db[{o}]: numeric {num} analytic {}",
            g.bias[o]
        );
    }
}

/// Large enough that the im2col matrix exceeds COLS_BUDGET per image, so the
/// batch is processed in several chunks (dW accumulates across chunks): the
/// result must equal image-by-image calls (each a single chunk, checked above).
#[test]
fn chunked_batches_match_single_images() {
    let mut rng = Generator::seed_from_u64(11);
    let (h, w, ch) = (66, 66, 128);
    let per_image = 64 * 64 * 9 * ch;
    assert!(
        per_image > neurite_tensor::COLS_BUDGET / 2,
        "test must force one image per chunk"
    );
    let x = rand_array(&mut rng, (3, h, w, ch));
    let k = rand_array(&mut rng, (3, 3, ch, 2));
    let p = Conv2dParams::default();
    let y = conv2d(x.view(), k.view(), None, &p).unwrap();
    let gy = rand_array(&mut rng, y.dim());
    let g = conv2d_backward(x.view(), k.view(), gy.view(), &p, true).unwrap();
    let dx = g.input.unwrap();
    let mut dw_sum = Array4::<f32>::zeros(k.dim());
    for i in 0..3 {
        let xi = x.slice(ndarray::s![i..i + 1, .., .., ..]);
        let gi = gy.slice(ndarray::s![i..i + 1, .., .., ..]);
        let yi = conv2d(xi, k.view(), None, &p).unwrap();
        let near = |a: &f32, b: &f32| (a - b).abs() <= 1e-4 * (1.0 + a.abs());
        assert!(yi
            .iter()
            .zip(y.slice(ndarray::s![i..i + 1, .., .., ..]))
            .all(|(a, b)| near(a, b)));
        let gr = conv2d_backward(xi, k.view(), gi, &p, true).unwrap();
        let dxi = gr.input.unwrap();
        assert!(dxi
            .iter()
            .zip(dx.slice(ndarray::s![i..i + 1, .., .., ..]))
            .all(|(a, b)| near(a, b)));
        dw_sum += &gr.kernel;
    }
    for (a, b) in dw_sum.iter().zip(g.kernel.iter()) {
        assert!((a - b).abs() <= 1e-3 * (1.0 + a.abs()), "dW {a} vs {b}");
    }
}

/// 1x1 stride-1 convolutions take the no-im2col path: check it on a bigger shape.
#[test]
fn pointwise_fast_path_matches_reference() {
    let mut rng = Generator::seed_from_u64(3);
    for padding in [Padding::Valid, Padding::Same] {
        let c = Case {
            x: rand_array(&mut rng, (3, 7, 5, 6)),
            w: rand_array(&mut rng, (1, 1, 6, 4)),
            b: Array1::from_vec(vec![1.0, 2.0, 3.0, 4.0]),
            p: Conv2dParams {
                padding,
                dilation: (2, 3),
                ..Conv2dParams::default()
            },
        };
        let y = conv2d(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        let (want, _) = naive_forward(&c);
        for (g, w) in y.iter().zip(want.iter()) {
            assert!((*g as f64 - w).abs() < 1e-4);
        }
        let gy = rand_array(&mut rng, y.dim());
        let g = conv2d_backward(c.x.view(), c.w.view(), gy.view(), &c.p, true).unwrap();
        let (dx, dw, db) = naive_backward(&c, gy.view());
        for (g, w) in g.input.unwrap().iter().zip(dx.iter()) {
            assert!((*g as f64 - w).abs() < 1e-4);
        }
        for (g, w) in g.kernel.iter().zip(dw.iter()) {
            assert!((*g as f64 - w).abs() < 1e-4);
        }
        for (g, w) in g.bias.iter().zip(db.iter()) {
            assert!((*g as f64 - w).abs() < 1e-4);
        }
    }
}
