//! Under a bf16 [`PrecisionScope`], the precision-following functions
//! (matmul, batched_matmul, the convolutions and their backward passes, the
//! fused conv + ReLU + max-pool passes) compute what the exact `f32`
//! functions compute on bf16-rounded operands, up to `f32` accumulation
//! order; and the rounding does happen (the exact result on the unrounded
//! operands is measurably different).
//!
//! The `f32` functions are themselves checked against f64 definitions in
//! `conv_algorithms.rs`, `conv_props.rs` and `gemm_props.rs`, so this file
//! only needs them as the reference.
//!
//! Bound: `|got - want| <= 6e-5 * (1 + m)`, `m` the same function on the
//! absolute values (the sum of |terms|, an upper bound of `k * eps` error
//! for every accumulation order up to k = 512 terms).

use ndarray::{Array, Array2, Array3, Array4, Dimension, Zip};
use neurite_rand::Generator;
use neurite_tensor::bf16::round_to_bf16;
use neurite_tensor::gemm::{batched_matmul, matmul_t};
use neurite_tensor::precision::{current, Precision, PrecisionScope};
use neurite_tensor::{
    conv2d, conv2d_backward, conv2d_forward_plan, conv2d_relu, conv2d_relu_max_pool2d,
    conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_with_indices, Conv2dParams, ConvAlgorithm,
    Padding, Pool2dParams,
};
use proptest::prelude::*;
use rand::Rng;

const REL: f64 = 6e-5;

fn rounded<D: Dimension>(a: &Array<f32, D>) -> Array<f32, D> {
    a.mapv(round_to_bf16)
}

fn abs<D: Dimension>(a: &Array<f32, D>) -> Array<f32, D> {
    a.mapv(f32::abs)
}

fn random4(shape: (usize, usize, usize, usize), rng: &mut Generator) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

/// `got` within the bound of `want`, `mag` the magnitudes' result.
fn assert_within<D: Dimension>(what: &str, got: &Array<f32, D>, want: &Array<f32, D>, mag: &Array<f32, D>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for ((i, g), (w, m)) in got.indexed_iter().zip(want.iter().zip(mag.iter())) {
        let tol = REL * (1.0 + *m as f64);
        assert!(
            (*g as f64 - *w as f64).abs() <= tol,
            "{what}: got {g}, want {w} (tol {tol}) at {i:?}"
        );
    }
}

/// Some element of `exact` (the unrounded operands' result) is outside the
/// bound of `got`: the bf16 result is not the exact one.
fn assert_rounding_shows<D: Dimension>(
    what: &str,
    got: &Array<f32, D>,
    exact: &Array<f32, D>,
    mag: &Array<f32, D>,
) {
    let outside = Zip::from(got).and(exact).and(mag).fold(false, |acc, &g, &e, &m| {
        acc || (g as f64 - e as f64).abs() > REL * (1.0 + m as f64)
    });
    assert!(
        outside,
        "{what}: the bf16 result equals the exact f32 one: nothing was rounded"
    );
}

fn bf16<R>(f: impl FnOnce() -> R) -> R {
    let _scope = PrecisionScope::enter(Precision::Bf16);
    f()
}

