//! The small products of a recurrent layer's time steps, `C (+)= A · B`
//! with `A` a `[batch, k]` block (e.g. `h_{t-1}` or `dZ_t`) and `B` the
//! recurrent kernel `U` (or `Uᵀ`), the same at every step.
//!
//! The general GEMM ([`crate::gemm`]) repacks `B` at every call and may
//! start threads for a product of only `2 * 32 * 64 * 256` flops; here `B`
//! is packed **once per sequence** into column panels of [`NR`] floats
//! ([`PackedPanels`]) and each step runs a register-tiled kernel of
//! `MR x NR` accumulators, chosen by [`crate::simd_dispatch!`]: with AVX-512F
//! an intrinsics kernel of up to `8 x 32` floats in sixteen `__m512`, with
//! AVX2 and FMA one of `6 x 16` floats in twelve `__m256`, elsewhere a
//! portable version of the same tiling that the compiler vectorizes. The
//! paths differ only in rounding (fused vs separate multiply-add).
//!
//! ```
//! use neurite_tensor::small_gemm::{small_gemm, PackedPanels};
//! let b = ndarray::array![[1.0f32, 2.0], [3.0, 4.0]];
//! let packed = PackedPanels::pack(b.view());
//! let a = [1.0f32, 1.0, 0.0, 2.0]; // two rows of A, row stride 2
//! let mut c = [0.0f32; 4];
//! small_gemm(2, &a, 2, &packed, &mut c, 2, false)?;
//! assert_eq!(c, [4.0, 6.0, 6.0, 8.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::error::{Result, TensorError};
use crate::simd::SimdLevel;
use ndarray::ArrayView2;

/// Columns per packed panel (two AVX2 registers, one AVX-512 register).
pub const NR: usize = 16;
/// Rows of `A` per register tile of the AVX2 and portable kernels.
const MR: usize = 6;

