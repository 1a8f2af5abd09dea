//! Which rows of a global batch each rank trains on, and the weight of its
//! gradient in the global mean.

use std::ops::Range;

/// The rows of a batch of `rows` samples that rank `rank` of `size` takes: a
/// contiguous block, the first `rows % size` ranks one row more than the
/// others. The blocks of ranks `0..size` cover `0..rows` in order, without
/// overlap, so the ranks together see exactly the global batch.
///
/// ```
/// use neurite::distributed::shard_range;
/// assert_eq!(shard_range(10, 0, 3), 0..4);
/// assert_eq!(shard_range(10, 1, 3), 4..7);
/// assert_eq!(shard_range(10, 2, 3), 7..10);
/// // A short last batch: a rank may get no row.
/// assert_eq!(shard_range(2, 2, 3), 2..2);
/// ```
pub fn shard_range(rows: usize, rank: usize, size: usize) -> Range<usize> {
    assert!(
        size > 0 && rank < size,
        "shard_range: rank {rank} of a world of {size}"
    );
    let (base, extra) = (rows / size, rows % size);
    let start = rank * base + rank.min(extra);
    let len = base + usize::from(rank < extra);
    start..start + len
}

/// The factor a rank's mean gradient over `local` rows is multiplied by so
/// that the sum over ranks is the mean over the `global` rows of the batch:
/// `local / global` (0 for a rank with no row).
///
/// ```
/// assert_eq!(neurite::distributed::gradient_scale(3, 12), 0.25);
/// ```
pub fn gradient_scale(local: usize, global: usize) -> f32 {
    if global == 0 {
        0.0
    } else {
        (local as f64 / global as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn shards_partition_the_batch_in_order(rows in 0usize..500, size in 1usize..70) {
            let mut next = 0;
            let mut lens = Vec::new();
            for rank in 0..size {
                let r = shard_range(rows, rank, size);
                prop_assert_eq!(r.start, next);
                next = r.end;
                lens.push(r.len());
            }
            prop_assert_eq!(next, rows);
            let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "unbalanced shards {:?}", lens);
            let total: f64 = lens.iter().map(|&l| gradient_scale(l, rows) as f64).sum();
            if rows > 0 {
                prop_assert!((total - 1.0).abs() < 1e-6);
            }
        }
    }
}
