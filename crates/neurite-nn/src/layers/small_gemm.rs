//! The small per-timestep products of the fused recurrent kernels,
//! `C (+)= A · B` with `A` a `[batch, k]` block (e.g. `h_{t-1}` or `dZ_t`)
//! and `B` the recurrent kernel `U` (or `Uᵀ`), the same at every step.
//!
//! The general GEMM (the `gemm` crate) repacks `B` at every call and may
//! start threads for a product of only `2 * 32 * 64 * 256` flops; here `B`
//! is packed **once per sequence** into column panels of [`NR`] floats
//! ([`PackedPanels`]) and each step runs a register-tiled kernel of
//! `MR x NR` accumulators: on x86-64 with AVX-512F (checked at run time) an
//! intrinsics kernel of up to `8 x 32` floats in sixteen `__m512`, else with
//! AVX2 and FMA one of `6 x 16` floats in twelve `__m256`, elsewhere a
//! portable version of the same tiling that the compiler vectorizes. The two
//! paths differ only in rounding (fused vs separate multiply-add).

use ndarray::ArrayView2;

/// Columns per packed panel (two AVX2 registers).
pub(crate) const NR: usize = 16;
/// Rows of `A` per register tile.
const MR: usize = 6;

/// A `[k, n]` matrix stored as `ceil(n / NR)` column panels, each `[k, NR]`
/// row-major (the last one zero-padded), so that a kernel reads a panel
/// front to back.
#[derive(Debug, Clone)]
pub(crate) struct PackedPanels {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedPanels {
    /// Packs `b` (`[k, n]`, any strides, e.g. a transposed view).
    pub(crate) fn pack(b: ArrayView2<f32>) -> Self {
        let (k, n) = b.dim();
        let panels = n.div_ceil(NR);
        let mut data = vec![0.0f32; panels * k * NR];
        for (p, panel) in data.chunks_exact_mut(k * NR).enumerate() {
            let c0 = p * NR;
            let width = NR.min(n - c0);
            for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
                for (j, v) in row[..width].iter_mut().enumerate() {
                    *v = b[[kk, c0 + j]];
                }
            }
        }
        PackedPanels { k, n, data }
    }

    fn panel(&self, p: usize) -> &[f32] {
        &self.data[p * self.k * NR..(p + 1) * self.k * NR]
    }
}

/// `C = A · B` (`accumulate == false`) or `C += A · B`, for the `m` rows of
/// `A` starting at `a[i * lda]` (each `b.k()` long) and of `C` starting at
/// `c[i * ldc]` (each `b.n()` long). Panics if a slice is too short.
pub(crate) fn small_gemm(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(
        lda >= b.k && a.len() >= (m - 1) * lda + b.k && ldc >= b.n && c.len() >= (m - 1) * ldc + b.n,
        "small_gemm: operand slices too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available (checked just above); the slice
            // lengths were checked against m, lda, ldc and b's shape.
            unsafe { avx512::small_gemm(m, a, lda, b, c, ldc, accumulate) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA are available (checked just above); the slice
            // lengths were checked against m, lda, ldc and b's shape.
            unsafe { avx2::small_gemm(m, a, lda, b, c, ldc, accumulate) };
            return;
        }
    }
    small_gemm_portable(m, a, lda, b, c, ldc, accumulate);
}

