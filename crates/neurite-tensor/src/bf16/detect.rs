//! Which bf16 kernels this CPU (and OS) can run, detected once per process.
//!
//! # The safety argument (written once, for every bf16 kernel call)
//!
//! The AVX512-BF16 kernel is compiled with `#[target_feature(enable =
//! "avx512f,avx512bw,avx512bf16")]` and the AMX kernel executes tile
//! instructions (`ldtilecfg`, `tileloadd`, `tdpbf16ps`, ...) in `asm!`. Running
//! either on a CPU (or under an OS) without the feature is undefined
//! behaviour (or a `SIGILL`). The only calls into them are in
//! `super::blocked`, reached through a `match` on a [`Bf16Kernel`] that
//! `gemm_bf16_with` first checked with [`Bf16Kernel::available`], and
//! [`Bf16Kernel::detected`] only returns available kernels. `available` is
//! true for [`Bf16Kernel::Avx512Bf16`] only when `is_x86_feature_detected!`
//! reported `avx512f`, `avx512bw` and `avx512bf16` (which includes the OS
//! saving the zmm state), and for [`Bf16Kernel::Amx`] only when CPUID reports
//! AMX-TILE and AMX-BF16 *and* Linux granted this process the tile data
//! state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)` returned 0;
//! without it the first tile instruction faults). The grant is per process,
//! so it covers rayon's worker threads too; each thread still loads the tile
//! configuration (`ldtilecfg`) at the start of every kernel call, before any
//! other tile instruction, and releases it at the end.
//!
//! This module and `simd.rs` are the only places that detect CPU features.

use std::sync::OnceLock;

/// The bf16 kernels this CPU can run; the best available one is what
/// [`gemm_bf16`](super::gemm_bf16) uses.
///
/// ```
/// use neurite_tensor::bf16::Bf16Kernel;
/// assert!(Bf16Kernel::Portable.available());
/// assert!(Bf16Kernel::detected().available());
/// for k in Bf16Kernel::ALL {
///     println!("{}: {}", k.name(), if k.available() { "yes" } else { "no" });
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bf16Kernel {
    /// Intel AMX tiles: `tdpbf16ps` on 16x32 bf16 tiles into 16x16 f32 tiles.
    Amx,
    /// AVX512-BF16: `vdpbf16ps`, pairs of bf16 products into 16 f32 lanes.
    Avx512Bf16,
    /// Any CPU: operands rounded to bf16 in f32 buffers, then the f32 GEMM
    /// ([`crate::gemm::gemm`]), whose products of bf16 values are exact.
    Portable,
}

struct Detection {
    avx512bf16: Result<(), &'static str>,
    amx: Result<(), &'static str>,
}

fn detection() -> &'static Detection {
    static DETECTION: OnceLock<Detection> = OnceLock::new();
    DETECTION.get_or_init(|| Detection {
        avx512bf16: detect_avx512bf16(),
        amx: detect_amx(),
    })
}

impl Bf16Kernel {
    /// Every kernel, best first.
    ///
    /// ```
    /// use neurite_tensor::bf16::Bf16Kernel;
    /// assert_eq!(Bf16Kernel::ALL.last(), Some(&Bf16Kernel::Portable));
    /// ```
    pub const ALL: [Bf16Kernel; 3] = [Bf16Kernel::Amx, Bf16Kernel::Avx512Bf16, Bf16Kernel::Portable];

