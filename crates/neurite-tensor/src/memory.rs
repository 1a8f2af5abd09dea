//! Keeping freed memory in the process between training steps (glibc only).
//!
//! A training step allocates and frees the same large buffers every time
//! (activations, im2col outputs, gradients: megabytes each). With glibc's
//! default settings, blocks above the `mmap` threshold, and the top of a
//! thread's heap above the trim threshold, go back to the kernel when freed, so
//! the next step takes a page fault (and a zeroed page) for every 4 KiB it
//! touches again, and TLB shoot-downs between the two cores. Measured on the
//! MNIST CNN at batch 32: 18 % of the profile in page-fault handling, and a
//! process-to-process swing between about 2,700 and 4,800 samples/s depending
//! on where the heap happened to land (`docs/benchmarks.md`).
//!
//! [`tune_allocator`] raises both thresholds once per process (`mallopt`
//! `M_MMAP_THRESHOLD` = 32 MiB, glibc's maximum, and `M_TRIM_THRESHOLD` =
//! 256 MiB), so freed blocks are reused instead. Peak memory is unchanged; memory
//! freed at the end of training stays with the process. The umbrella crate
//! `neurite` calls it when a model trains, evaluates or predicts.
//!
//! It does nothing when the user already tunes malloc (`GLIBC_TUNABLES`,
//! `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` set), when
//! `NEURITE_MALLOC_TUNING=0`, or on other platforms and C libraries.

use std::sync::OnceLock;

/// `M_MMAP_THRESHOLD` set by [`tune_allocator`]: glibc's largest accepted value on 64-bit.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// `M_TRIM_THRESHOLD` set by [`tune_allocator`].
pub const TRIM_THRESHOLD: usize = 256 << 20;

/// Raises glibc's `mmap` and trim thresholds once per process (see the
/// [module documentation](self)); returns whether the tuning is in effect.
///
/// ```
/// let first = neurite_tensor::memory::tune_allocator();
/// // Idempotent: later calls report the same outcome and change nothing.
/// assert_eq!(neurite_tensor::memory::tune_allocator(), first);
/// ```
pub fn tune_allocator() -> bool {
    static APPLIED: OnceLock<bool> = OnceLock::new();
    *APPLIED.get_or_init(|| {
        let opted_out = std::env::var("NEURITE_MALLOC_TUNING").is_ok_and(|v| v.trim() == "0");
        let user_tuned = [
            "GLIBC_TUNABLES",
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_TRIM_THRESHOLD_",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
        !opted_out && !user_tuned && apply()
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    let as_int = |v: usize| libc::c_int::try_from(v).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only updates malloc's parameters under its own lock; the
    // values are positive and within glibc's accepted ranges.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, as_int(MMAP_THRESHOLD)) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, as_int(TRIM_THRESHOLD)) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}
