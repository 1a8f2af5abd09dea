//! GEMM (whichever backend is compiled in) against a naive triple loop in f64:
//! random shapes (including 0 and 1), transposes, alpha/beta, strided/non-contiguous
//! operands and batched products. Tolerance: 1e-5 absolute + 1e-5 relative per
//! output (k <= 40 products of values in [-1, 1], f32 accumulation).

use ndarray::{s, Array2, Array3, ShapeBuilder};
use neurite_tensor::gemm::{backend, batched_matmul, gemm, matmul, matmul_t};
use proptest::prelude::*;

fn naive(a: &Array2<f32>, ta: bool, b: &Array2<f32>, tb: bool) -> Array2<f64> {
    let a = if ta { a.t().to_owned() } else { a.clone() };
    let b = if tb { b.t().to_owned() } else { b.clone() };
    let (m, k) = a.dim();
    let n = b.ncols();
    Array2::from_shape_fn((m, n), |(i, j)| {
        (0..k).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum()
    })
}

fn close(got: &Array2<f32>, want: &Array2<f64>) -> bool {
    got.dim() == want.dim()
        && got
            .iter()
            .zip(want.iter())
            .all(|(&g, &w)| (g as f64 - w).abs() <= 1e-5 + 1e-5 * w.abs())
}

fn matrix(rows: usize, cols: usize, fortran: bool) -> impl Strategy<Value = Array2<f32>> {
    prop::collection::vec(-1.0f32..1.0, rows * cols).prop_map(move |v| {
        let a = Array2::from_shape_vec((rows, cols), v).unwrap();
        if fortran {
            let mut f = Array2::zeros((rows, cols).f());
            f.assign(&a);
            f
        } else {
            a
        }
    })
}

/// (A stored, transpose A?, B stored, transpose B?) with compatible inner dimensions.
fn operands() -> impl Strategy<Value = (Array2<f32>, bool, Array2<f32>, bool)> {
    (
        0..=12usize,
        0..=40usize,
        0..=12usize,
        any::<(bool, bool, bool, bool)>(),
    )
        .prop_flat_map(|(m, k, n, (ta, tb, fa, fb))| {
            let (ar, ac) = if ta { (k, m) } else { (m, k) };
            let (br, bc) = if tb { (n, k) } else { (k, n) };
            (matrix(ar, ac, fa), Just(ta), matrix(br, bc, fb), Just(tb))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn matmul_t_matches_naive((a, ta, b, tb) in operands()) {
        let got = matmul_t(a.view(), ta, b.view(), tb).unwrap();
        prop_assert!(close(&got, &naive(&a, ta, &b, tb)), "backend {}", backend());
    }

    /// A new product (written without zero-filling its output first, on the
    /// gemm crate) is bit for bit `gemm` into a zeroed matrix with beta = 0.
    #[test]
    fn matmul_t_is_gemm_into_zeros_bit_for_bit((a, ta, b, tb) in operands()) {
        let got = matmul_t(a.view(), ta, b.view(), tb).unwrap();
        let mut want = Array2::<f32>::zeros(got.dim());
        gemm(1.0, a.view(), ta, b.view(), tb, 0.0, &mut want.view_mut()).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn gemm_alpha_beta_accumulate((a, ta, b, tb) in operands(), alpha in -2.0f32..2.0, beta in prop::sample::select(vec![0.0f32, 1.0, -0.5])) {
        let prod = naive(&a, ta, &b, tb);
        let c0 = Array2::from_shape_fn(prod.dim(), |(i, j)| (i as f32 - j as f32) * 0.25);
        let mut c = c0.clone();
        gemm(alpha, a.view(), ta, b.view(), tb, beta, &mut c.view_mut()).unwrap();
        let want = Array2::from_shape_fn(prod.dim(), |ij| alpha as f64 * prod[ij] + beta as f64 * c0[ij] as f64);
        prop_assert!(close(&c, &want));
    }

    #[test]
    fn strided_views_and_output(m in 1..8usize, k in 1..8usize, n in 1..8usize) {
        // Every other row/column of bigger arrays: non-unit strides everywhere.
        let big_a = Array2::from_shape_fn((2 * m, 2 * k), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let big_b = Array2::from_shape_fn((2 * k, 2 * n), |(i, j)| ((i * 5 + j) % 7) as f32 - 3.0);
        let a = big_a.slice(s![..;2, ..;2]);
        let b = big_b.slice(s![..;2, ..;2]);
        let mut big_c = Array2::<f32>::from_elem((2 * m, 2 * n), f32::NAN);
        let mut c = big_c.slice_mut(s![..;2, ..;2]);
        gemm(1.0, a, false, b, false, 0.0, &mut c).unwrap();
        let want = naive(&a.to_owned(), false, &b.to_owned(), false);
        prop_assert!(close(&c.to_owned(), &want), "beta = 0 must ignore NaN in C");
        // Untouched interleaved elements stay NaN.
        prop_assert!(big_c.slice(s![1..;2, ..]).iter().all(|v| v.is_nan()));
    }
}

#[test]
fn shape_errors() {
    let a = Array2::<f32>::zeros((2, 3));
    let b = Array2::<f32>::zeros((4, 5));
    assert!(matmul(a.view(), b.view()).is_err());
    let mut c = Array2::<f32>::zeros((2, 2));
    let e = gemm(1.0, a.view(), false, a.view(), true, 0.0, &mut c.view_mut());
    assert!(e.is_ok());
    let mut bad = Array2::<f32>::zeros((3, 2));
    assert!(gemm(1.0, a.view(), false, a.view(), true, 0.0, &mut bad.view_mut()).is_err());
    let x = Array3::<f32>::zeros((2, 2, 3));
    let y = Array3::<f32>::zeros((3, 3, 2));
    assert!(batched_matmul(x.view(), false, y.view(), false).is_err());
}

#[test]
fn batched_matches_per_matrix() {
    let a = Array3::from_shape_fn((3, 4, 5), |(b, i, j)| (b + i * 2 + j) as f32 * 0.1 - 1.0);
    let b = Array3::from_shape_fn((3, 6, 5), |(b, i, j)| (b * 3 + i + j * 2) as f32 * 0.05);
    let c = batched_matmul(a.view(), false, b.view(), true).unwrap();
    assert_eq!(c.dim(), (3, 4, 6));
    for i in 0..3 {
        let want = naive(
            &a.slice(s![i, .., ..]).to_owned(),
            false,
            &b.slice(s![i, .., ..]).to_owned(),
            true,
        );
        assert!(close(&c.slice(s![i, .., ..]).to_owned(), &want));
    }
}

#[test]
fn large_threaded_product_matches_naive() {
    // Big enough for every backend to use its threads.
    let a = Array2::from_shape_fn((300, 257), |(i, j)| ((i * 31 + j * 17) % 23) as f32 / 23.0 - 0.5);
    let b = Array2::from_shape_fn((257, 190), |(i, j)| ((i * 13 + j * 7) % 19) as f32 / 19.0 - 0.5);
    let got = matmul(a.view(), b.view()).unwrap();
    let want = naive(&a, false, &b, false);
    assert!(got
        .iter()
        .zip(want.iter())
        .all(|(&g, &w)| (g as f64 - w).abs() <= 1e-4));
}
