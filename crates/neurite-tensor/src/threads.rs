//! Number of threads used by the GEMM backend.
//!
//! What can be controlled depends on the backend compiled in
//! ([`crate::gemm::backend`]):
//!
//! - **`openblas`** (feature `openblas`): [`set_num_threads`] calls OpenBLAS'
//!   `openblas_set_num_threads`, effective for the next `sgemm`; [`num_threads`]
//!   asks `openblas_get_num_threads`. OpenBLAS' own start-up default comes from
//!   `OPENBLAS_NUM_THREADS` (else the number of cores).
//! - **`gemm`** (feature `gemm-crate`, the default): the `gemm` crate runs its
//!   threads as tasks on rayon's global pool; [`set_num_threads`] takes effect at
//!   the next GEMM (neurite passes `Parallelism::Rayon(n)` on every call) and
//!   [`num_threads`] is the requested value, else rayon's pool size. Because GEMM
//!   and the element-wise kernels share one pool, they cannot oversubscribe the
//!   cores, even when a GEMM is issued from inside a rayon task.
//! - **`matrixmultiply`** (pure Rust, with neither feature): its thread count is read
//!   **once**, from the environment variable `MATMUL_NUM_THREADS`, at the first
//!   GEMM of the process, clamped to 1..=4; unset means "number of physical
//!   cores". It cannot be changed afterwards, so [`set_num_threads`] only
//!   records the request (returned by [`requested_threads`]) and [`num_threads`]
//!   reports what matrixmultiply uses (as far as it can be known: the variable,
//!   else the number of available cores, clamped like matrixmultiply does). Set
//!   `MATMUL_NUM_THREADS` before the program starts to choose.
//!
//! **rayon**: the element-wise, softmax, convolution and pooling kernels run on
//! rayon's global pool, sized by `RAYON_NUM_THREADS` (else the number of
//! cores) when first used; this module does not resize it. The convolution
//! splits a batch into rayon tasks that each call
//! [`gemm_single_thread`](crate::gemm::gemm_single_thread) (the `gemm` crate
//! without parallelism, also in `openblas` builds), so BLAS threads are never
//! started from inside a rayon task; every other GEMM is issued outside rayon
//! tasks, with the backend's threads. See `docs/benchmarks.md`.
//!
//! ```
//! use neurite_tensor::threads::{num_threads, set_num_threads};
//! set_num_threads(1);
//! assert!(num_threads() >= 1);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

static REQUESTED: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "openblas")]
mod ffi {
    use std::os::raw::c_int;
    extern "C" {
        pub fn openblas_set_num_threads(num_threads: c_int);
        pub fn openblas_get_num_threads() -> c_int;
    }
}

/// The most threads [`set_num_threads`] accepts; larger requests are clamped
/// to it. (The `gemm` crate splits each product into one task per requested
/// thread: `usize::MAX` of them never finished.)
///
/// ```
/// neurite_tensor::threads::set_num_threads(usize::MAX);
/// assert_eq!(neurite_tensor::threads::requested_threads(), Some(neurite_tensor::threads::MAX_THREADS));
/// neurite_tensor::threads::set_num_threads(1);
/// ```
pub const MAX_THREADS: usize = 256;

/// Asks the GEMM backend to use `n` threads (`0` is taken as 1, more than
/// [`MAX_THREADS`] as [`MAX_THREADS`]).
///
/// Effective at the next GEMM with OpenBLAS and the `gemm` crate; with
/// matrixmultiply only recorded (see
/// the [module documentation](self) for why and for `MATMUL_NUM_THREADS`).
///
/// ```
/// neurite_tensor::threads::set_num_threads(2);
/// assert_eq!(neurite_tensor::threads::requested_threads(), Some(2));
/// ```
pub fn set_num_threads(n: usize) {
    let n = n.clamp(1, MAX_THREADS);
    REQUESTED.store(n, Ordering::Relaxed);
    #[cfg(feature = "openblas")]
    {
        let n = std::os::raw::c_int::try_from(n).unwrap_or(std::os::raw::c_int::MAX);
        // SAFETY: plain C call into OpenBLAS with a positive thread count; OpenBLAS
        // serialises the change of its thread pool internally.
        unsafe { ffi::openblas_set_num_threads(n) };
    }
}

/// The last value given to [`set_num_threads`] (at least 1), or `None` if it was never called.
///
/// ```
/// neurite_tensor::threads::set_num_threads(0);
/// assert_eq!(neurite_tensor::threads::requested_threads(), Some(1));
/// ```
pub fn requested_threads() -> Option<usize> {
    match REQUESTED.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Number of threads the GEMM backend uses (see the [module documentation](self)).
///
/// ```
/// let n = neurite_tensor::threads::num_threads();
/// assert!(n >= 1);
/// ```
pub fn num_threads() -> usize {
    #[cfg(feature = "openblas")]
    {
        // SAFETY: plain C call into OpenBLAS, no arguments.
        let n = unsafe { ffi::openblas_get_num_threads() };
        usize::try_from(n).unwrap_or(1).max(1)
    }
    #[cfg(all(feature = "gemm-crate", not(feature = "openblas")))]
    {
        requested_threads().unwrap_or_else(rayon::current_num_threads)
    }
    #[cfg(not(any(feature = "gemm-crate", feature = "openblas")))]
    {
        matrixmultiply_threads()
    }
}

/// Thread count matrixmultiply derives from `MATMUL_NUM_THREADS` (else the cores), clamped to 1..=4.
#[cfg(not(any(feature = "gemm-crate", feature = "openblas")))]
fn matrixmultiply_threads() -> usize {
    let from_env = std::env::var("MATMUL_NUM_THREADS")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().unwrap_or(1));
    let n = from_env.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    n.clamp(1, 4)
}
