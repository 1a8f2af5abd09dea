//! [`ShuffleBuffer`]: a seeded, bounded-memory shuffle of a stream that cannot be indexed.

use neurite_rand::Generator;
use rand::Rng;

/// Mixes the items of `inner` within a window of `capacity` items, as `tf.data`'s
/// `shuffle(buffer_size)`: the buffer is filled with the first `capacity` items, then each
/// output is a uniformly chosen buffered item, whose place the next input item takes. Holds
/// at most `capacity` items; the output is a permutation of the input; the same seed gives the
/// same order. A capacity of 0 or 1 keeps the input order. An item can move earlier by at
/// most `capacity - 1` places, so a buffer at least as large as the stream shuffles it fully.
///
/// ```
/// use neurite_data::stream::ShuffleBuffer;
/// let a: Vec<u32> = ShuffleBuffer::new(0..10u32, 4, 1).collect();
/// let b: Vec<u32> = ShuffleBuffer::new(0..10u32, 4, 1).collect();
/// assert_eq!(a, b);
/// assert_ne!(a, (0..10).collect::<Vec<_>>());
/// assert_eq!(ShuffleBuffer::new(0..5u32, 1, 1).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
/// ```
pub struct ShuffleBuffer<I: Iterator> {
    inner: I,
    buffer: Vec<I::Item>,
    capacity: usize,
    rng: Generator,
    exhausted: bool,
}

impl<I: Iterator> ShuffleBuffer<I> {
    /// Shuffles `inner` within `capacity` items, with the generator seeded by `seed`.
    pub fn new(inner: I, capacity: usize, seed: u64) -> Self {
        Self::with_rng(inner, capacity, Generator::seed_from_u64(seed))
    }

    /// As [`ShuffleBuffer::new`], drawing from `rng`.
    ///
    /// ```
    /// use neurite_data::{stream::ShuffleBuffer, Generator};
    /// let out: Vec<u8> = ShuffleBuffer::with_rng(0..3u8, 8, Generator::seed_from_u64(2)).collect();
    /// assert_eq!(out.len(), 3);
    /// ```
    pub fn with_rng(inner: I, capacity: usize, rng: Generator) -> Self {
        let capacity = capacity.max(1);
        ShuffleBuffer {
            inner,
            // Allocated as items arrive: a huge capacity on a short stream costs nothing.
            buffer: Vec::new(),
            capacity,
            rng,
            exhausted: false,
        }
    }

    /// How many items the buffer holds at most.
    ///
    /// ```
    /// assert_eq!(neurite_data::stream::ShuffleBuffer::new(0..3, 0, 0).capacity(), 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<I: Iterator> Iterator for ShuffleBuffer<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        while !self.exhausted && self.buffer.len() < self.capacity {
            match self.inner.next() {
                Some(item) => self.buffer.push(item),
                None => self.exhausted = true,
            }
        }
        if self.buffer.is_empty() {
            return None;
        }
        let pick = if self.capacity == 1 {
            0
        } else {
            self.rng.random_range(0..self.buffer.len())
        };
        Some(self.buffer.swap_remove(pick))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.inner.size_hint();
        let held = self.buffer.len();
        (lo.saturating_add(held), hi.and_then(|h| h.checked_add(held)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn output_is_a_permutation_and_deterministic(n in 0usize..300, cap in 0usize..64, seed in any::<u64>()) {
            let a: Vec<usize> = ShuffleBuffer::new(0..n, cap, seed).collect();
            let b: Vec<usize> = ShuffleBuffer::new(0..n, cap, seed).collect();
            prop_assert_eq!(&a, &b);
            let mut sorted = a.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
            // No item comes out more than capacity - 1 places before its input position.
            let cap = cap.max(1);
            for (pos, &item) in a.iter().enumerate() {
                prop_assert!(item < pos + cap, "item {} out at {} with capacity {}", item, pos, cap);
            }
        }

        #[test]
        fn a_buffer_as_large_as_the_stream_moves_items(n in 20usize..100, seed in any::<u64>()) {
            let a: Vec<usize> = ShuffleBuffer::new(0..n, n, seed).collect();
            prop_assert_ne!(a, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn different_seeds_give_different_orders() {
        let a: Vec<u32> = ShuffleBuffer::new(0..64u32, 16, 1).collect();
        let b: Vec<u32> = ShuffleBuffer::new(0..64u32, 16, 2).collect();
        assert_ne!(a, b);
    }
}
