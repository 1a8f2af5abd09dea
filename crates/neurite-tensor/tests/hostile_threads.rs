//! Hostile thread counts (issue #15): `set_num_threads(usize::MAX)` used to
//! make the next GEMM run forever (the `gemm` crate made one task per
//! requested thread). In its own test binary: the thread count is global.

use ndarray::Array2;
use neurite_tensor::gemm::matmul;
use neurite_tensor::threads::{requested_threads, set_num_threads, MAX_THREADS};

#[test]
fn an_absurd_thread_count_is_clamped_and_gemm_still_finishes() {
    let a = Array2::from_shape_fn((300, 200), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
    let b = Array2::from_shape_fn((200, 150), |(i, j)| ((i + 2 * j) % 5) as f32 * 0.5);
    set_num_threads(1);
    let reference = matmul(a.view(), b.view()).unwrap();
    for n in [usize::MAX, MAX_THREADS + 1, 1 << 40] {
        set_num_threads(n);
        assert_eq!(requested_threads(), Some(MAX_THREADS));
        // Same values whatever the split (the products are exact small integers/halves).
        assert_eq!(matmul(a.view(), b.view()).unwrap(), reference);
    }
    set_num_threads(0);
    assert_eq!(requested_threads(), Some(1));
}
