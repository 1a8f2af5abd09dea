//! Gathering rows (samples along axis 0) of an array: what every batch of a
//! shuffled epoch does.

use ndarray::{ArrayD, Axis, IxDyn};

/// How many rows ahead [`gather_rows`] asks the memory for.
const PREFETCH_AHEAD: usize = 8;

/// Rows `indices` of `a` along axis 0, as a new standard-layout array
/// (indices may repeat and come in any order; each must be `< a.shape()[0]`,
/// as for ndarray's `select`, which panics otherwise).
///
/// Rows of a contiguous `a` are copied as slices, with the rows
/// 8 indices further already requested from memory: a
/// shuffled batch reads rows scattered over the whole set, and a set larger
/// than the caches makes each row a cache miss that a plain copy would wait
/// for one after another (ndarray's element-wise `select` spent 40% of the
/// `mlp-train` benchmark's step there). Other layouts go through `select`.
///
/// ```
/// let a = ndarray::Array2::from_shape_vec((3, 2), vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0])?.into_dyn();
/// let b = neurite_data::gather_rows(&a, &[2, 0, 2]);
/// assert_eq!(b.shape(), &[3, 2]);
/// assert_eq!(b.as_slice().unwrap(), &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
/// # Ok::<(), ndarray::ShapeError>(())
/// ```
pub fn gather_rows(a: &ArrayD<f32>, indices: &[usize]) -> ArrayD<f32> {
    let Some(src) = a.as_slice() else {
        return a.select(Axis(0), indices);
    };
    let row: usize = a.shape()[1..].iter().product();
    let mut out = Vec::with_capacity(indices.len() * row);
    for (k, &i) in indices.iter().enumerate() {
        if let Some(&ahead) = indices.get(k + PREFETCH_AHEAD) {
            prefetch(src.get(ahead * row..(ahead + 1) * row).unwrap_or(&[]));
        }
        out.extend_from_slice(&src[i * row..(i + 1) * row]);
    }
    let mut shape = a.shape().to_vec();
    shape[0] = indices.len();
    ArrayD::from_shape_vec(IxDyn(&shape), out).expect("rows times the row shape")
}

/// Asks the CPU to bring every cache line of `row` towards L1 (a hint: no
/// effect on results; nothing on other architectures).
#[inline(always)]
fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for at in (0..row.len()).step_by(16).chain(row.len().checked_sub(1)) {
        // SAFETY: prefetching never faults and reads nothing; the pointer is in `row`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(row[at..].as_ptr().cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The slice-copying gather equals ndarray's `select` for any shape,
        /// any indices (repeated, any order) and layouts that are not contiguous.
        #[test]
        fn gather_rows_equals_select(
            shape in proptest::collection::vec(1usize..6, 1..4),
            picks in proptest::collection::vec(0usize..1000, 0..40),
            transposed: bool,
        ) {
            let len: usize = shape.iter().product();
            let a = ArrayD::from_shape_vec(IxDyn(&shape), (0..len).map(|v| v as f32 * 0.5 - 3.0).collect()).unwrap();
            let a = if transposed { a.reversed_axes() } else { a };
            let n = a.len_of(Axis(0));
            let indices: Vec<usize> = picks.iter().map(|p| p % n).collect();
            let (got, want) = (gather_rows(&a, &indices), a.select(Axis(0), &indices));
            prop_assert_eq!(got.shape(), want.shape());
            prop_assert_eq!(got, want);
        }
    }
}