/// A `[k, n]` matrix `B` stored for [`small_gemm`]: `ceil(n / NR)` column
/// panels, each `[k, NR]` row-major (the last one zero-padded), so that a
/// kernel reads a panel front to back.
///
/// ```
/// use neurite_tensor::small_gemm::PackedPanels;
/// let u = ndarray::Array2::<f32>::ones((3, 20));
/// let packed = PackedPanels::pack(u.t()); // any strides: here Uᵀ, [20, 3]
/// assert_eq!((packed.k(), packed.n()), (20, 3));
/// ```
#[derive(Debug, Clone)]
pub struct PackedPanels {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedPanels {
    /// Packs `b` (`[k, n]`, any strides, e.g. a transposed view).
    ///
    /// ```
    /// let b = ndarray::Array2::<f32>::zeros((4, 17));
    /// let packed = neurite_tensor::small_gemm::PackedPanels::pack(b.view());
    /// assert_eq!(packed.n(), 17);
    /// ```
    pub fn pack(b: ArrayView2<f32>) -> Self {
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

    /// Rows of `B` (the length of each row of `A`).
    ///
    /// ```
    /// let b = ndarray::Array2::<f32>::zeros((4, 5));
    /// assert_eq!(neurite_tensor::small_gemm::PackedPanels::pack(b.view()).k(), 4);
    /// ```
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of `B` (the length of each row of `C`).
    ///
    /// ```
    /// let b = ndarray::Array2::<f32>::zeros((4, 5));
    /// assert_eq!(neurite_tensor::small_gemm::PackedPanels::pack(b.view()).n(), 5);
    /// ```
    pub fn n(&self) -> usize {
        self.n
    }

    fn panel(&self, p: usize) -> &[f32] {
        &self.data[p * self.k * NR..(p + 1) * self.k * NR]
    }
}

/// `C = A · B` (`accumulate == false`) or `C += A · B`, for the `m` rows of
/// `A` starting at `a[i * lda]` (each `b.k()` long) and of `C` starting at
/// `c[i * ldc]` (each `b.n()` long); the gaps between rows are neither read
/// nor written. Runs the kernel of the CPU's [`crate::simd::simd_level`].
///
/// Errors with [`TensorError::InvalidArgument`] if a stride is shorter than a row or a
/// slice is too short for `m` rows.
///
/// ```
/// use neurite_tensor::small_gemm::{small_gemm, PackedPanels};
/// let packed = PackedPanels::pack(ndarray::array![[2.0f32]].view());
/// let mut c = [1.0f32, 9.0, 1.0];
/// small_gemm(2, &[3.0, 4.0], 1, &packed, &mut c, 2, true)?; // C rows at 0 and 2
/// assert_eq!(c, [7.0, 9.0, 9.0]);
/// assert!(small_gemm(3, &[3.0, 4.0], 1, &packed, &mut c, 2, true).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn small_gemm(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Result<()> {
    check_operands(m, a.len(), lda, b, c.len(), ldc)?;
    if m > 0 && b.n > 0 {
        kernel(m, a, lda, b, c, ldc, accumulate);
    }
    Ok(())
}

/// [`small_gemm`] with the kernel of `level` (clamped to what the CPU has),
/// so tests and benchmarks can compare the variants.
///
/// ```
/// use neurite_tensor::simd::SimdLevel;
/// use neurite_tensor::small_gemm::{small_gemm_at, PackedPanels};
/// let packed = PackedPanels::pack(ndarray::array![[1.0f32, 2.0]].view());
/// let mut c = [0.0f32; 2];
/// small_gemm_at(SimdLevel::Portable, 1, &[3.0], 1, &packed, &mut c, 2, false)?;
/// assert_eq!(c, [3.0, 6.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn small_gemm_at(
    level: SimdLevel,
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Result<()> {
    check_operands(m, a.len(), lda, b, c.len(), ldc)?;
    if m > 0 && b.n > 0 {
        kernel_at(level, m, a, lda, b, c, ldc, accumulate);
    }
    Ok(())
}

/// Checks that `m` rows of `A` (`b.k()` floats each, stride `lda`) fit in
/// `a_len` floats and `m` rows of `C` (`b.n()` floats, stride `ldc`) in `c_len`.
fn check_operands(
    m: usize,
    a_len: usize,
    lda: usize,
    b: &PackedPanels,
    c_len: usize,
    ldc: usize,
) -> Result<()> {
    let fits = |len: usize, ld: usize, row: usize| {
        m == 0
            || ld >= row
                && (m - 1)
                    .checked_mul(ld)
                    .and_then(|s| s.checked_add(row))
                    .is_some_and(|need| len >= need)
    };
    if fits(a_len, lda, b.k) && fits(c_len, ldc, b.n) {
        return Ok(());
    }
    Err(TensorError::invalid(
        "small_gemm",
        format!(
            "{m} rows of A ({} floats each, row stride {lda}) need more than {a_len} floats, \
             or {m} rows of C ({} floats each, row stride {ldc}) more than {c_len}",
            b.k, b.n
        ),
    ))
}

crate::simd_dispatch! {
    /// The kernels behind [`small_gemm`], for `m > 0`, `b.n() > 0` and slices
    /// [`check_operands`] accepted.
    fn kernel(m: usize, a: &[f32], lda: usize, b: &PackedPanels, c: &mut [f32], ldc: usize, accumulate: bool);
    /// [`kernel`] at a chosen level.
    fn kernel_at(level);
    // SAFETY (both arms): `small_gemm_at` checked the slice lengths against m, lda, ldc and b's shape.
    avx512 => unsafe { avx512::small_gemm(m, a, lda, b, c, ldc, accumulate) },
    avx2 => unsafe { avx2::small_gemm(m, a, lda, b, c, ldc, accumulate) },
    portable => small_gemm_portable(m, a, lda, b, c, ldc, accumulate),
}
/// The portable kernel (separate multiply and add), for slices
/// [`small_gemm_at`] has checked.
#[inline(always)]
fn small_gemm_portable(
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
    use super::{small_gemm, small_gemm_at, PackedPanels};
    use crate::simd::SimdLevel;
    use ndarray::Array2;
    use proptest::prelude::*;

    /// `C0 + A · B` (or `A · B`) by a plain triple loop in f64.
    fn reference(a: &Array2<f32>, b: &Array2<f32>, c0: &Array2<f32>, accumulate: bool) -> Array2<f32> {
        let mut c = if accumulate {
            c0.clone()
        } else {
            Array2::zeros(c0.dim())
        };
        for i in 0..a.nrows() {
            for j in 0..b.ncols() {
                let mut s = 0.0f64;
                for p in 0..a.ncols() {
                    s += a[[i, p]] as f64 * b[[p, j]] as f64;
                }
                c[[i, j]] += s as f32;
            }
        }
        c
    }

    fn matrix(rows: usize, cols: usize, rng: &mut neurite_rand::Generator) -> Array2<f32> {
        crate::random::uniform(&[rows, cols], -1.0, 1.0, rng)
            .into_dimensionality()
            .expect("2-d")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every variant the CPU has (and the dispatched call) matches a plain
        /// triple loop, for shapes that are not multiples of the tiles, a
        /// transposed B, both modes, and row strides with gaps (left untouched).
        #[test]
        fn small_gemm_matches_a_triple_loop(m in 1usize..15, k in 1usize..40, n in 1usize..50,
                                            transpose in any::<bool>(), accumulate in any::<bool>(),
                                            seed in 0u64..1000) {
            let mut rng = crate::random::rng_from_seed(seed);
            let a = matrix(m, k, &mut rng);
            let bt = matrix(n, k, &mut rng);
            let b = if transpose { bt.t().to_owned() } else { bt.clone().into_shape_with_order((k, n)).unwrap() };
            let packed = if transpose { PackedPanels::pack(bt.t()) } else { PackedPanels::pack(b.view()) };
            let c0 = matrix(m, n, &mut rng);
            let want = reference(&a, &b, &c0, accumulate);
            let tol = 1e-5 * (k as f32 + 1.0);
            let (lda, ldc) = (k + 3, n + 2);
            let mut levels: Vec<Option<SimdLevel>> = SimdLevel::available().into_iter().map(Some).collect();
            levels.push(None);
            for level in levels {
                let mut abuf = vec![f32::NAN; m * lda];
                let mut cbuf = vec![7.0f32; m * ldc];
                for i in 0..m {
                    for p in 0..k { abuf[i * lda + p] = a[[i, p]]; }
                    for j in 0..n { cbuf[i * ldc + j] = c0[[i, j]]; }
                }
                match level {
                    Some(level) => small_gemm_at(level, m, &abuf, lda, &packed, &mut cbuf, ldc, accumulate).unwrap(),
                    None => small_gemm(m, &abuf, lda, &packed, &mut cbuf, ldc, accumulate).unwrap(),
                }
                for i in 0..m {
                    for j in 0..n {
                        let got = cbuf[i * ldc + j];
                        prop_assert!((got - want[[i, j]]).abs() <= tol, "{level:?} ({i},{j}) {got} vs {}", want[[i, j]]);
                    }
                    for j in n..ldc {
                        prop_assert_eq!(cbuf[i * ldc + j], 7.0);
                    }
                }
            }
        }
    }

    #[test]
    fn short_operands_are_errors_not_panics() {
        let packed = PackedPanels::pack(Array2::<f32>::ones((3, 4)).view());
        let mut c = vec![0.0f32; 8];
        // Two rows of A need 3 + 3 floats at stride 3.
        assert!(small_gemm(2, &[1.0; 5], 3, &packed, &mut c, 4, false).is_err());
        // A stride shorter than a row.
        assert!(small_gemm(2, &[1.0; 6], 2, &packed, &mut c, 4, false).is_err());
        // Two rows of C need 4 + 4 floats at stride 4; at stride 5, 9.
        assert!(small_gemm(2, &[1.0; 6], 3, &packed, &mut c, 5, false).is_err());
        assert!(small_gemm(usize::MAX, &[1.0; 6], 3, &packed, &mut c, 4, false).is_err());
        small_gemm(2, &[1.0; 6], 3, &packed, &mut c, 4, false).unwrap();
        assert_eq!(c, [3.0; 8]);
        // No rows: nothing to check or do.
        small_gemm(0, &[], 0, &packed, &mut [], 0, false).unwrap();
    }
}
