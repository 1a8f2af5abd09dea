//! Packing `op(A)` and `op(B)` into the tile layouts of the AMX and
//! AVX512-BF16 kernels, rounding each value to bf16 on the way.
//!
//! Both operands are cut into *panels* of 16 rows of A (16 columns of B) and
//! each panel into *chunks* of 32 values of K; one chunk of one panel is a 1 KiB
//! tile (16 x 64 bytes), and a panel's tiles follow each other along K:
//!
//! - A tile: row `r` (0..16), K offset `kk` (0..32) at `r * 32 + kk` (row major);
//! - B tile ("VNNI"): K offset `kk`, column `j` (0..16) at `(kk / 2) * 32 + j * 2 + kk % 2`,
//!   i.e. tile row `kk / 2` holds the K pair `(kk & !1, kk | 1)` of all 16 columns.
//!
//! Rows and columns are padded with zeros to a multiple of 32 (the kernels
//! compute 32 x 32 blocks), K to a multiple of 32.

use super::round::to_bf16_bits;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// 32-bit words (bf16 pairs) in one tile.
pub(crate) const TILE: usize = 256;

/// A packed operand: `panels` panels of `chunks` tiles each.
pub(crate) struct Packed {
    /// The tiles, as words of two bf16 (the lower address holds the even K).
    pub(crate) data: Vec<u32>,
    pub(crate) chunks: usize,
}

impl Packed {
    /// Pointer to tile `chunk` of panel `panel`.
    #[inline]
    pub(crate) fn tile(&self, panel: usize, chunk: usize) -> *const u16 {
        debug_assert!(chunk < self.chunks && (panel * self.chunks + chunk + 1) * TILE <= self.data.len());
        self.data[(panel * self.chunks + chunk) * TILE..].as_ptr().cast()
    }
}

/// Number of 16-wide panels for `len` rows (columns), padded to a multiple of 32.
pub(crate) fn panels_for(len: usize) -> usize {
    len.div_ceil(32) * 2
}

/// Below this many values an operand is packed on the calling thread.
const PARALLEL_PACK: usize = 1 << 16;

/// Element `(i, j)` of `x` (no bounds check).
///
/// # Safety
/// `i < x.nrows()` and `j < x.ncols()`.
#[inline(always)]
unsafe fn at(x: &ArrayView2<f32>, i: usize, j: usize) -> f32 {
    let (rs, cs) = (x.strides()[0], x.strides()[1]);
    // SAFETY: (i, j) is inside the view (the caller's contract).
    unsafe { *x.as_ptr().offset(i as isize * rs + j as isize * cs) }
}

/// `len` consecutive elements of `x` from `(i, j)` along the axis of stride 1.
///
/// # Safety
/// That axis has stride 1 and the `len` elements are inside the view.
#[inline(always)]
unsafe fn run<'a>(x: &'a ArrayView2<f32>, i: usize, j: usize, len: usize) -> &'a [f32] {
    let (rs, cs) = (x.strides()[0], x.strides()[1]);
    // SAFETY: the caller's contract; the view borrows the data for 'a.
    unsafe { std::slice::from_raw_parts(x.as_ptr().offset(i as isize * rs + j as isize * cs), len) }
}

/// Two bf16 values in one little-endian word: `lo` at the lower address.
#[inline(always)]
fn pair(lo: f32, hi: f32) -> u32 {
    u32::from(to_bf16_bits(lo)) | (u32::from(to_bf16_bits(hi)) << 16)
}

