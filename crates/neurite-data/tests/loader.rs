//! The loader: each sample once per epoch for any batch size, determinism under the seed, no
//! dependence on prefetch depth or thread timing.

use std::sync::Arc;

use ndarray::{Array1, Array2, Array4, ArrayViewMut3, Axis};
use neurite_data::augment::{Pipeline, RandomCrop, RandomFlip};
use neurite_data::{Augment, DataLoader, Dataset};
use neurite_rand::Generator;
use proptest::prelude::*;

/// Sample i's pixels all equal i (so a batch row says which sample it is).
fn images(n: usize) -> Dataset {
    let x = Array4::from_shape_fn((n, 4, 4, 3), |(i, _, _, _)| i as f32);
    let y = Array1::from_iter((0..n).map(|i| (i % 10) as f32));
    Dataset::new(x, y).unwrap()
}

fn collect(loader: &DataLoader, epoch: u64) -> Vec<neurite_data::Batch> {
    loader.epoch(epoch).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn each_sample_once_per_epoch(
        n in 1usize..120,
        bs in 1usize..40,
        shuffle in any::<bool>(),
        seed in any::<u64>(),
        prefetch in 0usize..4,
        epoch in 0u64..5,
    ) {
        let loader = DataLoader::new(images(n), bs).unwrap().shuffle(shuffle).seed(seed).prefetch(prefetch);
        let batches = collect(&loader, epoch);
        prop_assert_eq!(batches.len(), n.div_ceil(bs));
        prop_assert_eq!(loader.len(), batches.len());
        let mut seen = vec![0usize; n];
        for (k, b) in batches.iter().enumerate() {
            let want = if k + 1 < batches.len() { bs } else { n - bs * (batches.len() - 1) };
            prop_assert_eq!(b.len(), want);
            prop_assert_eq!(b.x.shape(), &[want, 4, 4, 3][..]);
            prop_assert!(b.x.is_standard_layout());
            for (row, &i) in b.indices.iter().enumerate() {
                seen[i] += 1;
                prop_assert!(b.x.index_axis(Axis(0), row).iter().all(|&v| v == i as f32));
                prop_assert_eq!(b.y[[row]], (i % 10) as f32);
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1), "counts {:?}", seen);
    }

    #[test]
    fn drop_last_keeps_only_full_batches(n in 1usize..100, bs in 1usize..30, seed in any::<u64>()) {
        let loader = DataLoader::new(images(n), bs).unwrap().shuffle(true).seed(seed).drop_last(true);
        let batches = collect(&loader, 0);
        prop_assert_eq!(batches.len(), n / bs);
        let mut seen = vec![0usize; n];
        for b in &batches {
            prop_assert_eq!(b.len(), bs);
            for &i in &b.indices { seen[i] += 1; }
        }
        prop_assert!(seen.iter().all(|&c| c <= 1));
        prop_assert_eq!(seen.iter().sum::<usize>(), (n / bs) * bs);
    }

    /// The augmentation of a sample depends on (seed, epoch, sample) only, not on the batch
    /// size, the prefetch depth or the order.
    #[test]
    fn augmentation_is_independent_of_batching(bs1 in 1usize..20, bs2 in 1usize..20, seed in any::<u64>()) {
        let n = 23;
        let x = Array4::from_shape_fn((n, 6, 5, 2), |(i, y, x, c)| (i * 100 + y * 10 + x + c) as f32);
        let ds = Arc::new(Dataset::new(x, Array1::<f32>::zeros(n)).unwrap());
        let pipe = || Pipeline::new().then(RandomFlip::both()).then(RandomCrop::new(2));
        let a = DataLoader::new(ds.clone(), bs1).unwrap().shuffle(true).seed(seed).augment(pipe()).unwrap();
        let b = DataLoader::new(ds, bs2).unwrap().seed(seed).prefetch(0).augment(pipe()).unwrap();
        let per_sample = |l: &DataLoader| {
            let mut out = vec![None; n];
            for batch in l.epoch(3) {
                for (row, &i) in batch.indices.iter().enumerate() {
                    out[i] = Some(batch.x.index_axis(Axis(0), row).to_owned());
                }
            }
            out
        };
        prop_assert_eq!(per_sample(&a), per_sample(&b));
    }
}