/// The portable kernel behind [`small_gemm`] (same contract, separate
/// multiply and add); public to the crate so tests can compare the paths.
pub(crate) fn small_gemm_portable(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(
        lda >= b.k && a.len() >= (m - 1) * lda + b.k && ldc >= b.n && c.len() >= (m - 1) * ldc + b.n,
        "small_gemm: operand slices too short"
    );
    let panels = b.n.div_ceil(NR);
    for p in 0..panels {
        let c0 = p * NR;
        let width = NR.min(b.n - c0);
        let bp = b.panel(p);
        let mut r0 = 0;
        while r0 < m {
            let rows = MR.min(m - r0);
            let mut acc = [[0.0f32; NR]; MR];
            for kk in 0..b.k {
                let brow: &[f32; NR] = bp[kk * NR..(kk + 1) * NR].try_into().expect("NR floats");
                for (r, accr) in acc.iter_mut().enumerate().take(rows) {
                    let av = a[(r0 + r) * lda + kk];
                    for (x, &bv) in accr.iter_mut().zip(brow) {
                        *x += av * bv;
                    }
                }
            }
            for (r, accr) in acc.iter().enumerate().take(rows) {
                let crow = &mut c[(r0 + r) * ldc + c0..(r0 + r) * ldc + c0 + width];
                if accumulate {
                    crow.iter_mut().zip(accr).for_each(|(x, &v)| *x += v);
                } else {
                    crow.copy_from_slice(&accr[..width]);
                }
            }
            r0 += rows;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{PackedPanels, MR, NR};
    use std::arch::x86_64::*;

    /// [`super::small_gemm`] with AVX2/FMA; the caller checked the CPU features and the slice lengths.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn small_gemm(
        m: usize,
        a: &[f32],
        lda: usize,
        b: &PackedPanels,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        let panels = b.n.div_ceil(NR);
        for p in 0..panels {
            let c0 = p * NR;
            let width = NR.min(b.n - c0);
            let bp = b.panel(p).as_ptr();
            let mut r0 = 0;
            while r0 < m {
                let rows = MR.min(m - r0);
                let ap = a.as_ptr().add(r0 * lda);
                let cp = c.as_mut_ptr().add(r0 * ldc + c0);
                // SAFETY (all arms): rows r0..r0+rows of A (k floats each) and of C
                // (columns c0..c0+width) are inside the slices, checked by the caller.
                match rows {
                    6 => tile::<6>(b.k, ap, lda, bp, cp, ldc, width, accumulate),
                    5 => tile::<5>(b.k, ap, lda, bp, cp, ldc, width, accumulate),
                    4 => tile::<4>(b.k, ap, lda, bp, cp, ldc, width, accumulate),
                    3 => tile::<3>(b.k, ap, lda, bp, cp, ldc, width, accumulate),
                    2 => tile::<2>(b.k, ap, lda, bp, cp, ldc, width, accumulate),
                    _ => tile::<1>(b.k, ap, lda, bp, cp, ldc, width, accumulate),
                }
                r0 += rows;
            }
        }
    }

    /// One `R x NR` tile: `R` rows of A from `a` (stride `lda`), one packed
    /// panel `bp` (`k x NR`), written to `width <= NR` columns of C at `c` (stride `ldc`).
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const R: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        bp: *const f32,
        c: *mut f32,
        ldc: usize,
        width: usize,
        accumulate: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for kk in 0..k {
            let b0 = _mm256_loadu_ps(bp.add(kk * NR));
            let b1 = _mm256_loadu_ps(bp.add(kk * NR + 8));
            for (r, accr) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*a.add(r * lda + kk));
                accr[0] = _mm256_fmadd_ps(av, b0, accr[0]);
                accr[1] = _mm256_fmadd_ps(av, b1, accr[1]);
            }
        }
        for (r, accr) in acc.iter().enumerate() {
            let cr = c.add(r * ldc);
            if width == NR {
                let (mut v0, mut v1) = (accr[0], accr[1]);
                if accumulate {
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr.add(8)));
                }
                _mm256_storeu_ps(cr, v0);
                _mm256_storeu_ps(cr.add(8), v1);
            } else {
                let mut tmp = [0.0f32; NR];
                _mm256_storeu_ps(tmp.as_mut_ptr(), accr[0]);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), accr[1]);
                for (j, &v) in tmp.iter().enumerate().take(width) {
                    let dst = cr.add(j);
                    *dst = if accumulate { *dst + v } else { v };
                }
            }
        }
    }
}