/// One A tile: rows `i0..i0 + 16`, K `p0..p0 + 32` of `a`, zero beyond its
/// edges. In words: row `r`, K pair `t` at `r * 16 + t`.
#[inline(always)]
fn a_tile(a: &ArrayView2<f32>, i0: usize, p0: usize, tile: &mut [u32]) {
    let tile = &mut tile[..TILE];
    let (m, k) = a.dim();
    let full = i0 + 16 <= m && p0 + 32 <= k;
    if full && a.strides()[1] == 1 {
        for (r, out) in tile.chunks_exact_mut(16).enumerate() {
            // SAFETY: row i0 + r < m, columns p0..p0 + 32 <= k, stride 1.
            let src = unsafe { run(a, i0 + r, p0, 32) };
            for (t, o) in out.iter_mut().enumerate() {
                *o = pair(src[2 * t], src[2 * t + 1]);
            }
        }
    } else if full && a.strides()[0] == 1 {
        let mut words = [[0u32; 16]; 16];
        for (t, w) in words.iter_mut().enumerate() {
            // SAFETY: columns p0 + 2t, p0 + 2t + 1 < k, rows i0..i0 + 16 <= m, stride 1.
            let (c0, c1) = unsafe { (run(a, i0, p0 + 2 * t, 16), run(a, i0, p0 + 2 * t + 1, 16)) };
            for r in 0..16 {
                w[r] = pair(c0[r], c1[r]);
            }
        }
        for r in 0..16 {
            for t in 0..16 {
                tile[r * 16 + t] = words[t][r];
            }
        }
    } else {
        // SAFETY: read only inside the view.
        let get = |i: usize, p: usize| {
            if i < m && p < k {
                unsafe { at(a, i, p) }
            } else {
                0.0
            }
        };
        for r in 0..16 {
            for t in 0..16 {
                let (i, p) = (i0 + r, p0 + 2 * t);
                tile[r * 16 + t] = pair(get(i, p), get(i, p + 1));
            }
        }
    }
}

/// One B (VNNI) tile: K `p0..p0 + 32`, columns `j0..j0 + 16` of `b`, zero
/// beyond its edges. In words: K pair `t`, column `j` at `t * 16 + j`.
#[inline(always)]
fn b_tile(b: &ArrayView2<f32>, p0: usize, j0: usize, tile: &mut [u32]) {
    let tile = &mut tile[..TILE];
    let (k, n) = b.dim();
    let full = p0 + 32 <= k && j0 + 16 <= n;
    if full && b.strides()[1] == 1 {
        for (t, out) in tile.chunks_exact_mut(16).enumerate() {
            // SAFETY: rows p0 + 2t, p0 + 2t + 1 < k, columns j0..j0 + 16 <= n, stride 1.
            let (r0, r1) = unsafe { (run(b, p0 + 2 * t, j0, 16), run(b, p0 + 2 * t + 1, j0, 16)) };
            for (j, o) in out.iter_mut().enumerate() {
                *o = pair(r0[j], r1[j]);
            }
        }
    } else if full && b.strides()[0] == 1 {
        let mut words = [[0u32; 16]; 16];
        for (j, w) in words.iter_mut().enumerate() {
            // SAFETY: column j0 + j < n, rows p0..p0 + 32 <= k, stride 1.
            let col = unsafe { run(b, p0, j0 + j, 32) };
            for t in 0..16 {
                w[t] = pair(col[2 * t], col[2 * t + 1]);
            }
        }
        for t in 0..16 {
            for j in 0..16 {
                tile[t * 16 + j] = words[j][t];
            }
        }
    } else {
        // SAFETY: read only inside the view.
        let get = |p: usize, c: usize| {
            if p < k && c < n {
                unsafe { at(b, p, c) }
            } else {
                0.0
            }
        };
        for t in 0..16 {
            for j in 0..16 {
                let (p, c) = (p0 + 2 * t, j0 + j);
                tile[t * 16 + j] = pair(get(p, c), get(p + 1, c));
            }
        }
    }
}

crate::simd_dispatch! {
    /// Panel `p` (rows `16p..16p + 16`) of `a`, K chunks from `q0` on, as many
    /// as `panel` holds tiles.
    pub(crate) fn a_panel(a: &ArrayView2<f32>, p: usize, q0: usize, panel: &mut [u32]);
    avx512 => a_panel_body(a, p, q0, panel),
    avx2 => a_panel_body(a, p, q0, panel),
    portable => a_panel_body(a, p, q0, panel),
}

crate::simd_dispatch! {
    /// Panel `p` (columns `16p..16p + 16`) of `b`, all its K chunks.
    fn b_panel(b: &ArrayView2<f32>, p: usize, panel: &mut [u32]);
    avx512 => b_panel_body(b, p, panel),
    avx2 => b_panel_body(b, p, panel),
    portable => b_panel_body(b, p, panel),
}

