//! Property tests of `depthwise_conv2d` forward and backward against plainly
//! written f64 loops (Keras/TensorFlow padding re-derived here; output
//! channel `c * M + m`), on channel counts crossing the 8- and 16-wide
//! SIMD blocks, odd sizes, every stride/padding/dilation and batches that
//! run as one or several tasks.
//!
//! Tolerance (f32 vs f64): |got - want| <= 1e-4 * (1 + sum of |terms|).

use ndarray::{Array1, Array4};
use neurite_rand::Generator;
use neurite_tensor::{
    depthwise_conv2d, depthwise_conv2d_backward, depthwise_conv2d_output_shape, Conv2dParams, Padding,
};
use proptest::prelude::*;
use rand::Rng;

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

fn rand4(rng: &mut Generator, shape: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

/// Calls `term([n, oh, ow, c, m, ih, iw, a, e])` for every product; returns the output shape.
fn for_each_term(c: &Case, mut term: impl FnMut([usize; 9])) -> [usize; 4] {
    let (n, h, w, ch) = c.x.dim();
    let (kh, kw, _, mult) = c.w.dim();
    let same = c.p.padding == Padding::Same;
    let (s, d) = (c.p.strides, c.p.dilation);
    let (oh, pt) = keras_out(h, kh, s.0, d.0, same);
    let (ow, pl) = keras_out(w, kw, s.1, d.1, same);
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for a in 0..kh {
                    for e in 0..kw {
                        let ih = (i * s.0 + a * d.0).checked_sub(pt).filter(|&v| v < h);
                        let iw = (j * s.1 + e * d.1).checked_sub(pl).filter(|&v| v < w);
                        let (Some(ih), Some(iw)) = (ih, iw) else { continue };
                        for q in 0..ch {
                            for m in 0..mult {
                                term([b, i, j, q, m, ih, iw, a, e]);
                            }
                        }
                    }
                }
            }
        }
    }
    [n, oh, ow, ch * mult]
}

fn naive_forward(c: &Case) -> (Array4<f64>, Array4<f64>) {
    let mult = c.w.dim().3;
    let mut terms = Vec::new();
    let shape = for_each_term(c, |t| terms.push(t));
    let mut y = Array4::<f64>::zeros(shape);
    let mut mag = Array4::<f64>::zeros(shape);
    for ((b, i, j, o), v) in y.indexed_iter_mut() {
        *v = c.b[o] as f64;
        mag[[b, i, j, o]] = (c.b[o] as f64).abs();
    }
    for [b, i, j, q, m, ih, iw, a, e] in terms {
        let v = c.x[[b, ih, iw, q]] as f64 * c.w[[a, e, q, m]] as f64;
        y[[b, i, j, q * mult + m]] += v;
        mag[[b, i, j, q * mult + m]] += v.abs();
    }
    (y, mag)
}

