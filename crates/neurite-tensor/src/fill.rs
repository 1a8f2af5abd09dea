//! Building output buffers chunk by chunk in parallel, without zeroing them first.
//!
//! `vec![0.0; n]` followed by a parallel pass writes every element twice and
//! the first write (a `memset` of megabytes) goes out to memory before the
//! kernel reads it back. [`par_build`] hands each rayon task its chunk of a
//! freshly reserved buffer, pre-filled with a value *by that task*, so the
//! chunk is still in cache when the kernel writes its results.

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A `Vec` of `len` elements built by `chunks` of `chunk` elements (the last
/// may be shorter). Each chunk is first filled with `init`, then passed to
/// `write(chunk_index, chunk)`, in parallel.
///
/// `chunk == 0` is treated as one chunk of `len`.
pub(crate) fn par_build<T, F>(len: usize, chunk: usize, init: T, write: F) -> Vec<T>
where
    T: Copy + Send + Sync,
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    let mut out: Vec<T> = Vec::with_capacity(len);
    let chunk = if chunk == 0 { len.max(1) } else { chunk };
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, part)| write(i, init_chunk(part, init)));
    // SAFETY: every element of `0..len` was initialised by `init_chunk`, and
    // `T: Copy` has no drop glue to run on the previous (absent) values.
    unsafe { out.set_len(len) };
    out
}

/// Like [`par_build`] without the pre-fill, for kernels that write every
/// element anyway (e.g. a GEMM with `beta = 0`): `write(i, chunk)` receives
/// the chunk uninitialised and must return it initialised, which safe code can
/// only do through an initialising function such as
/// [`crate::gemm::gemm_into_uninit`]. Panics if it returns another slice.
pub(crate) fn par_build_with<T, F>(len: usize, chunk: usize, write: F) -> Vec<T>
where
    T: Copy + Send + Sync,
    F: for<'a> Fn(usize, &'a mut [MaybeUninit<T>]) -> &'a mut [T] + Send + Sync,
{
    let mut out: Vec<T> = Vec::with_capacity(len);
    let chunk = if chunk == 0 { len.max(1) } else { chunk };
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, part)| {
            let (ptr, n) = (part.as_ptr() as *const T, part.len());
            let done = write(i, part);
            assert!(
                std::ptr::eq(done.as_ptr(), ptr) && done.len() == n,
                "par_build_with: the writer must return the chunk it was given"
            );
        });
    // SAFETY: every chunk came back as a `&mut [T]` over its own memory, which
    // safe code can only obtain by initialising all of it; `T: Copy`.
    unsafe { out.set_len(len) };
    out
}

/// Like [`par_build`] for two buffers split into the same number of chunks
/// (`chunk_a` and `chunk_b` elements): `write(i, a_chunk, b_chunk)`.
pub(crate) fn par_build_pair<A, B, F>(
    (len_a, chunk_a, init_a): (usize, usize, A),
    (len_b, chunk_b, init_b): (usize, usize, B),
    write: F,
) -> (Vec<A>, Vec<B>)
where
    A: Copy + Send + Sync,
    B: Copy + Send + Sync,
    F: Fn(usize, &mut [A], &mut [B]) + Send + Sync,
{
    let (mut a, mut b): (Vec<A>, Vec<B>) = (Vec::with_capacity(len_a), Vec::with_capacity(len_b));
    let chunk_a = if chunk_a == 0 { len_a.max(1) } else { chunk_a };
    let chunk_b = if chunk_b == 0 { len_b.max(1) } else { chunk_b };
    assert_eq!(
        len_a.div_ceil(chunk_a),
        len_b.div_ceil(chunk_b),
        "par_build_pair: both buffers need the same number of chunks"
    );
    a.spare_capacity_mut()[..len_a]
        .par_chunks_mut(chunk_a)
        .zip(b.spare_capacity_mut()[..len_b].par_chunks_mut(chunk_b))
        .enumerate()
        .for_each(|(i, (pa, pb))| write(i, init_chunk(pa, init_a), init_chunk(pb, init_b)));
    // SAFETY: as in `par_build`, for both buffers; the equal chunk counts mean
    // the zip above visited every chunk of each.
    unsafe {
        a.set_len(len_a);
        b.set_len(len_b);
    }
    (a, b)
}

/// Writes `init` into every slot of `part` and returns it as initialised.
pub(crate) fn init_chunk<T: Copy>(part: &mut [MaybeUninit<T>], init: T) -> &mut [T] {
    for slot in part.iter_mut() {
        slot.write(init);
    }
    // SAFETY: every element was just written; `MaybeUninit<T>` has the same
    // layout as `T`, and the returned borrow keeps `part` exclusively borrowed.
    unsafe { &mut *(part as *mut [MaybeUninit<T>] as *mut [T]) }
}

#[cfg(test)]
mod tests {
    use super::{init_chunk, par_build, par_build_pair, par_build_with};
    use proptest::prelude::*;

    proptest! {
        /// Every element comes from the chunk's `write`, or `init` where it wrote nothing.
        #[test]
        fn matches_sequential_fill(len in 0usize..5000, chunk in 0usize..700) {
            let v = par_build(len, chunk, -1i64, |i, part| {
                for (j, x) in part.iter_mut().enumerate().step_by(2) {
                    *x = (i * 1_000_000 + j) as i64;
                }
            });
            let step = if chunk == 0 { len.max(1) } else { chunk };
            let expected: Vec<i64> = (0..len)
                .map(|k| if (k % step) % 2 == 0 { ((k / step) * 1_000_000 + k % step) as i64 } else { -1 })
                .collect();
            prop_assert_eq!(v, expected);
        }

        /// The writer's chunks, in order.
        #[test]
        fn with_writer_covers_every_chunk(len in 0usize..3000, chunk in 0usize..400) {
            let v = par_build_with(len, chunk, |i, part| {
                let part = init_chunk(part, 0u64);
                for (j, x) in part.iter_mut().enumerate() {
                    *x = (i * 10_000 + j) as u64;
                }
                part
            });
            let step = if chunk == 0 { len.max(1) } else { chunk };
            prop_assert_eq!(v, (0..len).map(|k| ((k / step) * 10_000 + k % step) as u64).collect::<Vec<_>>());
        }

        /// Both buffers are covered, chunk by matching chunk.
        #[test]
        fn pair_covers_both(chunks in 0usize..40, ca in 1usize..50, cb in 1usize..50) {
            let (a, b) = par_build_pair((chunks * ca, ca, 0u32), (chunks * cb, cb, 0u8), |i, pa, pb| {
                pa.fill(i as u32 + 1);
                pb.fill(i as u8 + 1);
            });
            prop_assert_eq!(a.len(), chunks * ca);
            prop_assert!(a.iter().enumerate().all(|(k, &v)| v == (k / ca) as u32 + 1));
            prop_assert!(b.iter().enumerate().all(|(k, &v)| v == (k / cb) as u8 + 1));
        }
    }
}