/// The forward and backward passes of one convolution, checked as the module says.
fn check_conv(
    shape: (usize, usize, usize, usize),
    kernel: (usize, usize, usize),
    p: Conv2dParams,
    seed: u64,
) {
    let mut rng = Generator::seed_from_u64(seed);
    let x = random4(shape, &mut rng);
    let w = random4((kernel.0, kernel.1, shape.3, kernel.2), &mut rng);
    let b = ndarray::Array1::from_shape_fn(kernel.2, |i| (i as f32 * 0.37).sin());
    let (xr, wr) = (rounded(&x), rounded(&w));
    let label = format!("x {shape:?} kernel {kernel:?} {p:?}");

    let got = bf16(|| conv2d(x.view(), w.view(), Some(b.view()), &p)).unwrap();
    let want = conv2d(xr.view(), wr.view(), Some(b.view()), &p).unwrap();
    let mag = conv2d(abs(&xr).view(), abs(&wr).view(), Some(abs(&b).view()), &p).unwrap();
    assert_within(&format!("{label}: conv2d"), &got, &want, &mag);
    let exact = conv2d(x.view(), w.view(), Some(b.view()), &p).unwrap();
    assert_rounding_shows(&format!("{label}: conv2d"), &got, &exact, &mag);
    let got_relu = bf16(|| conv2d_relu(x.view(), w.view(), Some(b.view()), &p)).unwrap();
    assert_within(
        &format!("{label}: conv2d_relu"),
        &got_relu,
        &want.mapv(|v| v.max(0.0)),
        &mag,
    );

    // Backward: dW = colsᵀ·dY and dX = dY·Wᵀ on rounded x, w and dY; db sums the unrounded dY.
    let gy = random4(got.dim(), &mut rng);
    let gyr = rounded(&gy);
    let g = bf16(|| conv2d_backward(x.view(), w.view(), gy.view(), &p, true)).unwrap();
    let want = conv2d_backward(xr.view(), wr.view(), gyr.view(), &p, true).unwrap();
    let mag = conv2d_backward(abs(&xr).view(), abs(&wr).view(), abs(&gyr).view(), &p, true).unwrap();
    assert_within(&format!("{label}: dW"), &g.kernel, &want.kernel, &mag.kernel);
    assert_within(
        &format!("{label}: dX"),
        g.input.as_ref().unwrap(),
        want.input.as_ref().unwrap(),
        mag.input.as_ref().unwrap(),
    );
    let exact = conv2d_backward(x.view(), w.view(), gy.view(), &p, true).unwrap();
    assert_eq!(
        g.bias, exact.bias,
        "{label}: db is an f32 sum of the unrounded gradient"
    );
    assert_rounding_shows(&format!("{label}: dW"), &g.kernel, &exact.kernel, &mag.kernel);

    // The fused conv + ReLU + 2x2 max-pool passes, where a 2x2 window fits.
    let pool = Pool2dParams::new((2, 2));
    if want.input.is_some() && got.dim().1 >= 2 && got.dim().2 >= 2 {
        let inf = bf16(|| conv2d_relu_max_pool2d(x.view(), w.view(), Some(b.view()), &p, &pool)).unwrap();
        let inf_want = conv2d_relu_max_pool2d(xr.view(), wr.view(), Some(b.view()), &p, &pool).unwrap();
        let inf_mag =
            conv2d_relu_max_pool2d(abs(&xr).view(), abs(&wr).view(), Some(abs(&b).view()), &p, &pool)
                .unwrap();
        assert_within(&format!("{label}: fused inference"), &inf, &inf_want, &inf_mag);
        let (tr, idx) =
            bf16(|| conv2d_relu_max_pool2d_with_indices(x.view(), w.view(), Some(b.view()), &p, &pool))
                .unwrap();
        assert_within(&format!("{label}: fused training"), &tr, &inf_want, &inf_mag);
        let gp = random4(tr.dim(), &mut rng);
        let g = bf16(|| {
            conv2d_relu_max_pool2d_backward(x.view(), w.view(), tr.view(), &idx, gp.view(), &p, true)
        })
        .unwrap();
        // The same routing (same argmax) with rounded operands, at f32.
        let gpr = rounded(&gp);
        let want =
            conv2d_relu_max_pool2d_backward(xr.view(), wr.view(), tr.view(), &idx, gpr.view(), &p, true)
                .unwrap();
        let mag = conv2d_relu_max_pool2d_backward(
            abs(&xr).view(),
            abs(&wr).view(),
            tr.view(),
            &idx,
            abs(&gpr).view(),
            &p,
            true,
        )
        .unwrap();
        assert_within(
            &format!("{label}: fused dW"),
            &g.kernel,
            &want.kernel,
            &mag.kernel,
        );
        assert_within(
            &format!("{label}: fused dX"),
            g.input.as_ref().unwrap(),
            want.input.as_ref().unwrap(),
            mag.input.as_ref().unwrap(),
        );
    }
}