#[allow(clippy::type_complexity)]
fn naive_backward(c: &Case, gy: &Array4<f32>) -> [(Vec<f64>, Vec<f64>); 3] {
    let mult = c.w.dim().3;
    let (mut dx, mut dxm) = (Array4::<f64>::zeros(c.x.dim()), Array4::<f64>::zeros(c.x.dim()));
    let (mut dw, mut dwm) = (Array4::<f64>::zeros(c.w.dim()), Array4::<f64>::zeros(c.w.dim()));
    let j = gy.dim().3;
    let (mut db, mut dbm) = (vec![0.0f64; j], vec![0.0f64; j]);
    for ((_, _, _, o), &g) in gy.indexed_iter() {
        db[o] += g as f64;
        dbm[o] += (g as f64).abs();
    }
    for_each_term(c, |[b, i, jj, q, m, ih, iw, a, e]| {
        let g = gy[[b, i, jj, q * mult + m]] as f64;
        let vx = g * c.w[[a, e, q, m]] as f64;
        let vw = g * c.x[[b, ih, iw, q]] as f64;
        dx[[b, ih, iw, q]] += vx;
        dxm[[b, ih, iw, q]] += vx.abs();
        dw[[a, e, q, m]] += vw;
        dwm[[a, e, q, m]] += vw.abs();
    });
    let flat = |a: Array4<f64>| a.into_raw_vec_and_offset().0;
    [(flat(dx), flat(dxm)), (flat(dw), flat(dwm)), (db, dbm)]
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

fn check(c: &Case, gseed: u64) -> Result<(), TestCaseError> {
    let (want, mag) = naive_forward(c);
    let shape = depthwise_conv2d_output_shape(c.x.shape(), c.w.shape(), &c.p).unwrap();
    prop_assert_eq!(&shape[..], want.shape());
    let y = depthwise_conv2d(c.x.view(), c.w.view(), Some(c.b.view()), &c.p).unwrap();
    close(
        y.as_slice().unwrap(),
        want.as_slice().unwrap(),
        mag.as_slice().unwrap(),
        "forward",
    )?;
    let y0 = depthwise_conv2d(c.x.view(), c.w.view(), None, &c.p).unwrap();
    let y0b = &y0 + &c.b.view().into_shape_with_order((1, 1, 1, c.b.len())).unwrap();
    close(
        y0b.as_slice().unwrap(),
        want.as_slice().unwrap(),
        mag.as_slice().unwrap(),
        "forward without bias",
    )?;
    let gy = rand4(&mut Generator::seed_from_u64(gseed), want.dim());
    let [(dx, dxm), (dw, dwm), (db, dbm)] = naive_backward(c, &gy);
    let g = depthwise_conv2d_backward(c.x.view(), c.w.view(), gy.view(), &c.p, true).unwrap();
    close(g.input.as_ref().unwrap().as_slice().unwrap(), &dx, &dxm, "dX")?;
    close(g.kernel.as_slice().unwrap(), &dw, &dwm, "dW")?;
    close(g.bias.as_slice().unwrap(), &db, &dbm, "db")?;
    let g2 = depthwise_conv2d_backward(c.x.view(), c.w.view(), gy.view(), &c.p, false).unwrap();
    prop_assert!(g2.input.is_none());
    prop_assert_eq!(&g2.kernel, &g.kernel);
    prop_assert_eq!(&g2.bias, &g.bias);
    Ok(())
}

prop_compose! {
    fn cases()(n in 1usize..4, h in 1usize..8, w in 1usize..8, c in 1usize..36, mult in 1usize..4,
               kh in 1usize..4, kw in 1usize..4, s in 1usize..4, d in 1usize..3, same in any::<bool>(),
               seed in 0u64..10_000) -> Case {
        let mut rng = Generator::seed_from_u64(seed);
        // Keras' DepthwiseConv2D allows strides and dilation both above 1.
        let (s, d) = ((s, (s % 3) + 1), (d, 1 + (d + s) % 2));
        let padding = if same { Padding::Same } else { Padding::Valid };
        // Valid padding needs the dilated kernel inside the image: shrink it.
        let fit = |k: usize, d: usize, len: usize| if same { k } else { k.min((len - 1) / d + 1) };
        let (kh, kw) = (fit(kh, d.0, h), fit(kw, d.1, w));
        Case {
            x: rand4(&mut rng, (n, h, w, c)),
            w: rand4(&mut rng, (kh, kw, c, mult)),
            b: Array1::from_shape_simple_fn(c * mult, || rng.random_range(-1.0f32..1.0)),
            p: Conv2dParams { strides: s, padding, dilation: d },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_reference(c in cases(), gseed in 0u64..10_000) {
        check(&c, gseed)?;
    }
}

/// Batches split into several backward tasks and forward row blocks,
/// MobileNet-like channel counts.
#[test]
fn multi_task_batches_match_the_reference() {
    for (n, h, c, mult, s, same) in [
        (1, 13, 32, 1, 1, true),
        (3, 9, 48, 1, 2, true),
        (11, 6, 17, 2, 1, false),
        (20, 5, 8, 3, 2, true),
    ] {
        let mut rng = Generator::seed_from_u64(n as u64 * 7 + c as u64);
        let case = Case {
            x: rand4(&mut rng, (n, h, h + 2, c)),
            w: rand4(&mut rng, (3, 3, c, mult)),
            b: Array1::from_shape_simple_fn(c * mult, || rng.random_range(-1.0f32..1.0)),
            p: Conv2dParams {
                strides: (s, s),
                padding: if same { Padding::Same } else { Padding::Valid },
                dilation: (1, 1),
            },
        };
        check(&case, 5).unwrap();
    }
}

/// Hostile shapes and parameters are errors, not panics.
#[test]
fn bad_arguments_are_errors() {
    let x = Array4::<f32>::zeros((1, 4, 4, 2));
    let w = Array4::<f32>::zeros((3, 3, 2, 2));
    let ok = Conv2dParams::default();
    for p in [
        Conv2dParams {
            strides: (0, 1),
            ..ok
        },
        Conv2dParams {
            dilation: (0, 1),
            ..ok
        },
        Conv2dParams {
            dilation: (3, 3),
            ..ok
        },
    ] {
        let e = depthwise_conv2d(x.view(), w.view(), None, &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("depthwise_conv2d"), "{e}");
    }
    let wrong = Array4::<f32>::zeros((3, 3, 3, 2));
    assert!(depthwise_conv2d(x.view(), wrong.view(), None, &ok).is_err());
    assert!(depthwise_conv2d(x.view(), w.view(), Some(Array1::<f32>::zeros(2).view()), &ok).is_err());
    let gy = Array4::<f32>::zeros((1, 2, 2, 3));
    assert!(depthwise_conv2d_backward(x.view(), w.view(), gy.view(), &ok, true).is_err());
    assert!(
        depthwise_conv2d_output_shape(&[1, 1 << 30, 1 << 30, 1 << 20], &[1, 1, 1 << 20, 1 << 20], &ok)
            .is_err()
    );
}