#[inline(always)]
fn a_panel_body(a: &ArrayView2<f32>, p: usize, q0: usize, panel: &mut [u32]) {
    for (q, tile) in panel.chunks_exact_mut(TILE).enumerate() {
        a_tile(a, p * 16, (q0 + q) * 32, tile);
    }
}

#[inline(always)]
fn b_panel_body(b: &ArrayView2<f32>, p: usize, panel: &mut [u32]) {
    for (q, tile) in panel.chunks_exact_mut(TILE).enumerate() {
        b_tile(b, q * 32, p * 16, tile);
    }
}

/// Packs all of `a` (`op(A)`, `[m, k]`, any strides) into A tiles (the
/// driver packs A a block at a time with [`a_panel`]; this is for tests).
#[cfg(test)]
pub(crate) fn pack_a(a: ArrayView2<f32>, parallel: bool) -> Packed {
    let (m, k) = a.dim();
    let chunks = k.div_ceil(32);
    let mut data = vec![0u32; panels_for(m) * chunks * TILE];
    let fill = |(p, panel): (usize, &mut [u32])| a_panel(&a, p, 0, panel);
    if parallel && m * k >= PARALLEL_PACK {
        data.par_chunks_mut(chunks * TILE).enumerate().for_each(fill);
    } else {
        data.chunks_mut(chunks * TILE).enumerate().for_each(fill);
    }
    Packed { data, chunks }
}

/// Packs `b` (`op(B)`, `[k, n]`, any strides) into B (VNNI) tiles.
pub(crate) fn pack_b(b: ArrayView2<f32>, parallel: bool) -> Packed {
    let (k, n) = b.dim();
    let chunks = k.div_ceil(32);
    let mut data = vec![0u32; panels_for(n) * chunks * TILE];
    let fill = |(p, panel): (usize, &mut [u32])| b_panel(&b, p, panel);
    if parallel && k * n >= PARALLEL_PACK {
        data.par_chunks_mut(chunks * TILE).enumerate().for_each(fill);
    } else {
        data.chunks_mut(chunks * TILE).enumerate().for_each(fill);
    }
    Packed { data, chunks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The bf16 at u16 index `i` of packed words.
    fn half(data: &[u32], i: usize) -> u16 {
        (data[i / 2] >> (16 * (i % 2))) as u16
    }

    #[test]
    fn tiles_hold_the_documented_elements_whatever_the_strides() {
        for (m, k, n) in [(37, 45, 19), (64, 96, 48), (16, 32, 16)] {
            let a = Array2::from_shape_fn((m, k), |(i, p)| (i * 100 + p) as f32);
            let b = Array2::from_shape_fn((k, n), |(p, j)| (p * 100 + j) as f32);
            let at = a.t().to_owned();
            let bt = b.t().to_owned();
            for (pa, pb) in [
                (pack_a(a.view(), false), pack_b(b.view(), false)),
                (pack_a(at.t(), true), pack_b(bt.t(), true)),
            ] {
                assert_eq!(pa.chunks, k.div_ceil(32));
                for i in 0..panels_for(m) * 16 {
                    for p in 0..pa.chunks * 32 {
                        let got = half(
                            &pa.data,
                            ((i / 16) * pa.chunks + p / 32) * 512 + (i % 16) * 32 + p % 32,
                        );
                        let want = if i < m && p < k {
                            to_bf16_bits(a[[i, p]])
                        } else {
                            0
                        };
                        assert_eq!(got, want, "A[{i}, {p}]");
                    }
                }
                for p in 0..pb.chunks * 32 {
                    for j in 0..panels_for(n) * 16 {
                        let got = half(
                            &pb.data,
                            ((j / 16) * pb.chunks + p / 32) * 512
                                + ((p % 32) / 2) * 32
                                + (j % 16) * 2
                                + p % 2,
                        );
                        let want = if p < k && j < n {
                            to_bf16_bits(b[[p, j]])
                        } else {
                            0
                        };
                        assert_eq!(got, want, "B[{p}, {j}]");
                    }
                }
            }
        }
    }
}
