//! Flushing denormal (subnormal) `f32` values to zero, on by default.
//!
//! A denormal is a float smaller in magnitude than `f32::MIN_POSITIVE`
//! (about `1.18e-38`). x86 CPUs handle them in microcode, tens to a hundred
//! times slower than normal numbers; weights and gradients that decay towards
//! zero during training fill the kernels with them. Measured on the MNIST CNN
//! at batch 32: training fell from ~8,200 to ~5,000 samples/s as it went on,
//! and stayed at ~9,000 with flushing (`docs/benchmarks.md`, "Denormals").
//! TensorFlow and oneDNN flush by default; so does neurite.
//!
//! **What is set.** On x86_64, the MXCSR bits FTZ (flush-to-zero: a denormal
//! *result* becomes ±0) and DAZ (denormals-are-zero: a denormal *input* reads as
//! ±0); on aarch64 the FPCR bit FZ, which does both. Elsewhere nothing is set
//! ([`is_supported`] is `false`) and results keep their denormals.
//! What this changes numerically is written up in `docs/numerics.md`; in short,
//! every value that would be below `f32::MIN_POSITIVE` in magnitude is zero,
//! and results stay deterministic (the mode is the same on every thread that
//! runs a kernel).
//!
//! **Where.** The mode is per thread. [`DenormalScope::enter`] (used by the
//! umbrella crate's `fit`, `train_on_batch`, `evaluate` and `predict`) sets it
//! on the calling thread until the scope ends, so a program's own `f32` math
//! after a neurite call runs in the mode it had before; and it sets it on every
//! thread of the current rayon pool, which **keep** it: those threads only
//! run rayon tasks (neurite's kernels, and any rayon work of the program
//! itself, which then also flushes). Kernels called directly, outside those
//! entry points, run in whatever mode the threads are in; wrap them in a
//! [`DenormalScope`] to get the same behaviour.
//!
//! **Opting out.** `NEURITE_KEEP_DENORMALS=1` in the environment (read once,
//! at the first use), or [`set_policy`]`(DenormalPolicy::Keep)` at run time
//! (which also clears the mode on the current rayon pool's threads): neurite
//! then changes no thread's mode.
//!
//! ```
//! use neurite_tensor::denormals::{denormals_flushed, is_supported, DenormalScope};
//! let before = denormals_flushed();
//! {
//!     let _scope = DenormalScope::enter();
//!     // Under the default policy (no NEURITE_KEEP_DENORMALS=1), the mode is on here.
//!     let tiny = std::hint::black_box(f32::MIN_POSITIVE);
//!     let half = tiny * std::hint::black_box(0.5); // a denormal without flushing
//!     if is_supported() && denormals_flushed() {
//!         assert_eq!(half, 0.0);
//!     }
//! }
//! assert_eq!(denormals_flushed(), before); // the caller's mode is back
//! ```

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Whether neurite flushes denormals in the threads that run its kernels.
///
/// ```
/// use neurite_tensor::denormals::DenormalPolicy;
/// assert_eq!(DenormalPolicy::default(), DenormalPolicy::Flush);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DenormalPolicy {
    /// Flush denormal inputs and results to zero (FTZ + DAZ); the default.
    #[default]
    Flush,
    /// Leave every thread's floating-point mode as it is.
    Keep,
}

/// The environment variable that, set to `1`, makes [`DenormalPolicy::Keep`]
/// the starting policy.
///
/// ```
/// assert_eq!(neurite_tensor::denormals::KEEP_DENORMALS_ENV, "NEURITE_KEEP_DENORMALS");
/// ```
pub const KEEP_DENORMALS_ENV: &str = "NEURITE_KEEP_DENORMALS";

const POLICY_UNSET: u8 = 0;
const POLICY_FLUSH: u8 = 1;
const POLICY_KEEP: u8 = 2;
static POLICY: AtomicU8 = AtomicU8::new(POLICY_UNSET);

fn encode(policy: DenormalPolicy) -> u8 {
    match policy {
        DenormalPolicy::Flush => POLICY_FLUSH,
        DenormalPolicy::Keep => POLICY_KEEP,
    }
}