/// The MNIST CNN's layers (direct taps, Winograd) and an im2col + GEMM shape,
/// each asserted to select that algorithm under f32.
#[test]
fn convolutions_of_every_algorithm_compute_on_rounded_operands() {
    let p = Conv2dParams::default();
    let cases = [
        ((6, 28, 28, 1), (3, 3, 32), ConvAlgorithm::Direct),
        ((5, 13, 13, 32), (3, 3, 64), ConvAlgorithm::Winograd),
        ((1, 13, 13, 32), (3, 3, 64), ConvAlgorithm::Winograd),
        ((3, 9, 9, 5), (3, 3, 7), ConvAlgorithm::Gemm),
        ((4, 5, 5, 64), (3, 3, 64), ConvAlgorithm::Gemm),
        ((3, 6, 6, 24), (1, 1, 40), ConvAlgorithm::Gemm),
    ];
    for (i, (shape, kernel, algorithm)) in cases.into_iter().enumerate() {
        let plan = conv2d_forward_plan(
            &[shape.0, shape.1, shape.2, shape.3],
            &[kernel.0, kernel.1, shape.3, kernel.2],
            &p,
        )
        .unwrap();
        assert_eq!(plan.algorithm, algorithm, "{shape:?} {kernel:?}");
        check_conv(shape, kernel, p, i as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any shape, stride, dilation and padding.
    #[test]
    fn convolutions_with_any_options_compute_on_rounded_operands(
        n in 1usize..4, h in 3usize..12, w in 3usize..12, c in 1usize..20,
        kh in 1usize..4, kw in 1usize..4, f in 1usize..40,
        stride in 1usize..3, dil in 1usize..3, same: bool, seed: u64,
    ) {
        let eff = |k: usize| (k - 1) * dil + 1;
        prop_assume!(same || (eff(kh) <= h && eff(kw) <= w));
        let p = Conv2dParams {
            strides: (stride, stride),
            padding: if same { Padding::Same } else { Padding::Valid },
            dilation: (dil, dil),
        };
        check_conv((n, h, w, c), (kh, kw, f), p, seed);
    }

    /// matmul (every transpose) and batched_matmul.
    #[test]
    fn products_compute_on_rounded_operands(
        m in 1usize..70, k in 8usize..300, n in 1usize..70, ta: bool, tb: bool, seed: u64,
    ) {
        let mut rng = Generator::seed_from_u64(seed);
        let mut r = |rows, cols| Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0f32..1.0));
        let a = if ta { r(k, m) } else { r(m, k) };
        let b = if tb { r(n, k) } else { r(k, n) };
        let (ar, br) = (rounded(&a), rounded(&b));
        let got = bf16(|| matmul_t(a.view(), ta, b.view(), tb)).unwrap();
        let want = matmul_t(ar.view(), ta, br.view(), tb).unwrap();
        let mag = matmul_t(abs(&ar).view(), ta, abs(&br).view(), tb).unwrap();
        assert_within("matmul", &got, &want, &mag);
        assert_rounding_shows("matmul", &got, &matmul_t(a.view(), ta, b.view(), tb).unwrap(), &mag);

        let a3 = Array3::from_shape_fn((2, m, k), |(i, r, c)| a[[if ta { c } else { r }, if ta { r } else { c }]] * (i as f32 + 1.0));
        let b3 = Array3::from_shape_fn((2, k, n), |(_, r, c)| b[[if tb { c } else { r }, if tb { r } else { c }]]);
        let got = bf16(|| batched_matmul(a3.view(), false, b3.view(), false)).unwrap();
        let want = batched_matmul(rounded(&a3).view(), false, rounded(&b3).view(), false).unwrap();
        let mag = batched_matmul(abs(&rounded(&a3)).view(), false, abs(&rounded(&b3)).view(), false).unwrap();
        assert_within("batched_matmul", &got, &want, &mag);
    }
}

/// The scope is the calling thread's: rayon tasks of a call run at the
/// caller's precision, and other threads keep theirs.
#[test]
fn tasks_run_at_the_callers_precision_and_other_threads_keep_theirs() {
    let mut rng = Generator::seed_from_u64(9);
    // A batch split into many tasks (run on rayon's threads).
    let x = random4((32, 14, 14, 8), &mut rng);
    let w = random4((3, 3, 8, 24), &mut rng);
    let p = Conv2dParams::default();
    assert!(
        conv2d_forward_plan(&[32, 14, 14, 8], &[3, 3, 8, 24], &p)
            .unwrap()
            .tasks
            > 1
    );
    let want = conv2d(rounded(&x).view(), rounded(&w).view(), None, &p).unwrap();
    let mag = conv2d(abs(&rounded(&x)).view(), abs(&rounded(&w)).view(), None, &p).unwrap();
    let got = bf16(|| conv2d(x.view(), w.view(), None, &p)).unwrap();
    assert_within("tasks", &got, &want, &mag);
    let g = bf16(|| conv2d_backward(x.view(), w.view(), got.view(), &p, true)).unwrap();
    let gw = conv2d_backward(
        rounded(&x).view(),
        rounded(&w).view(),
        rounded(&got).view(),
        &p,
        true,
    )
    .unwrap();
    let gm = conv2d_backward(
        abs(&rounded(&x)).view(),
        abs(&rounded(&w)).view(),
        abs(&rounded(&got)).view(),
        &p,
        true,
    )
    .unwrap();
    assert_within("tasks dW", &g.kernel, &gw.kernel, &gm.kernel);
    // Another thread, meanwhile, computes exactly.
    let _scope = PrecisionScope::enter(Precision::Bf16);
    let exact = std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(current(), Precision::F32);
            conv2d(x.view(), w.view(), None, &p).unwrap()
        })
        .join()
        .unwrap()
    });
    drop(_scope);
    assert_eq!(exact, conv2d(x.view(), w.view(), None, &p).unwrap());
}