#[test]
fn same_seed_same_batches_different_epoch_different_order() {
    let ds = Arc::new(images(100));
    let pipe = || {
        Pipeline::new()
            .then(RandomFlip::horizontal())
            .then(RandomCrop::new(1))
    };
    let mk = |seed| {
        DataLoader::new(ds.clone(), 16)
            .unwrap()
            .shuffle(true)
            .seed(seed)
            .augment(pipe())
            .unwrap()
    };
    let a = collect(&mk(5), 0);
    let b = collect(&mk(5), 0);
    assert_eq!(a, b);
    let c = collect(&mk(5), 1);
    assert_ne!(a[0].indices, c[0].indices);
    let d = collect(&mk(6), 0);
    assert_ne!(a[0].indices, d[0].indices);
    // Random access gives the same batch.
    assert_eq!(mk(5).batch(0, 2).unwrap(), a[2]);
    assert!(mk(5).batch(0, 7).is_none());
}

#[test]
fn unshuffled_order_is_sequential() {
    let l = DataLoader::new(images(10), 4).unwrap();
    let idx: Vec<Vec<usize>> = l.epoch(0).map(|b| b.indices).collect();
    assert_eq!(idx, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    assert_eq!(l.epoch(0).len(), 3);
}

#[test]
fn tabular_data_and_one_hot_targets() {
    let x = Array2::from_shape_fn((7, 3), |(i, j)| (i * 3 + j) as f32);
    let y = Array2::from_shape_fn((7, 2), |(i, j)| (i + j) as f32);
    let l = DataLoader::new(Dataset::new(x, y).unwrap(), 3).unwrap();
    let b: Vec<_> = l.epoch(0).collect();
    assert_eq!(b[2].x.shape(), &[1, 3]);
    assert_eq!(b[2].y.shape(), &[1, 2]);
    assert_eq!(b[1].x[[0, 0]], 9.0);
    assert_eq!(b[1].y[[2, 1]], 6.0);
    // Augmentation needs images.
    let x = Array2::<f32>::zeros((2, 3));
    let d = Dataset::new(x, Array1::<f32>::zeros(2)).unwrap();
    assert!(DataLoader::new(d, 1)
        .unwrap()
        .augment(RandomFlip::horizontal())
        .is_err());
}

#[test]
fn bad_arguments() {
    assert!(DataLoader::new(images(3), 0).is_err());
    let mut d = images(3);
    d.y = ndarray::ArrayD::zeros(ndarray::IxDyn(&[4]));
    assert!(DataLoader::new(d, 1).is_err());
}

#[test]
fn non_contiguous_dataset_is_handled() {
    let x = Array4::from_shape_fn((5, 3, 3, 1), |(i, _, _, _)| i as f32);
    let mut d = Dataset::new(x, Array1::from_iter((0..5).map(|i| i as f32))).unwrap();
    d.x.swap_axes(1, 2);
    let l = DataLoader::new(d, 2).unwrap();
    let b: Vec<_> = l.epoch(0).collect();
    assert_eq!(b[2].x.index_axis(Axis(0), 0).sum(), 36.0);
}

#[test]
fn dropping_the_iterator_early_stops_the_worker() {
    let l = DataLoader::new(images(1000), 1).unwrap().prefetch(1);
    let mut it = l.epoch(0);
    assert!(it.next().is_some());
    drop(it); // must not hang
}

struct Boom;
impl Augment for Boom {
    fn apply(&self, image: ArrayViewMut3<'_, f32>, _rng: &mut Generator) {
        if image[[0, 0, 0]] == 7.0 {
            panic!("boom at sample 7");
        }
    }
}

#[test]
fn a_panicking_augmentation_is_not_a_silent_short_epoch() {
    let l = DataLoader::new(images(20), 4).unwrap().augment(Boom).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.epoch(0).count()));
    assert!(r.is_err(), "the epoch must not end quietly after a worker panic");
}