/// The policy in effect: the last [`set_policy`], else
/// [`DenormalPolicy::Keep`] when `NEURITE_KEEP_DENORMALS=1`, else
/// [`DenormalPolicy::Flush`].
///
/// ```
/// use neurite_tensor::denormals::{policy, DenormalPolicy};
/// let p = policy();
/// assert!(p == DenormalPolicy::Flush || p == DenormalPolicy::Keep);
/// ```
pub fn policy() -> DenormalPolicy {
    let current = match POLICY.load(Ordering::Acquire) {
        POLICY_UNSET => {
            let keep = std::env::var(KEEP_DENORMALS_ENV).is_ok_and(|v| v.trim() == "1");
            let from_env = if keep { POLICY_KEEP } else { POLICY_FLUSH };
            // A concurrent `set_policy` wins over the environment.
            match POLICY.compare_exchange(POLICY_UNSET, from_env, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => from_env,
                Err(set) => set,
            }
        }
        set => set,
    };
    if current == POLICY_KEEP {
        DenormalPolicy::Keep
    } else {
        DenormalPolicy::Flush
    }
}

/// Sets the policy for the following neurite calls (process-wide), and
/// applies it at once to the threads of the current rayon pool: `Flush` sets
/// their mode, `Keep` clears it (undoing what earlier calls set there). The
/// calling thread is not changed.
///
/// ```
/// use neurite_tensor::denormals::{policy, set_policy, DenormalPolicy};
/// set_policy(DenormalPolicy::Keep);
/// assert_eq!(policy(), DenormalPolicy::Keep);
/// set_policy(DenormalPolicy::Flush);
/// ```
pub fn set_policy(policy: DenormalPolicy) {
    POLICY.store(encode(policy), Ordering::Release);
    flush_denormals_on_workers(policy == DenormalPolicy::Flush);
}

/// Whether this target has a flush mode neurite can set (x86_64 and aarch64).
///
/// ```
/// let on_known_cpu = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
/// assert_eq!(neurite_tensor::denormals::is_supported(), on_known_cpu);
/// ```
pub const fn is_supported() -> bool {
    cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
}

/// Whether the calling thread flushes denormals (x86_64: both FTZ and DAZ
/// set; aarch64: FZ set). Always `false` where [`is_supported`] is `false`.
///
/// ```
/// use neurite_tensor::denormals::{denormals_flushed, flush_denormals, is_supported};
/// let previous = flush_denormals(true);
/// assert_eq!(denormals_flushed(), is_supported());
/// flush_denormals(previous);
/// ```
pub fn denormals_flushed() -> bool {
    let bits = control::read();
    is_supported() && bits & control::FLUSH_BITS == control::FLUSH_BITS
}

/// Turns flushing on or off on the calling thread only; returns whether it
/// was on before ([`denormals_flushed`]). Does nothing where
/// [`is_supported`] is `false`. Prefer [`DenormalScope`], which restores the
/// previous mode by itself.
///
/// ```
/// use neurite_tensor::denormals::{flush_denormals, is_supported};
/// let previous = flush_denormals(true);
/// let tiny = std::hint::black_box(1.0e-39f32); // a denormal
/// let doubled = tiny * std::hint::black_box(2.0);
/// assert_eq!(doubled == 0.0, is_supported()); // read as 0 (DAZ)
/// flush_denormals(previous);
/// ```
pub fn flush_denormals(on: bool) -> bool {
    let was = denormals_flushed();
    set_flush_bits(on);
    was
}

fn set_flush_bits(on: bool) {
    if !is_supported() {
        return;
    }
    let bits = control::read();
    let wanted = if on {
        bits | control::FLUSH_BITS
    } else {
        bits & !control::FLUSH_BITS
    };
    if wanted != bits {
        control::write(wanted);
    }
}

/// Turns flushing on or off on every thread of the current rayon pool (the
/// global pool, or the pool this is called from inside); they keep the mode
/// until it is changed again. Blocks until every thread has done it.
///
/// ```
/// use neurite_tensor::denormals::{denormals_flushed, flush_denormals_on_workers, is_supported};
/// flush_denormals_on_workers(true);
/// let on_workers = rayon::broadcast(|_| denormals_flushed());
/// assert!(on_workers.iter().all(|&on| on == is_supported()));
/// ```
pub fn flush_denormals_on_workers(on: bool) {
    if is_supported() {
        rayon::broadcast(|_| set_flush_bits(on));
        if rayon::current_thread_index().is_none() {
            GLOBAL_POOL_FLUSHED.store(on, Ordering::Release);
        }
    }
}

/// Whether this module last set the global pool's threads to flush (they
/// keep the mode, so [`DenormalScope::enter`] need not broadcast again: a
/// broadcast per `train_on_batch` cost ~3% of a small MLP's step).
static GLOBAL_POOL_FLUSHED: AtomicBool = AtomicBool::new(false);

