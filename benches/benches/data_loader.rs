//! Data loader throughput on CIFAR-sized images (32x32x3, f32 NHWC): one epoch of 10,000
//! images in batches of 128, shuffled, with and without the standard flip + crop augmentation
//! (random horizontal flip, pad 4 + random 32x32 crop with reflect padding).
//!
//! Every benchmark declares `Throughput::Elements(images)`, so `cargo xtask bench` reports
//! images/s.
//!
//! * `data_loader/epoch_shuffle/b128`: gather only (background thread + rayon copy).
//! * `data_loader/epoch_flip_crop/b128`: gather + flip + crop, prefetch 2 (the default).
//! * `data_loader/epoch_flip_crop_on_demand/b128`: the same with `prefetch(0)` (no background
//!   thread: assembly on the calling thread).
//! * `data_loader/epoch_flip_crop/b32`: smaller batches.
//! * `augment/flip_crop_batch/b128`: `Pipeline::apply_batch` alone on one batch.
//!
//! Run: `cargo bench -p neurite-benches --bench data_loader`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, Array4};
use neurite_data::augment::{Augment, Fill, Pipeline, RandomCrop, RandomFlip};
use neurite_data::{DataLoader, Dataset};
use neurite_rand::Generator;
use rand::Rng;

const N: usize = 10_000;

fn dataset() -> Arc<Dataset> {
    let mut rng = Generator::seed_from_u64(0);
    let x = Array4::from_shape_simple_fn((N, 32, 32, 3), || rng.random_range(0.0f32..1.0));
    let y = Array1::from_iter((0..N).map(|i| (i % 10) as f32));
    Arc::new(Dataset::new(x, y).expect("same length"))
}

fn flip_crop() -> Pipeline {
    Pipeline::new()
        .then(RandomFlip::horizontal())
        .then(RandomCrop::new(4).fill(Fill::Reflect))
}

/// Consumes an epoch, touching every batch as a training step would read it.
fn run_epoch(loader: &DataLoader, epoch: u64) -> f32 {
    let mut acc = 0.0;
    for b in loader.epoch(epoch) {
        acc += b.x.as_slice().expect("contiguous")[0];
        black_box(&b);
    }
    acc
}

fn bench_loader(c: &mut Criterion) {
    let ds = dataset();
    let mut g = c.benchmark_group("data_loader");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(N as u64));

    let plain = DataLoader::new(ds.clone(), 128).unwrap().shuffle(true).seed(1);
    let mut epoch = 0u64;
    g.bench_function(BenchmarkId::new("epoch_shuffle", "b128"), |b| {
        b.iter(|| {
            epoch += 1;
            run_epoch(&plain, epoch)
        })
    });

    for bs in [128usize, 32] {
        let aug = DataLoader::new(ds.clone(), bs)
            .unwrap()
            .shuffle(true)
            .seed(1)
            .augment(flip_crop())
            .unwrap();
        g.bench_function(BenchmarkId::new("epoch_flip_crop", format!("b{bs}")), |b| {
            b.iter(|| {
                epoch += 1;
                run_epoch(&aug, epoch)
            })
        });
    }

    let on_demand = DataLoader::new(ds.clone(), 128)
        .unwrap()
        .shuffle(true)
        .seed(1)
        .prefetch(0)
        .augment(flip_crop())
        .unwrap();
    g.bench_function(BenchmarkId::new("epoch_flip_crop_on_demand", "b128"), |b| {
        b.iter(|| {
            epoch += 1;
            run_epoch(&on_demand, epoch)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("augment");
    g.sample_size(20).throughput(Throughput::Elements(128));
    let pipe = flip_crop();
    let src = ds.x4().unwrap().slice(ndarray::s![..128, .., .., ..]).to_owned();
    let mut seed = 0u64;
    g.bench_function(BenchmarkId::new("flip_crop_batch", "b128"), |b| {
        b.iter_batched_ref(
            || src.clone(),
            |batch| {
                seed += 1;
                pipe.apply_batch(batch, seed)
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_loader);
criterion_main!(benches);
