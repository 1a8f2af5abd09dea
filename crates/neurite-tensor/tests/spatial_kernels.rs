//! The kernels of `spatial.rs`, `resize.rs` and `rectifier.rs` against
//! plainly written loops, and their backward kernels: the linear ones (pad,
//! crop, upsampling) by the adjoint identity `<g, f(x)> = <f'(g), x>`
//! (which holds for every `x`, `g` exactly when the backward is the
//! transpose of the forward), the rectifiers against their derivative
//! written out. Hostile sizes are errors, not aborts.

use ndarray::{Array4, IxDyn};
use neurite_tensor::rectifier::{prelu, prelu_backward, relu_ext, relu_ext_backward, ReluParams};
use neurite_tensor::resize::{upsample2d, upsample2d_backward, Interpolation};
use neurite_tensor::spatial::{crop2d, zero_pad2d, Margins2d};
use neurite_tensor::Tensor;
use proptest::prelude::*;

fn tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    prop::collection::vec(-2.0f32..2.0, n)
        .prop_map(move |v| Tensor::from_shape_vec(IxDyn(&shape), v).unwrap())
}

fn nhwc() -> impl Strategy<Value = Vec<usize>> {
    (1usize..=3, 1usize..=5, 1usize..=5, 1usize..=4).prop_map(|(n, h, w, c)| vec![n, h, w, c])
}