/// Sets flushing on the threads of the pool the caller's work runs on,
/// unless this is the global pool and it already flushes. A caller inside
/// a pool of its own (`ThreadPool::install`) always broadcasts: rayon does
/// not say which pool that is.
fn ensure_workers_flush() {
    let on_global_pool = rayon::current_thread_index().is_none();
    if !(on_global_pool && GLOBAL_POOL_FLUSHED.load(Ordering::Acquire)) {
        flush_denormals_on_workers(true);
    }
}

/// Flushing for the duration of a neurite call: on entry, under
/// [`DenormalPolicy::Flush`], sets the mode on the calling thread and on every
/// thread of the current rayon pool; on drop, puts the calling thread's
/// flush bits back as they were (rayon threads keep the mode, see the
/// [module documentation](self)). Under [`DenormalPolicy::Keep`] it changes
/// nothing. Scopes nest. Not `Send`: it must end on the thread it started on.
///
/// ```
/// use neurite_tensor::denormals::{denormals_flushed, flush_denormals, DenormalScope};
/// let previous = flush_denormals(false);
/// {
///     let _scope = DenormalScope::enter();
///     // ... neurite kernels here run with denormals flushed (default policy) ...
/// }
/// assert!(!denormals_flushed()); // the thread's own mode again
/// flush_denormals(previous);
/// ```
#[must_use = "the mode is restored when the scope is dropped"]
#[derive(Debug)]
pub struct DenormalScope {
    /// The calling thread's flush bits on entry; `None` when nothing was changed.
    saved_bits: Option<u32>,
    /// The control register is per thread: keep the guard on its thread.
    _not_send: PhantomData<*const ()>,
}

impl DenormalScope {
    /// Starts a scope (see [`DenormalScope`]).
    ///
    /// ```
    /// let scope = neurite_tensor::denormals::DenormalScope::enter();
    /// drop(scope);
    /// ```
    pub fn enter() -> Self {
        if !is_supported() || policy() == DenormalPolicy::Keep {
            return DenormalScope {
                saved_bits: None,
                _not_send: PhantomData,
            };
        }
        ensure_workers_flush();
        let saved_bits = control::read() & control::FLUSH_BITS;
        set_flush_bits(true);
        DenormalScope {
            saved_bits: Some(saved_bits),
            _not_send: PhantomData,
        }
    }
}

impl Drop for DenormalScope {
    fn drop(&mut self) {
        if let Some(saved) = self.saved_bits {
            let bits = control::read();
            let restored = (bits & !control::FLUSH_BITS) | saved;
            if restored != bits {
                control::write(restored);
            }
        }
    }
}

/// The per-thread floating-point control register and its flush bits.
#[cfg(target_arch = "x86_64")]
mod control {
    /// MXCSR bit 15, FTZ (results), and bit 6, DAZ (inputs).
    pub(super) const FLUSH_BITS: u32 = (1 << 15) | (1 << 6);

    pub(super) fn read() -> u32 {
        let mut mxcsr: u32 = 0;
        // SAFETY: `stmxcsr` stores the 32-bit MXCSR into the pointed-to u32,
        // which is valid and writable; SSE is part of the x86_64 baseline.
        unsafe {
            core::arch::asm!("stmxcsr [{}]", in(reg) &mut mxcsr, options(nostack, preserves_flags));
        }
        mxcsr
    }

    pub(super) fn write(mxcsr: u32) {
        // SAFETY: `ldmxcsr` loads MXCSR from the pointed-to u32. Callers only
        // change the FTZ and DAZ bits of a value just read, which are defined
        // on every x86_64 CPU (no reserved bit is set, so no #GP), and only
        // change how denormals round, not memory safety.
        unsafe {
            core::arch::asm!("ldmxcsr [{}]", in(reg) &mxcsr, options(nostack, preserves_flags, readonly));
        }
    }
}

/// The per-thread floating-point control register and its flush bits.
#[cfg(target_arch = "aarch64")]
mod control {
    /// FPCR bit 24, FZ: flushes denormal inputs and results.
    pub(super) const FLUSH_BITS: u32 = 1 << 24;

    pub(super) fn read() -> u32 {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effect and is allowed at EL0.
        unsafe {
            core::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
        fpcr as u32
    }

    pub(super) fn write(fpcr: u32) {
        // SAFETY: writing FPCR is allowed at EL0; callers only change the FZ
        // bit of a value just read, which changes how denormals round.
        unsafe {
            core::arch::asm!("msr fpcr, {}", in(reg) fpcr as u64, options(nomem, nostack, preserves_flags));
        }
    }
}

/// No flush mode on other targets: nothing to read or set.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod control {
    pub(super) const FLUSH_BITS: u32 = 0;

    pub(super) fn read() -> u32 {
        0
    }

    pub(super) fn write(_: u32) {}
}
