//! Run-time CPU feature dispatch: the one place where neurite decides which
//! compiled copy of a kernel runs.
//!
//! A kernel is written once (plain Rust, or `std::arch` intrinsics in an
//! `avx2`/`avx512` submodule) and [`simd_dispatch!`](crate::simd_dispatch!) compiles it up to three
//! times: for AVX-512F (+ AVX2 + FMA), for AVX2 + FMA, and for the build's
//! baseline target (portable). At run time [`simd_level`] picks one, from a
//! CPU detection done once per process and cached.
//!
//! # The safety argument (written once, for every dispatch site)
//!
//! Calling a `#[target_feature(enable = "...")]` function on a CPU without
//! those features is undefined behaviour, so such a call is `unsafe`. The
//! only such calls that dispatch makes are inside [`simd_dispatch!`](crate::simd_dispatch!), and
//! each one is reached through a `match` on a [`SimdLevel`] that is at most
//! [`simd_level()`] (a requested level is clamped with `min`).
//! [`simd_level()`] returns [`SimdLevel::Avx512`] only when
//! `is_x86_feature_detected!` reported `avx512f`, `avx2` and `fma`, and
//! [`SimdLevel::Avx2`] only when it reported `avx2` and `fma`; the variant
//! compiled for a level enables exactly those features. So a variant never
//! runs on a CPU that lacks a feature it was compiled for. Nothing else in
//! the workspace calls `is_x86_feature_detected!` to choose a kernel.
//!
//! Intrinsics helpers (`#[target_feature]` functions called from inside a
//! variant) need no `unsafe` for the call: a function compiled with a superset
//! of their features may call them safely (Rust 1.86+). They are `unsafe fn`
//! only when they also take raw pointers, and then their own `# Safety`
//! sections state what the caller checks.

use std::sync::OnceLock;

/// The instruction sets a dispatched kernel may use, ordered from least to
/// most capable (so `a.min(b)` is the level both allow).
///
/// ```
/// use neurite_tensor::simd::{simd_level, SimdLevel};
/// assert!(SimdLevel::Portable < SimdLevel::Avx2 && SimdLevel::Avx2 < SimdLevel::Avx512);
/// assert!(simd_level() >= SimdLevel::Portable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// The build's baseline target only (what the compiler may assume everywhere).
    Portable,
    /// x86-64 with AVX2 and FMA (256-bit vectors, fused multiply-add).
    Avx2,
    /// x86-64 with AVX-512F, AVX2 and FMA (512-bit vectors).
    Avx512,
}

impl SimdLevel {
    /// The level's name as shown in benchmark reports: `"portable"`, `"avx2+fma"` or `"avx512f"`.
    ///
    /// ```
    /// assert_eq!(neurite_tensor::simd::SimdLevel::Avx2.name(), "avx2+fma");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2+fma",
            SimdLevel::Avx512 => "avx512f",
        }
    }

    /// Every level this CPU can run, lowest first (for tests that compare
    /// a kernel's variants).
    ///
    /// ```
    /// use neurite_tensor::simd::{simd_level, SimdLevel};
    /// let levels = SimdLevel::available();
    /// assert_eq!(levels.first(), Some(&SimdLevel::Portable));
    /// assert_eq!(levels.last(), Some(&simd_level()));
    /// ```
    pub fn available() -> Vec<SimdLevel> {
        [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|&l| l <= simd_level())
            .collect()
    }
}

