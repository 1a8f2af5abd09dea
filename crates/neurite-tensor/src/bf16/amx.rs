//! The AMX micro-kernel: a 32x32 block of C in four 16x16 f32 tiles, fed by
//! two 16x32 bf16 tiles of A and two 16x32 (VNNI) bf16 tiles of B per 32
//! values of K, with `tdpbf16ps`. Written in `asm!` (the AMX intrinsics are
//! not stable). Tiles are registers no compiler-generated code touches, so
//! they keep their values between the `asm!` blocks below.
//!
//! Tile registers: tmm0..tmm3 = C (00, 01, 10, 11), tmm4/tmm5 = A rows 0..16
//! and 16..32, tmm6/tmm7 = B columns 0..16 and 16..32. Every tile is 16 rows
//! of 64 bytes, stored contiguously (row stride 64 bytes), so a packed tile is
//! 1 KiB and the next tile along K follows it.

use std::arch::asm;

/// Row stride of every tile, in bytes.
const STRIDE: usize = 64;

/// The 64-byte tile configuration: palette 1, tiles 0..8 of 16 rows x 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

const CONFIG: TileConfig = {
    let mut c = [0u8; 64];
    c[0] = 1; // palette 1
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = STRIDE as u8; // colsb, u16 little-endian (64 < 256)
        c[48 + t] = 16; // rows
        t += 1;
    }
    TileConfig(c)
};

/// Tile state of the calling thread for the life of the value: `ldtilecfg`
/// on creation, `tilerelease` on drop.
pub(crate) struct TileScope(std::marker::PhantomData<*const ()>);

impl TileScope {
    /// Loads the tile configuration on this thread.
    ///
    /// # Safety
    /// The CPU has AMX-TILE and AMX-BF16 and the OS granted this process the
    /// tile data state (`Bf16Kernel::Amx.available()`, see `detect.rs`).
    pub(crate) unsafe fn enter() -> TileScope {
        // SAFETY: the caller's contract; CONFIG is 64 readable bytes.
        unsafe { asm!("ldtilecfg [{}]", in(reg) &CONFIG.0, options(nostack, readonly)) };
        TileScope(std::marker::PhantomData)
    }

    /// `C (+)= A * B` over `chunks` K-chunks of 32 for one 32x32 block.
    ///
    /// `a0`/`a1` point at the first packed A tile of rows 0..16 and 16..32,
    /// `b0`/`b1` at the first packed B tile (VNNI) of columns 0..16 and 16..32;
    /// the following `chunks - 1` tiles of each follow contiguously. `acc` is
    /// the block's four f32 tiles (4 KiB: C00, C01, C10, C11, each 16x16 row
    /// major); when `accumulate` it is read first, else C starts at zero. The
    /// result is stored into `acc`.
    ///
    /// # Safety
    /// `a0`, `a1`, `b0`, `b1` are readable for `chunks * 1 KiB`, `acc` is
    /// readable (if `accumulate`) and writable for 4 KiB, `chunks >= 1`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn block(
        &self,
        a0: *const u16,
        a1: *const u16,
        b0: *const u16,
        b1: *const u16,
        chunks: usize,
        acc: *mut f32,
        accumulate: bool,
    ) {
        debug_assert!(chunks >= 1);
        // SAFETY: the tile configuration is loaded (`self` exists); the pointers
        // are valid for the stated sizes (the caller's contract).
        unsafe {
            if accumulate {
                asm!(
                    "tileloadd tmm0, [{c} + {s}*1]",
                    "tileloadd tmm1, [{c} + {s}*1 + 1024]",
                    "tileloadd tmm2, [{c} + {s}*1 + 2048]",
                    "tileloadd tmm3, [{c} + {s}*1 + 3072]",
                    c = in(reg) acc,
                    s = in(reg) STRIDE,
                    options(nostack, readonly),
                );
            } else {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack, nomem)
                );
            }
            asm!(
                "2:",
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm6, [{b0} + {s}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{b1} + {s}*1]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tileloadd tmm5, [{a1} + {s}*1]",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "add {a0}, 1024",
                "add {a1}, 1024",
                "add {b0}, 1024",
                "add {b1}, 1024",
                "dec {n}",
                "jnz 2b",
                a0 = inout(reg) a0 => _,
                a1 = inout(reg) a1 => _,
                b0 = inout(reg) b0 => _,
                b1 = inout(reg) b1 => _,
                n = inout(reg) chunks => _,
                s = in(reg) STRIDE,
                options(nostack, readonly),
            );
            asm!(
                "tilestored [{c} + {s}*1], tmm0",
                "tilestored [{c} + {s}*1 + 1024], tmm1",
                "tilestored [{c} + {s}*1 + 2048], tmm2",
                "tilestored [{c} + {s}*1 + 3072], tmm3",
                c = in(reg) acc,
                s = in(reg) STRIDE,
                options(nostack),
            );
        }
    }
}

impl Drop for TileScope {
    fn drop(&mut self) {
        // SAFETY: the configuration was loaded by `enter` on this thread (a
        // TileScope is neither Send nor created elsewhere); tilerelease only
        // resets the tile state.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}