/// AVX-512 kernel: one `__m512` per panel row, two panels side by side and
/// up to [`avx512::MR512`] rows of A per tile (sixteen accumulators).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedPanels, NR};
    use std::arch::x86_64::*;

    /// Rows of A per AVX-512 tile.
    pub(super) const MR512: usize = 8;

    /// [`super::small_gemm`] with AVX-512F; the caller checked the CPU feature and the slice lengths.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn small_gemm(
        m: usize,
        a: &[f32],
        lda: usize,
        b: &PackedPanels,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        let panels = b.n.div_ceil(NR);
        let mut p = 0;
        while p < panels {
            let pair = if p + 2 <= panels { 2 } else { 1 };
            let c0 = p * NR;
            let width = (pair * NR).min(b.n - c0);
            let bp = b.panel(p).as_ptr();
            let mut r0 = 0;
            while r0 < m {
                let rows = MR512.min(m - r0);
                let ap = a.as_ptr().add(r0 * lda);
                let cp = c.as_mut_ptr().add(r0 * ldc + c0);
                // SAFETY (all arms): rows r0..r0+rows of A (k floats each) and of C
                // (columns c0..c0+width) are inside the slices, checked by the caller;
                // with pair == 2 panels p and p + 1 are consecutive in `b.data`.
                macro_rules! go {
                    ($($r:literal)*) => {
                        match (rows, pair) {
                            $(($r, 2) => tile::<$r, 2>(b.k, ap, lda, bp, cp, ldc, width, accumulate),)*
                            $(($r, _) => tile::<$r, 1>(b.k, ap, lda, bp, cp, ldc, width, accumulate),)*
                            _ => unreachable!("rows is 1..=MR512"),
                        }
                    };
                }
                go!(1 2 3 4 5 6 7 8);
                r0 += rows;
            }
            p += pair;
        }
    }

    /// One `R x (P * NR)` tile: `R` rows of A from `a` (stride `lda`), `P`
    /// consecutive packed panels from `bp` (each `k x NR`), written to
    /// `width <= P * NR` columns of C at `c` (stride `ldc`).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const R: usize, const P: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        bp: *const f32,
        c: *mut f32,
        ldc: usize,
        width: usize,
        accumulate: bool,
    ) {
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        for kk in 0..k {
            let mut bv = [_mm512_setzero_ps(); P];
            for (q, v) in bv.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(bp.add(q * k * NR + kk * NR));
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(r * lda + kk));
                for (x, &v) in accr.iter_mut().zip(&bv) {
                    *x = _mm512_fmadd_ps(av, v, *x);
                }
            }
        }
        for (r, accr) in acc.iter().enumerate() {
            let cr = c.add(r * ldc);
            if width == P * NR {
                for (q, &v) in accr.iter().enumerate() {
                    let dst = cr.add(q * NR);
                    let v = if accumulate {
                        _mm512_add_ps(v, _mm512_loadu_ps(dst))
                    } else {
                        v
                    };
                    _mm512_storeu_ps(dst, v);
                }
            } else {
                let mut tmp = [0.0f32; 2 * NR];
                for (q, &v) in accr.iter().enumerate() {
                    _mm512_storeu_ps(tmp.as_mut_ptr().add(q * NR), v);
                }
                for (j, &v) in tmp.iter().enumerate().take(width) {
                    let dst = cr.add(j);
                    *dst = if accumulate { *dst + v } else { v };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{small_gemm, small_gemm_portable, PackedPanels};
    use ndarray::Array2;
    use proptest::prelude::*;

    fn reference(a: &Array2<f32>, b: &Array2<f32>, c0: &Array2<f32>, accumulate: bool) -> Array2<f32> {
        let mut c = if accumulate {
            c0.clone()
        } else {
            Array2::zeros(c0.dim())
        };
        for i in 0..a.nrows() {
            for j in 0..b.ncols() {
                let s: f64 = (0..a.ncols()).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum();
                c[[i, j]] += s as f32;
            }
        }
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The dispatched, portable and AVX2 kernels match an f64 reference (relative to the sum of |terms|)
        /// for shapes that are not multiples of the tile, transposed B, and both modes.
        #[test]
        fn small_gemm_matches_reference(m in 1usize..15, k in 1usize..40, n in 1usize..50,
                                        transpose in any::<bool>(), accumulate in any::<bool>(),
                                        seed in 0u64..1000) {
            let mut rng = neurite_tensor::random::rng_from_seed(seed);
            let mut r = |s: &[usize]| neurite_tensor::random::uniform(s, -1.0, 1.0, &mut rng);
            let a = r(&[m, k]).into_dimensionality::<ndarray::Ix2>().unwrap();
            let bt = r(&[n, k]).into_dimensionality::<ndarray::Ix2>().unwrap();
            let b = if transpose { bt.t().to_owned() } else { bt.clone().into_shape_with_order((k, n)).unwrap() };
            let packed = if transpose { PackedPanels::pack(bt.t()) } else { PackedPanels::pack(b.view()) };
            let c0 = r(&[m, n]).into_dimensionality::<ndarray::Ix2>().unwrap();
            let want = reference(&a, &b, &c0, accumulate);
            let tol = 1e-5 * (k as f32 + 1.0);
            for path in 0..3 {
                // Leave a gap after every row of A and C to exercise the strides.
                let lda = k + 3;
                let ldc = n + 2;
                let mut abuf = vec![f32::NAN; m * lda];
                let mut cbuf = vec![7.0f32; m * ldc];
                for i in 0..m {
                    for p in 0..k { abuf[i * lda + p] = a[[i, p]]; }
                    for j in 0..n { cbuf[i * ldc + j] = c0[[i, j]]; }
                }
                match path {
                    0 => small_gemm(m, &abuf, lda, &packed, &mut cbuf, ldc, accumulate),
                    1 => small_gemm_portable(m, &abuf, lda, &packed, &mut cbuf, ldc, accumulate),
                    _ => {
                        // The AVX2 kernel too, which the dispatcher skips on AVX-512 machines.
                        #[cfg(target_arch = "x86_64")]
                        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                            // SAFETY: features checked just above; lengths as for small_gemm.
                            unsafe { super::avx2::small_gemm(m, &abuf, lda, &packed, &mut cbuf, ldc, accumulate) };
                            check_result(&cbuf, &want, m, n, ldc, tol)?;
                        }
                        continue;
                    }
                }
                check_result(&cbuf, &want, m, n, ldc, tol)?;
            }
        }
    }

    fn check_result(
        cbuf: &[f32],
        want: &Array2<f32>,
        m: usize,
        n: usize,
        ldc: usize,
        tol: f32,
    ) -> Result<(), TestCaseError> {
        for i in 0..m {
            for j in 0..n {
                let got = cbuf[i * ldc + j];
                prop_assert!(
                    (got - want[[i, j]]).abs() <= tol,
                    "({i},{j}) {got} vs {}",
                    want[[i, j]]
                );
            }
            for j in n..ldc {
                prop_assert_eq!(cbuf[i * ldc + j], 7.0);
            }
        }
        Ok(())
    }
}
