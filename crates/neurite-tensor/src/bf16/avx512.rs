//! The AVX512-BF16 micro-kernel: the same 32x32 block as the AMX one (same
//! packed tiles, same accumulator layout), computed 8 rows at a time in 16
//! zmm accumulators with `vdpbf16ps`.
//!
//! A B tile row is one K pair of 16 columns, i.e. exactly one `vdpbf16ps`
//! operand; the A pair `(A[r, 2t], A[r, 2t + 1])` is broadcast to all 16 lanes.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `C (+)= A * B` over `chunks` K-chunks for one 32x32 block; the arguments
/// and the accumulator layout are those of the AMX `TileScope::block`.
///
/// # Safety
/// The CPU has AVX512F, AVX512BW and AVX512-BF16 (`Bf16Kernel::Avx512Bf16`
/// is available, see `detect.rs`); `a0`, `a1`, `b0`, `b1` are readable for
/// `chunks` tiles (1 KiB each), `acc` for 4 KiB (written; read if
/// `accumulate`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(crate) unsafe fn block(
    a0: *const u16,
    a1: *const u16,
    b0: *const u16,
    b1: *const u16,
    chunks: usize,
    acc: *mut f32,
    accumulate: bool,
) {
    for quarter in 0..4 {
        let panel = if quarter < 2 { a0 } else { a1 };
        // SAFETY: rows 8 * (quarter % 2) .. + 8 of a 16-row tile, and the C rows
        // 8 * quarter .. + 8 of the 32-row block (the caller's contract).
        unsafe {
            rows8(
                panel.add((quarter % 2) * 8 * 32),
                b0,
                b1,
                chunks,
                acc,
                quarter * 8,
                accumulate,
            )
        };
    }
}

/// Offset (in f32) of row `r`, columns `half * 16 .. + 16` of the 32x32 block.
#[inline(always)]
fn acc_offset(r: usize, half: usize) -> usize {
    ((r / 16) * 2 + half) * 256 + (r % 16) * 16
}

/// Eight rows of the block: `a` points at the first of the 8 rows inside the
/// first A tile; `row0` is the block row of the first.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn rows8(
    a: *const u16,
    b0: *const u16,
    b1: *const u16,
    chunks: usize,
    acc: *mut f32,
    row0: usize,
    accumulate: bool,
) {
    let mut c = [[_mm512_setzero_ps(); 2]; 8];
    if accumulate {
        for (r, cr) in c.iter_mut().enumerate() {
            for (half, v) in cr.iter_mut().enumerate() {
                // SAFETY: inside the 4 KiB accumulator.
                *v = unsafe { _mm512_loadu_ps(acc.add(acc_offset(row0 + r, half))) };
            }
        }
    }
    for q in 0..chunks {
        // SAFETY: tile q of each panel is readable (the caller's contract).
        let (at, bt0, bt1) = unsafe { (a.add(q * 512), b0.add(q * 512), b1.add(q * 512)) };
        for t in 0..16 {
            // SAFETY: row t (64 bytes) of the B tiles, reinterpreted as 32 bf16.
            let (v0, v1): (__m512bh, __m512bh) = unsafe {
                (
                    std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(bt0.add(t * 32).cast())),
                    std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(bt1.add(t * 32).cast())),
                )
            };
            for (r, cr) in c.iter_mut().enumerate() {
                // SAFETY: the K pair 2t, 2t + 1 of row r of the A tile (4 bytes).
                let pair = unsafe { at.add(r * 32 + 2 * t).cast::<i32>().read_unaligned() };
                // SAFETY: a 512-bit vector reinterpreted as 32 bf16 (every bit pattern is valid).
                let av = unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair)) };
                cr[0] = _mm512_dpbf16_ps(cr[0], av, v0);
                cr[1] = _mm512_dpbf16_ps(cr[1], av, v1);
            }
        }
    }
    for (r, cr) in c.iter().enumerate() {
        for (half, v) in cr.iter().enumerate() {
            // SAFETY: inside the 4 KiB accumulator.
            unsafe { _mm512_storeu_ps(acc.add(acc_offset(row0 + r, half)), *v) };
        }
    }
}
