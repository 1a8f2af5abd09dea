//! Property tests of `conv2d_transpose` forward and backward against a plainly
//! written f64 loop that follows Keras 3's JAX backend literally: the input is
//! dilated by the stride, padded by `(left, right)` from
//! `_convert_conv_transpose_padding_args_from_keras_to_jax`, and correlated
//! with the spatially flipped kernel. The backward reference is the adjoint
//! of the same loop (every term's contribution to dX, dW, db).
//!
//! Tolerance (f32 vs f64): |got - want| <= 1e-4 * (1 + sum of |terms|).

use ndarray::{Array1, Array4};
use neurite_rand::Generator;
use neurite_tensor::{
    conv2d_transpose, conv2d_transpose_backward, conv2d_transpose_output_shape, Conv2dTransposeParams,
    Padding,
};
use proptest::prelude::*;
use rand::Rng;

/// Keras/JAX `(left_pad, right_pad)` of one axis.
fn jax_pads(k: usize, s: usize, d: usize, same: bool, op: Option<usize>) -> (usize, usize) {
    let eff = (k - 1) * d + 1;
    if !same {
        let op = op.unwrap_or(eff.max(s) - eff);
        (eff - 1, eff - 1 + op)
    } else {
        let pad_len = match op {
            None => s + eff - 2,
            Some(op) => eff + eff % 2 - 2 + op,
        };
        let left = (pad_len / 2 + pad_len % 2).min(eff - 1);
        (left, pad_len - left)
    }
}

#[derive(Debug, Clone)]
struct Case {
    x: Array4<f32>,
    w: Array4<f32>,
    b: Array1<f32>,
    p: Conv2dTransposeParams,
}

fn rand4(rng: &mut Generator, shape: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

/// Calls `term(n, oy, ox, f, ih, iw, c, kh, kw)` for every product of the
/// reference (output pixel, flipped tap, input pixel); returns the output shape.
fn for_each_term(c: &Case, mut term: impl FnMut([usize; 9])) -> [usize; 4] {
    let (n, h, w, ch) = c.x.dim();
    let (kh, kw, f, _) = c.w.dim();
    let same = c.p.padding == Padding::Same;
    let (s, d) = (c.p.strides, c.p.dilation);
    let (pt, pb) = jax_pads(kh, s.0, d.0, same, c.p.output_padding.map(|o| o.0));
    let (pl, pr) = jax_pads(kw, s.1, d.1, same, c.p.output_padding.map(|o| o.1));
    let (lh, lw) = ((h - 1) * s.0 + 1, (w - 1) * s.1 + 1);
    let (eh, ew) = ((kh - 1) * d.0 + 1, (kw - 1) * d.1 + 1);
    let (oh, ow) = (lh + pt + pb + 1 - eh, lw + pl + pr + 1 - ew);
    // Position q of the dilated, padded input holds x[(q - pad) / s] when that divides.
    let src = |q: usize, pad: usize, s: usize, len: usize| {
        q.checked_sub(pad)
            .filter(|v| v % s == 0)
            .map(|v| v / s)
            .filter(|&i| i < len)
    };
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for a in 0..kh {
                    for e in 0..kw {
                        let (Some(ih), Some(iw)) =
                            (src(oy + a * d.0, pt, s.0, h), src(ox + e * d.1, pl, s.1, w))
                        else {
                            continue;
                        };
                        // The flipped kernel: tap a of the correlation is kernel row kh-1-a.
                        for o in 0..f {
                            for q in 0..ch {
                                term([b, oy, ox, o, ih, iw, q, kh - 1 - a, kw - 1 - e]);
                            }
                        }
                    }
                }
            }
        }
    }
    [n, oh, ow, f]
}

/// Reference forward: (values, sum of |terms| per output).
fn naive_forward(c: &Case) -> (Array4<f64>, Array4<f64>) {
    let mut terms = Vec::new();
    let shape = for_each_term(c, |t| terms.push(t));
    let mut y = Array4::<f64>::zeros(shape);
    let mut mag = Array4::<f64>::zeros(shape);
    for ((b, oy, ox, o), v) in y.indexed_iter_mut() {
        *v = c.b[o] as f64;
        mag[[b, oy, ox, o]] = (c.b[o] as f64).abs();
    }
    for [b, oy, ox, o, ih, iw, q, a, e] in terms {
        let v = c.x[[b, ih, iw, q]] as f64 * c.w[[a, e, o, q]] as f64;
        y[[b, oy, ox, o]] += v;
        mag[[b, oy, ox, o]] += v.abs();
    }
    (y, mag)
}