/// The best [`SimdLevel`] this CPU supports, detected on the first call and
/// cached for the life of the process (later calls are one atomic load).
///
/// ```
/// let level = neurite_tensor::simd::simd_level();
/// println!("kernels run their {} variants", level.name());
/// ```
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> SimdLevel {
    use std::arch::is_x86_feature_detected as has;
    if !(has!("avx2") && has!("fma")) {
        SimdLevel::Portable
    } else if has!("avx512f") {
        SimdLevel::Avx512
    } else {
        SimdLevel::Avx2
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> SimdLevel {
    SimdLevel::Portable
}

/// Defines a function that runs the variant of a kernel compiled for the
/// best [`SimdLevel`](crate::simd::SimdLevel) of the CPU (see the
/// [`simd`](crate::simd) module for the safety argument).
///
/// ```text
/// simd_dispatch! {
///     /// Docs of the dispatched function.
///     pub fn name(arg: Type, ...) -> Ret;
///     /// Optional: the same with the level chosen by the caller (clamped to
///     /// what the CPU has), for tests that compare the variants.
///     pub fn name_at(level);
///     avx512 => expression,   // optional: without it, AVX-512 CPUs run the avx2 variant
///     avx2 => expression,
///     portable => expression,
/// }
/// ```
///
/// Each expression is the body of one variant; it sees the arguments by
/// name and is compiled with that level's target features, so
/// `#[inline(always)]` functions it calls are vectorized for that level, and
/// intrinsics helpers with those features can be called without `unsafe`.
/// (The variants are separate functions, not closures: a closure would be
/// compiled without the target features.) Parameters are plain
/// identifiers; the function may not be generic.
///
/// ```
/// neurite_tensor::simd_dispatch! {
///     /// `y += a * x`, element by element.
///     fn axpy(a: f32, x: &[f32], y: &mut [f32]);
///     /// [`axpy`] at a chosen level.
///     fn axpy_at(level);
///     avx2 => axpy_body(a, x, y),
///     portable => axpy_body(a, x, y),
/// }
///
/// #[inline(always)]
/// fn axpy_body(a: f32, x: &[f32], y: &mut [f32]) {
///     y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
/// }
///
/// let mut y = vec![1.0f32; 20];
/// axpy(2.0, &[3.0; 20], &mut y);
/// assert!(y.iter().all(|&v| v == 7.0));
/// for level in neurite_tensor::simd::SimdLevel::available() {
///     let mut y = vec![0.0f32; 3];
///     axpy_at(level, 0.5, &[2.0, 4.0, 6.0], &mut y);
///     assert_eq!(y, [1.0, 2.0, 3.0]);
/// }
/// ```
#[macro_export]
macro_rules! simd_dispatch {
    // With a `name_at(level)` companion.
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?;
        $(#[$at_attr:meta])*
        $at_vis:vis fn $at_name:ident(level);
        $(avx512 => $avx512:expr,)?
        avx2 => $avx2:expr,
        portable => $portable:expr $(,)?
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            $at_name($crate::simd::simd_level(), $($arg),*)
        }

        $(#[$at_attr])*
        #[allow(clippy::too_many_arguments)]
        $at_vis fn $at_name(level: $crate::simd::SimdLevel, $($arg: $ty),*) $(-> $ret)? {
            $crate::simd_dispatch!(@run level.min($crate::simd::simd_level());
                ($($arg: $ty),*) $(-> $ret)?;
                [$($avx512)?] $avx2; $portable)
        }
    };
    // Without: the dispatched function only.
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?;
        $(avx512 => $avx512:expr,)?
        avx2 => $avx2:expr,
        portable => $portable:expr $(,)?
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            $crate::simd_dispatch!(@run $crate::simd::simd_level();
                ($($arg: $ty),*) $(-> $ret)?;
                [$($avx512)?] $avx2; $portable)
        }
    };
    // The body: the variants and the match (AVX-512 variant given).
    (@run $level:expr; ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?; [$avx512:expr] $avx2:expr; $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn avx512_variant($($arg: $ty),*) $(-> $ret)? {
                $avx512
            }
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn avx2_variant($($arg: $ty),*) $(-> $ret)? {
                $avx2
            }
            match $level {
                // SAFETY: the level is at most `simd_level()`, which is
                // `Avx512` only if the CPU has AVX-512F, AVX2 and FMA.
                $crate::simd::SimdLevel::Avx512 => return unsafe { avx512_variant($($arg),*) },
                // SAFETY: as above, `Avx2` only if the CPU has AVX2 and FMA.
                $crate::simd::SimdLevel::Avx2 => return unsafe { avx2_variant($($arg),*) },
                $crate::simd::SimdLevel::Portable => {}
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = $level;
        $portable
    }};
    // The body without an AVX-512 variant: AVX-512 CPUs run the AVX2 one.
    (@run $level:expr; ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?; [] $avx2:expr; $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn avx2_variant($($arg: $ty),*) $(-> $ret)? {
                $avx2
            }
            match $level {
                // SAFETY: the level is at most `simd_level()`, which is
                // `Avx2` or above only if the CPU has AVX2 and FMA.
                $crate::simd::SimdLevel::Avx512 | $crate::simd::SimdLevel::Avx2 => {
                    return unsafe { avx2_variant($($arg),*) }
                }
                $crate::simd::SimdLevel::Portable => {}
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = $level;
        $portable
    }};
}

#[cfg(test)]
mod tests {
    use super::{simd_level, SimdLevel};

    #[test]
    fn detection_is_stable_and_matches_the_cpu() {
        let level = simd_level();
        assert_eq!(level, simd_level());
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            assert_eq!(level >= SimdLevel::Avx2, avx2);
            assert_eq!(level == SimdLevel::Avx512, avx2 && has!("avx512f"));
        }
    }

    crate::simd_dispatch! {
        /// Which variant ran (the variants report their own level).
        fn which() -> SimdLevel;
        /// [`which`] at a chosen level.
        fn which_at(level);
        avx512 => SimdLevel::Avx512,
        avx2 => SimdLevel::Avx2,
        portable => SimdLevel::Portable,
    }

    crate::simd_dispatch! {
        fn which_without_avx512() -> SimdLevel;
        fn which_without_avx512_at(level);
        avx2 => SimdLevel::Avx2,
        portable => SimdLevel::Portable,
    }

    #[test]
    fn dispatch_runs_the_requested_variant_clamped_to_the_cpu() {
        assert_eq!(which(), simd_level());
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            assert_eq!(which_at(level), level.min(simd_level()));
            let want = level.min(simd_level()).min(SimdLevel::Avx2);
            assert_eq!(which_without_avx512_at(level), want);
        }
        assert_eq!(which_without_avx512(), simd_level().min(SimdLevel::Avx2));
    }
}