fn margins(max: usize) -> impl Strategy<Value = Margins2d> {
    (0..=max, 0..=max, 0..=max, 0..=max).prop_map(|(top, bottom, left, right)| Margins2d {
        top,
        bottom,
        left,
        right,
    })
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Zero padding, element by element.
fn pad_reference(x: &Tensor, m: Margins2d) -> Tensor {
    let s = x.shape();
    let (oh, ow) = (s[1] + m.top + m.bottom, s[2] + m.left + m.right);
    let x4 = x.view().into_dimensionality::<ndarray::Ix4>().unwrap();
    Array4::from_shape_fn((s[0], oh, ow, s[3]), |(n, i, j, c)| {
        if i >= m.top && i < m.top + s[1] && j >= m.left && j < m.left + s[2] {
            x4[[n, i - m.top, j - m.left, c]]
        } else {
            0.0
        }
    })
    .into_dyn()
}

/// Bilinear upsampling with half-pixel centers, one output pixel at a time.
fn bilinear_reference(x: &Tensor, (sh, sw): (usize, usize)) -> Tensor {
    let s = x.shape();
    let (h, w) = (s[1], s[2]);
    let x4 = x.view().into_dimensionality::<ndarray::Ix4>().unwrap();
    let coord = |i: usize, scale: usize, len: usize| {
        let src = ((i as f64 + 0.5) / scale as f64 - 0.5).max(0.0);
        let lo = (src.floor() as usize).min(len - 1);
        let hi = (lo + 1).min(len - 1);
        (lo, hi, src - lo as f64)
    };
    Array4::from_shape_fn((s[0], h * sh, w * sw, s[3]), |(n, i, j, c)| {
        let (y0, y1, fy) = coord(i, sh, h);
        let (x0, x1, fx) = coord(j, sw, w);
        let v = |a: usize, b: usize| x4[[n, a, b, c]] as f64;
        let top = v(y0, x0) * (1.0 - fx) + v(y0, x1) * fx;
        let bot = v(y1, x0) * (1.0 - fx) + v(y1, x1) * fx;
        (top * (1.0 - fy) + bot * fy) as f32
    })
    .into_dyn()
}

fn assert_close(a: &Tensor, b: &Tensor, tol: f32) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b) {
        prop_assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{} vs {}", x, y);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pad_matches_loops_and_crop_is_its_adjoint(
        (x, m, g_seed) in nhwc().prop_flat_map(|s| (tensor(s), margins(3), any::<u64>()))
    ) {
        let y = zero_pad2d(&x, m).unwrap();
        prop_assert_eq!(&y, &pad_reference(&x, m));
        prop_assert_eq!(&crop2d(&y, m).unwrap(), &x);
        // <g, pad(x)> = <crop(g), x> for a random g.
        let g = neurite_tensor::random::uniform(y.shape(), -1.0, 1.0, &mut neurite_tensor::random::rng_from_seed(g_seed));
        let lhs = dot(&g, &y);
        let rhs = dot(&crop2d(&g, m).unwrap(), &x);
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }

    #[test]
    fn upsampling_matches_loops_and_backward_is_its_adjoint(
        (x, factors, bilinear, g_seed) in
            (nhwc(), (1usize..=4, 1usize..=4), any::<bool>(), any::<u64>())
                .prop_flat_map(|(s, f, b, seed)| (tensor(s), Just(f), Just(b), Just(seed)))
    ) {
        let mode = if bilinear { Interpolation::Bilinear } else { Interpolation::Nearest };
        let y = upsample2d(&x, factors, mode).unwrap();
        let expected = if bilinear {
            bilinear_reference(&x, factors)
        } else {
            let s = x.shape();
            let x4 = x.view().into_dimensionality::<ndarray::Ix4>().unwrap();
            Array4::from_shape_fn((s[0], s[1] * factors.0, s[2] * factors.1, s[3]), |(n, i, j, c)| {
                x4[[n, i / factors.0, j / factors.1, c]]
            })
            .into_dyn()
        };
        assert_close(&y, &expected, 1e-5)?;
        let g = neurite_tensor::random::uniform(y.shape(), -1.0, 1.0, &mut neurite_tensor::random::rng_from_seed(g_seed));
        let dx = upsample2d_backward(&g, x.shape(), factors, mode).unwrap();
        let (lhs, rhs) = (dot(&g, &y), dot(&dx, &x));
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }

    #[test]
    fn relu_ext_matches_the_formula_and_its_derivative(
        x in prop::collection::vec(-4.0f32..4.0, 1..200),
        max_value in prop::option::of(0.0f32..3.0),
        negative_slope in 0.0f32..1.0,
        threshold in 0.0f32..2.0,
    ) {
        let p = ReluParams { max_value, negative_slope, threshold };
        let xt = Tensor::from_shape_vec(IxDyn(&[x.len()]), x.clone()).unwrap();
        let y = relu_ext(&xt, &p).unwrap();
        let g = Tensor::from_elem(IxDyn(&[x.len()]), 1.0);
        let d = relu_ext_backward(&g, &xt, &p).unwrap();
        for (i, &v) in x.iter().enumerate() {
            // Keras: x * (x > threshold), clipped to [0, max_value], minus slope * relu(threshold - x).
            let mut pos = if v > threshold { v } else { 0.0 };
            if let Some(m) = max_value {
                pos = pos.clamp(0.0, m);
            }
            let want = pos - negative_slope * (threshold - v).max(0.0);
            prop_assert!((y[i] - want).abs() <= 1e-6 * (1.0 + want.abs()), "f({}) = {} vs {}", v, y[i], want);
            let slope = if v <= threshold { negative_slope } else if max_value.is_some_and(|m| v > m) { 0.0 } else { 1.0 };
            prop_assert_eq!(d[i], slope);
        }
    }

    #[test]
    fn prelu_matches_loops_with_shared_axes(
        (x, shared, alpha_seed, g_seed) in
            (nhwc(), prop::collection::vec(any::<bool>(), 3), any::<u64>(), any::<u64>())
                .prop_flat_map(|(s, sh, a, g)| (tensor(s), Just(sh), Just(a), Just(g)))
    ) {
        let s = x.shape().to_vec();
        let a_shape: Vec<usize> = (0..3).map(|i| if shared[i] { 1 } else { s[i + 1] }).collect();
        let alpha = neurite_tensor::random::uniform(&a_shape, 0.0, 1.0, &mut neurite_tensor::random::rng_from_seed(alpha_seed));
        let g = neurite_tensor::random::uniform(&s, -1.0, 1.0, &mut neurite_tensor::random::rng_from_seed(g_seed));
        let y = prelu(&x, &alpha).unwrap();
        let (dx, da) = prelu_backward(&g, &x, &alpha).unwrap();
        let mut da_ref = Tensor::zeros(IxDyn(&a_shape));
        for n in 0..s[0] { for i in 0..s[1] { for j in 0..s[2] { for c in 0..s[3] {
            let ai = [if shared[0] { 0 } else { i }, if shared[1] { 0 } else { j }, if shared[2] { 0 } else { c }];
            let (v, a, gv) = (x[[n, i, j, c]], alpha[IxDyn(&ai)], g[[n, i, j, c]]);
            let (want, dwant) = if v >= 0.0 { (v, gv) } else { (a * v, a * gv) };
            prop_assert_eq!(y[[n, i, j, c]], want);
            prop_assert_eq!(dx[[n, i, j, c]], dwant);
            if v < 0.0 { da_ref[IxDyn(&ai)] += gv * v; }
        }}}}
        assert_close(&da, &da_ref, 1e-5)?;
    }
}