/// Reference gradients (dX, dW, db) for `gy`, each with its sums of |terms|.
#[allow(clippy::type_complexity)]
fn naive_backward(c: &Case, gy: &Array4<f32>) -> [(Vec<f64>, Vec<f64>, Vec<usize>); 3] {
    let (mut dx, mut dxm) = (Array4::<f64>::zeros(c.x.dim()), Array4::<f64>::zeros(c.x.dim()));
    let (mut dw, mut dwm) = (Array4::<f64>::zeros(c.w.dim()), Array4::<f64>::zeros(c.w.dim()));
    let f = c.w.dim().2;
    let (mut db, mut dbm) = (vec![0.0f64; f], vec![0.0f64; f]);
    for ((_, _, _, o), &g) in gy.indexed_iter() {
        db[o] += g as f64;
        dbm[o] += (g as f64).abs();
    }
    for_each_term(c, |[b, oy, ox, o, ih, iw, q, a, e]| {
        let g = gy[[b, oy, ox, o]] as f64;
        let vx = g * c.w[[a, e, o, q]] as f64;
        let vw = g * c.x[[b, ih, iw, q]] as f64;
        dx[[b, ih, iw, q]] += vx;
        dxm[[b, ih, iw, q]] += vx.abs();
        dw[[a, e, o, q]] += vw;
        dwm[[a, e, o, q]] += vw.abs();
    });
    let flat = |a: Array4<f64>| a.into_raw_vec_and_offset().0;
    [
        (flat(dx), flat(dxm), c.x.shape().to_vec()),
        (flat(dw), flat(dwm), c.w.shape().to_vec()),
        (db, dbm, vec![f]),
    ]
}

fn close(got: &[f32], want: &[f64], mag: &[f64], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{} length", what);
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(mag).enumerate() {
        prop_assert!(
            (g as f64 - w).abs() <= 1e-4 * (1.0 + m),
            "{} element {}: got {}, want {}",
            what,
            i,
            g,
            w
        );
    }
    Ok(())
}

