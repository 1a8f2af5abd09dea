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

/// u16 values in one tile.
pub(crate) const TILE: usize = 512;

/// A packed operand: `panels` panels of `chunks` tiles each.
pub(crate) struct Packed {
    pub(crate) data: Vec<u16>,
    pub(crate) chunks: usize,
}

impl Packed {
    /// Pointer to tile `chunk` of panel `panel`.
    #[inline]
    pub(crate) fn tile(&self, panel: usize, chunk: usize) -> *const u16 {
        debug_assert!(chunk < self.chunks && (panel * self.chunks + chunk + 1) * TILE <= self.data.len());
        self.data[(panel * self.chunks + chunk) * TILE..].as_ptr()
    }
}

/// Number of 16-wide panels for `len` rows (columns), padded to a multiple of 32.
pub(crate) fn panels_for(len: usize) -> usize {
    len.div_ceil(32) * 2
}

/// Below this many values an operand is packed on the calling thread.
const PARALLEL_PACK: usize = 1 << 16;

/// Packs `a` (`op(A)`, `[m, k]`, any strides) into A tiles.
pub(crate) fn pack_a(a: ArrayView2<f32>, parallel: bool) -> Packed {
    let (m, k) = a.dim();
    let chunks = k.div_ceil(32);
    let panels = panels_for(m);
    let mut data = vec![0u16; panels * chunks * TILE];
    // Read along the operand's contiguous direction.
    let k_inner = a.strides()[1].unsigned_abs() <= a.strides()[0].unsigned_abs();
    let fill = |(p, panel): (usize, &mut [u16])| {
        let rows = m.saturating_sub(p * 16).min(16);
        for q in 0..chunks {
            let tile = &mut panel[q * TILE..(q + 1) * TILE];
            let ks = (k - q * 32).min(32);
            if k_inner {
                for r in 0..rows {
                    let row = a.row(p * 16 + r);
                    for kk in 0..ks {
                        tile[r * 32 + kk] = to_bf16_bits(row[q * 32 + kk]);
                    }
                }
            } else {
                for kk in 0..ks {
                    let col = a.column(q * 32 + kk);
                    for r in 0..rows {
                        tile[r * 32 + kk] = to_bf16_bits(col[p * 16 + r]);
                    }
                }
            }
        }
    };
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
    let panels = panels_for(n);
    let mut data = vec![0u16; panels * chunks * TILE];
    let n_inner = b.strides()[1].unsigned_abs() <= b.strides()[0].unsigned_abs();
    let fill = |(p, panel): (usize, &mut [u16])| {
        let cols = n.saturating_sub(p * 16).min(16);
        for q in 0..chunks {
            let tile = &mut panel[q * TILE..(q + 1) * TILE];
            let ks = (k - q * 32).min(32);
            if n_inner {
                for kk in 0..ks {
                    let row = b.row(q * 32 + kk);
                    for j in 0..cols {
                        tile[(kk / 2) * 32 + j * 2 + kk % 2] = to_bf16_bits(row[p * 16 + j]);
                    }
                }
            } else {
                for j in 0..cols {
                    let col = b.column(p * 16 + j);
                    for kk in 0..ks {
                        tile[(kk / 2) * 32 + j * 2 + kk % 2] = to_bf16_bits(col[q * 32 + kk]);
                    }
                }
            }
        }
    };
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

    #[test]
    fn tiles_hold_the_documented_elements_whatever_the_strides() {
        let (m, k, n) = (37, 45, 19);
        let a = Array2::from_shape_fn((m, k), |(i, p)| (i * 100 + p) as f32);
        let b = Array2::from_shape_fn((k, n), |(p, j)| (p * 100 + j) as f32);
        let at = a.t().to_owned();
        let bt = b.t().to_owned();
        for (pa, pb) in [
            (pack_a(a.view(), false), pack_b(b.view(), false)),
            (pack_a(at.t(), true), pack_b(bt.t(), true)),
        ] {
            assert_eq!(pa.chunks, 2);
            for i in 0..64 {
                for p in 0..64 {
                    let got = pa.data[((i / 16) * 2 + p / 32) * TILE + (i % 16) * 32 + p % 32];
                    let want = if i < m && p < k {
                        to_bf16_bits(a[[i, p]])
                    } else {
                        0
                    };
                    assert_eq!(got, want, "A[{i}, {p}]");
                }
            }
            for p in 0..64 {
                for j in 0..32 {
                    let got =
                        pb.data[((j / 16) * 2 + p / 32) * TILE + ((p % 32) / 2) * 32 + (j % 16) * 2 + p % 2];
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