#[test]
fn hostile_sizes_are_errors() {
    let x = Tensor::zeros(IxDyn(&[1, 2, 2, 1]));
    assert!(zero_pad2d(&x, Margins2d::uniform(usize::MAX)).is_err());
    assert!(zero_pad2d(
        &x,
        Margins2d {
            top: 1 << 40,
            bottom: 0,
            left: 1 << 40,
            right: 0
        }
    )
    .is_err());
    assert!(crop2d(
        &x,
        Margins2d {
            top: usize::MAX,
            bottom: 1,
            left: 0,
            right: 0
        }
    )
    .is_err());
    assert!(crop2d(
        &x,
        Margins2d {
            top: 1,
            bottom: 1,
            left: 0,
            right: 0
        }
    )
    .is_err());
    assert!(upsample2d(&x, (usize::MAX, 2), Interpolation::Nearest).is_err());
    assert!(upsample2d(&x, (1 << 31, 1 << 31), Interpolation::Bilinear).is_err());
    assert!(upsample2d(&x, (0, 1), Interpolation::Bilinear).is_err());
    let e = upsample2d(&Tensor::zeros(IxDyn(&[2, 2])), (2, 2), Interpolation::Nearest).unwrap_err();
    assert!(
        e.to_string().contains("upsample2d") && e.to_string().contains("4-d"),
        "{e}"
    );
    let g = Tensor::zeros(IxDyn(&[1, 4, 4, 1]));
    assert!(upsample2d_backward(&g, &[1, 2, 2, 1], (2, 3), Interpolation::Nearest).is_err());
    assert!(upsample2d_backward(&g, &[1, usize::MAX, 2, 1], (2, 2), Interpolation::Nearest).is_err());
    let bad_alpha = Tensor::zeros(IxDyn(&[3]));
    assert!(prelu(&Tensor::zeros(IxDyn(&[2, 2])), &bad_alpha).is_err());
    assert!(relu_ext(
        &x,
        &ReluParams {
            threshold: f32::INFINITY,
            ..Default::default()
        }
    )
    .is_err());
}

#[test]
fn empty_batches_and_channels() {
    for shape in [[0, 2, 2, 1], [1, 2, 2, 0]] {
        let x = Tensor::zeros(IxDyn(&shape));
        assert_eq!(
            zero_pad2d(&x, Margins2d::uniform(1)).unwrap().shape(),
            &[shape[0], 4, 4, shape[3]]
        );
        assert_eq!(
            upsample2d(&x, (2, 2), Interpolation::Bilinear).unwrap().shape(),
            &[shape[0], 4, 4, shape[3]]
        );
        assert_eq!(
            crop2d(
                &x,
                Margins2d {
                    top: 1,
                    ..Default::default()
                }
            )
            .unwrap()
            .shape(),
            &[shape[0], 1, 2, shape[3]]
        );
    }
}