prop_compose! {
    fn cases()(n in 1usize..4, h in 1usize..6, w in 1usize..6, c in 1usize..20, f in 1usize..20,
               kh in 1usize..4, kw in 1usize..4, s in 1usize..4, d in 1usize..3, same in any::<bool>(),
               op in 0usize..4, with_op in any::<bool>(), seed in 0u64..10_000) -> Case {
        let mut rng = Generator::seed_from_u64(seed);
        // Keras refuses strides and dilation both above 1.
        let (s, d) = if d > 1 { ((1, 1), (d, d)) } else { ((s, (s % 3) + 1), (1, 1)) };
        let output_padding = with_op.then_some((op % s.0, op % s.1));
        Case {
            x: rand4(&mut rng, (n, h, w, c)),
            w: rand4(&mut rng, (kh, kw, f, c)),
            b: Array1::from_shape_simple_fn(f, || rng.random_range(-1.0f32..1.0)),
            p: Conv2dTransposeParams {
                strides: s,
                padding: if same { Padding::Same } else { Padding::Valid },
                dilation: d,
                output_padding,
            },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Forward (with and without bias), the output-shape function, and the
    /// backward (dX, dW, db; and without dX) against the reference.
    #[test]
    fn matches_the_reference(c in cases(), gseed in 0u64..10_000) {
        let (want, mag) = naive_forward(&c);
        let shape = conv2d_transpose_output_shape(c.x.shape(), c.w.shape(), &c.p).unwrap();
        prop_assert_eq!(&shape[..], want.shape());
        let y = conv2d_transpose(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
        close(y.as_slice().unwrap(), want.as_slice().unwrap(), mag.as_slice().unwrap(), "forward")?;
        let y0 = conv2d_transpose(c.x.view(), c.w.view(), None, &c.p).unwrap();
        let b4 = c.b.view().into_shape_with_order((1, 1, 1, c.b.len())).unwrap();
        let y0b = &y0 + &b4;
        close(y0b.as_slice().unwrap(), want.as_slice().unwrap(), mag.as_slice().unwrap(), "forward without bias")?;

        let gy = rand4(&mut Generator::seed_from_u64(gseed), (shape[0], shape[1], shape[2], shape[3]));
        let [(dx, dxm, _), (dw, dwm, _), (db, dbm, _)] = naive_backward(&c, &gy);
        let g = conv2d_transpose_backward(c.x.view(), c.w.view(), gy.view(), &c.p, true).unwrap();
        close(g.input.as_ref().unwrap().as_slice().unwrap(), &dx, &dxm, "dX")?;
        close(g.kernel.as_slice().unwrap(), &dw, &dwm, "dW")?;
        close(g.bias.as_slice().unwrap(), &db, &dbm, "db")?;
        let g2 = conv2d_transpose_backward(c.x.view(), c.w.view(), gy.view(), &c.p, false).unwrap();
        prop_assert!(g2.input.is_none());
        prop_assert_eq!(&g2.kernel, &g.kernel);
        prop_assert_eq!(&g2.bias, &g.bias);
    }
}

/// Batches large enough to be split into several tasks (the per-task
/// partial sums of dW), odd sizes, same padding with output padding.
#[test]
fn multi_task_batches_match_the_reference() {
    for (n, h, c, f, s, op) in [
        (19, 7, 5, 3, 2, Some((1, 0))),
        (12, 9, 16, 17, 1, None),
        (33, 3, 2, 33, 3, Some((2, 1))),
    ] {
        let mut rng = Generator::seed_from_u64(n as u64);
        let case = Case {
            x: rand4(&mut rng, (n, h, h + 1, c)),
            w: rand4(&mut rng, (3, 2, f, c)),
            b: Array1::from_shape_simple_fn(f, || rng.random_range(-1.0f32..1.0)),
            p: Conv2dTransposeParams {
                strides: (s, s),
                padding: Padding::Same,
                dilation: (1, 1),
                output_padding: op,
            },
        };
        let (want, mag) = naive_forward(&case);
        let y = conv2d_transpose(case.x.view(), case.w.view(), Some(case.b.view()), &case.p).unwrap();
        close(
            y.as_slice().unwrap(),
            want.as_slice().unwrap(),
            mag.as_slice().unwrap(),
            "forward",
        )
        .unwrap();
        let gy = rand4(&mut rng, want.dim());
        let [(dx, dxm, _), (dw, dwm, _), (db, dbm, _)] = naive_backward(&case, &gy);
        let g = conv2d_transpose_backward(case.x.view(), case.w.view(), gy.view(), &case.p, true).unwrap();
        close(g.input.as_ref().unwrap().as_slice().unwrap(), &dx, &dxm, "dX").unwrap();
        close(g.kernel.as_slice().unwrap(), &dw, &dwm, "dW").unwrap();
        close(&g.bias.to_vec(), &db, &dbm, "db").unwrap();
    }
}

/// Keras' output lengths, from its documentation's formulas.
#[test]
fn output_lengths_follow_keras() {
    let p = |s: usize, same: bool, op: Option<(usize, usize)>| Conv2dTransposeParams {
        strides: (s, s),
        padding: if same { Padding::Same } else { Padding::Valid },
        dilation: (1, 1),
        output_padding: op,
    };
    let out = |h: usize, k: usize, q: &Conv2dTransposeParams| {
        conv2d_transpose_output_shape(&[1, h, h, 1], &[k, k, 1, 1], q).unwrap()[1]
    };
    assert_eq!(out(7, 3, &p(2, false, None)), 15); // 7*2 + max(3-2, 0)
    assert_eq!(out(7, 1, &p(3, false, None)), 21); // 7*3 + 0
    assert_eq!(out(7, 3, &p(2, true, None)), 14); // 7*2
    assert_eq!(out(7, 3, &p(2, false, Some((1, 1)))), 16); // 6*2 + 3 + 1
    assert_eq!(out(7, 3, &p(2, true, Some((1, 1)))), 14); // 6*2 + 3 - 2*1 + 1
    assert_eq!(out(7, 4, &p(2, true, Some((0, 0)))), 12); // 6*2 + 4 - 2*2 + 0
}

/// Hostile shapes and parameters are errors naming the op, not panics.
#[test]
fn bad_arguments_are_errors() {
    let x = Array4::<f32>::zeros((1, 4, 4, 2));
    let w = Array4::<f32>::zeros((3, 3, 5, 2));
    let ok = Conv2dTransposeParams::default();
    let bad = [
        Conv2dTransposeParams {
            strides: (0, 1),
            ..ok
        },
        Conv2dTransposeParams {
            dilation: (1, 0),
            ..ok
        },
        Conv2dTransposeParams {
            strides: (2, 2),
            output_padding: Some((2, 0)),
            ..ok
        },
        Conv2dTransposeParams {
            output_padding: Some((0, 1)),
            ..ok
        },
    ];
    for p in bad {
        let e = conv2d_transpose(x.view(), w.view(), None, &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("conv2d_transpose"), "{e}");
    }
    let wrong_channels = Array4::<f32>::zeros((3, 3, 5, 3));
    assert!(conv2d_transpose(x.view(), wrong_channels.view(), None, &ok).is_err());
    let wrong_bias = Array1::<f32>::zeros(4);
    assert!(conv2d_transpose(x.view(), w.view(), Some(wrong_bias.view()), &ok).is_err());
    let gy = Array4::<f32>::zeros((1, 5, 5, 5));
    assert!(conv2d_transpose_backward(x.view(), w.view(), gy.view(), &ok, true).is_err());
    // Sizes whose output overflows: an error before any allocation.
    let huge = Conv2dTransposeParams {
        strides: (1 << 40, 1 << 40),
        ..ok
    };
    assert!(
        conv2d_transpose_output_shape(&[1 << 20, 1 << 20, 1 << 20, 1], &[1, 1, 1 << 30, 1], &huge).is_err()
    );
    assert!(conv2d_transpose_output_shape(&[1, 2, 2, 1], &[usize::MAX, 1, 1, 1], &ok).is_err());
}