    /// The kernel's name, as accepted by `NEURITE_BF16_KERNEL`: `"amx"`,
    /// `"avx512bf16"` or `"portable"`.
    ///
    /// ```
    /// assert_eq!(neurite_tensor::bf16::Bf16Kernel::Amx.name(), "amx");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Bf16Kernel::Amx => "amx",
            Bf16Kernel::Avx512Bf16 => "avx512bf16",
            Bf16Kernel::Portable => "portable",
        }
    }

    /// The kernel named `name` (see [`Bf16Kernel::name`], case-insensitive), if any.
    ///
    /// ```
    /// use neurite_tensor::bf16::Bf16Kernel;
    /// assert_eq!(Bf16Kernel::from_name("AVX512BF16"), Some(Bf16Kernel::Avx512Bf16));
    /// assert_eq!(Bf16Kernel::from_name("fast"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Bf16Kernel> {
        Bf16Kernel::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }

    /// 2 for AMX, 1 for AVX512-BF16, 0 for portable: higher is faster.
    fn rank(self) -> u8 {
        match self {
            Bf16Kernel::Amx => 2,
            Bf16Kernel::Avx512Bf16 => 1,
            Bf16Kernel::Portable => 0,
        }
    }

    /// The kernel `gemm_bf16` uses on this machine: AMX if the CPU has it and
    /// the OS grants the tile permission, else AVX512-BF16, else Portable.
    /// Detected once and cached. `NEURITE_BF16_KERNEL=portable|avx512bf16|amx`
    /// (read once, at the first call) may force a lower one; an unavailable or
    /// unknown choice is ignored (see [`Bf16Kernel::available`] and
    /// [`Bf16Kernel::unavailable_reason`] for why).
    ///
    /// ```
    /// let k = neurite_tensor::bf16::Bf16Kernel::detected();
    /// assert!(k.available());
    /// ```
    pub fn detected() -> Bf16Kernel {
        static DETECTED: OnceLock<Bf16Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let best = Bf16Kernel::ALL
                .into_iter()
                .find(|k| k.available())
                .unwrap_or(Bf16Kernel::Portable);
            match std::env::var("NEURITE_BF16_KERNEL")
                .ok()
                .and_then(|v| Bf16Kernel::from_name(&v))
            {
                Some(forced) if forced.available() && forced.rank() <= best.rank() => forced,
                _ => best,
            }
        })
    }

    /// Whether this kernel can run here.
    ///
    /// ```
    /// use neurite_tensor::bf16::Bf16Kernel;
    /// assert!(Bf16Kernel::Portable.available());
    /// ```
    pub fn available(self) -> bool {
        self.unavailable_reason().is_none()
    }

    /// Why this kernel cannot run here (`None` when it can), e.g.
    /// `"the CPU has no AMX-TILE/AMX-BF16"`.
    ///
    /// ```
    /// use neurite_tensor::bf16::Bf16Kernel;
    /// assert_eq!(Bf16Kernel::Portable.unavailable_reason(), None);
    /// if let Some(why) = Bf16Kernel::Amx.unavailable_reason() {
    ///     println!("no AMX: {why}");
    /// }
    /// ```
    pub fn unavailable_reason(self) -> Option<&'static str> {
        match self {
            Bf16Kernel::Portable => None,
            Bf16Kernel::Avx512Bf16 => detection().avx512bf16.err(),
            Bf16Kernel::Amx => detection().amx.err(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_avx512bf16() -> Result<(), &'static str> {
    use std::arch::is_x86_feature_detected as has;
    if has!("avx512f") && has!("avx512bw") && has!("avx512bf16") {
        Ok(())
    } else {
        Err("the CPU (or OS) has no AVX512F+AVX512BW+AVX512-BF16")
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_avx512bf16() -> Result<(), &'static str> {
    Err("AVX512-BF16 exists on x86-64 only")
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect_amx() -> Result<(), &'static str> {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // `is_x86_feature_detected!("amx-tile")` is unstable: read CPUID leaf 7
    // (EDX bit 22 = AMX-BF16, bit 24 = AMX-TILE) directly.
    if __cpuid(0).eax < 7 {
        return Err("the CPU has no AMX-TILE/AMX-BF16 (CPUID leaf 7 missing)");
    }
    let edx = __cpuid_count(7, 0).edx;
    if edx & (1 << 22) == 0 || edx & (1 << 24) == 0 {
        return Err("the CPU has no AMX-TILE/AMX-BF16");
    }
    // The OS must agree to save the 8 KiB tile state for this process.
    const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
    const XFEATURE_XTILEDATA: usize = 18;
    const SYS_ARCH_PRCTL: isize = 158;
    let ret: isize;
    // SAFETY: the Linux x86-64 syscall ABI: number in rax, arguments in rdi and
    // rsi, result in rax, rcx and r11 clobbered. arch_prctl(ARCH_REQ_XCOMP_PERM)
    // touches no user memory; it only changes this process' permitted state.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret == 0 {
        Ok(())
    } else {
        Err("Linux refused the AMX tile data permission (arch_prctl(ARCH_REQ_XCOMP_PERM) failed)")
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect_amx() -> Result<(), &'static str> {
    Err("the AMX kernel is built for Linux on x86-64 only")
}
