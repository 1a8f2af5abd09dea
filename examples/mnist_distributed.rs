//! The Keras MNIST CNN trained data-parallel on MPI: the same program runs
//! on every process, and `fit` splits each global batch among them
//! (`neurite::distributed`; build with `--features mpi`).
//!
//! ```text
//! cargo build --release --features mpi --example mnist_distributed
//! mpirun -np 2 target/release/examples/mnist_distributed --data data/mnist --epochs 1
//! # as one process (also without the `mpi` feature):
//! target/release/examples/mnist_distributed --data data/mnist --epochs 1
//! ```
//! `--batch-size` is the global batch (default 128), split among the ranks;
//! `--limit N` trains on the first N training images; `--federated-every K`
//! trains with federated averaging instead: each rank keeps its own slice of
//! the training images and the weights are averaged every K local steps.
//! `--bucket-kib K` sets the gradient buckets' size (default 25 MiB: this
//! CNN's 373 KB of gradients travel in one all-reduce after the backward
//! pass; smaller buckets start during it).
//! `--bench-allreduce R` first times all-reduces of 1e3..4e6 f32 (R runs each).
//! Only rank 0 prints; its JSON line adds `world_size`, `steps`,
//! `communication_ms_per_step`, `reduced_values_per_step` and
//! `buckets_sent_during_backward_per_step`. One thread per
//! process: `RAYON_NUM_THREADS=1` (with OpenMPI: `mpirun -x RAYON_NUM_THREADS=1`).

mod common;

use common::{data_dir, finish, timed_fit, Args, MNIST_HOW_TO_GET};
use neurite::distributed::{self, Strategy};
use neurite::prelude::*;

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "mnist_distributed",
        &[
            ("data", "DIR"),
            ("epochs", "N"),
            ("batch-size", "N"),
            ("limit", "N"),
            ("seed", "N"),
            ("federated-every", "K"),
            ("bench-allreduce", "REPEATS"),
            ("bucket-kib", "K"),
        ],
    );
    let epochs: usize = args.number("epochs", 1);
    let batch_size: usize = args.number("batch-size", 128);
    let limit: usize = args.number("limit", usize::MAX);
    let seed: u64 = args.number("seed", 0);
    let federated_every: usize = args.number("federated-every", 0);
    let bench_repeats: usize = args.number("bench-allreduce", 0);
    let bucket_kib: usize = args.number("bucket-kib", distributed::gradient_bucket_bytes() >> 10);
    distributed::set_gradient_bucket_bytes(bucket_kib << 10)?;

    let world = distributed::world()?;
    if !cfg!(feature = "mpi") && world.size() == 1 {
        if let Some(n) = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|n| n != "1"))
        {
            eprintln!(
                "mnist_distributed: started as one of {n} MPI processes, but built without the `mpi` feature: \
                 each process trains alone (rebuild with --features mpi)"
            );
        }
    }
    let dir = data_dir(
        "mnist_distributed",
        &args.string("data", "data/mnist"),
        &[
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
        ],
        MNIST_HOW_TO_GET,
    );
    let (mut train, test) = neurite::data::mnist::load(&dir)?;
    if limit < train.len() {
        train = train.subset(&(0..limit).collect::<Vec<_>>())?;
    }
    let global_samples = train.len();
    if federated_every > 0 {
        // Federated averaging: each rank's private slice of the training set.
        distributed::set_strategy(Strategy::FederatedAveraging {
            every: federated_every,
        })?;
        let mine = distributed::shard_range(train.len(), world.rank(), world.size());
        train = train.subset(&mine.collect::<Vec<_>>())?;
    }
    if world.is_root() {
        println!(
            "MNIST: {} training and {} test images, {} process(es), global batch {}",
            global_samples,
            test.len(),
            world.size(),
            batch_size
        );
    }

    // All-reduce timings (every rank takes part): latency and bandwidth for docs/distributed.md.
    let mut allreduce_ms = serde_json::Map::new();
    if bench_repeats > 0 {
        for values in [1_000usize, 10_000, 100_000, 1_000_000, 4_000_000] {
            let secs = distributed::time_all_reduce(values, bench_repeats)?;
            if world.is_root() {
                println!(
                    "all-reduce of {values} f32: {:.3} ms ({:.0} MB/s of data reduced)",
                    secs * 1e3,
                    values as f64 * 4.0 / secs.max(1e-12) / 1e6
                );
            }
            allreduce_ms.insert(values.to_string(), common::round_to(secs * 1e3, 4).into());
        }
    }

    let mut model = common::mnist_cnn(seed, DtypePolicy::default())?;
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(batch_size)
        .verbose(if world.is_root() { 2 } else { 0 });
    let (history, seconds) = timed_fit(&mut model, &train.x, &train.y, options)?;
    let stats = distributed::last_fit_stats();
    let scores = model.evaluate(&test.x, &test.y)?;
    if world.is_root() {
        let steps = stats.steps.max(1) as f64;
        println!(
            "{} steps, communication {:.2} ms per step, {:.0} values all-reduced per step, {:.1} gradient \
             buckets per step sent during the backward pass",
            stats.steps,
            stats.communication_per_step() * 1e3,
            stats.reduced_values as f64 / steps,
            stats.buckets_sent_during_backward as f64 / steps
        );
        let extra = serde_json::json!({
            "seed": seed,
            "world_size": world.size(),
            "global_batch": batch_size,
            "federated_every": federated_every,
            "steps": stats.steps,
            "communication_ms_per_step": common::round_to(stats.communication_per_step() * 1e3, 3),
            "reduced_values_per_step": (stats.reduced_values as f64 / steps).round(),
            "bucket_kib": bucket_kib,
            "buckets_sent_during_backward_per_step": common::round_to(stats.buckets_sent_during_backward as f64 / steps, 2),
            "allreduce_ms": allreduce_ms,
        });
        finish(
            "mnist_distributed",
            &history,
            seconds,
            global_samples,
            &scores,
            extra,
        );
    }
    Ok(())
}
