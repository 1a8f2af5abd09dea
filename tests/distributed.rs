//! Data-parallel training without MPI: ranks simulated by threads of one
//! process (`neurite::distributed::simulate`) run the same code as MPI
//! ranks; and the gradient arithmetic checked against the full batch.

mod distributed_models;

use distributed_models::{
    bits, bn_dropout_adam, data, dense_adam, flat, masked_sequence_model, padded_sequences,
    relative_difference,
};
use neurite::callbacks::{CsvLogger, ModelCheckpoint};
use neurite::distributed::{gradient_scale, shard_range, simulate, Strategy};
use neurite::prelude::*;

/// Shards of a batch taken by 3 simulated ranks (one step each, in one
/// process): their mean gradients, weighted by `rows / global rows` and
/// summed, equal the full batch's mean gradient. Gradients are read off one
/// SGD step with learning rate 1 (w0 - w1), from the same initial weights.
#[test]
fn summed_shard_gradients_equal_the_full_batch_gradient() {
    let (x, y) = data(10); // 3 ranks: shards of 4, 3 and 3 rows
    let gradient = |rows: std::ops::Range<usize>| -> Vec<f64> {
        let mut model = dense_adam(5);
        model
            .compile(
                Sgd::new(1.0),
                Loss::SparseCategoricalCrossentropy { from_logits: false },
                &[],
            )
            .unwrap();
        let xs = x.slice_axis(ndarray::Axis(0), rows.clone().into()).to_owned();
        let ys = y.slice_axis(ndarray::Axis(0), rows.into()).to_owned();
        model.build(&[4]).unwrap();
        let before = flat(&model);
        model.train_on_batch(xs, &ys).unwrap();
        before
            .iter()
            .zip(flat(&model))
            .map(|(&b, a)| b as f64 - a as f64)
            .collect()
    };
    let full = gradient(0..10);
    let mut summed = vec![0.0f64; full.len()];
    for rank in 0..3 {
        let shard = shard_range(10, rank, 3);
        let scale = gradient_scale(shard.len(), 10) as f64;
        for (s, g) in summed.iter_mut().zip(gradient(shard)) {
            *s += scale * g;
        }
    }
    let scale = full.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(scale > 1e-3, "the gradient is too small to compare ({scale})");
    for (s, f) in summed.iter().zip(&full) {
        assert!((s - f).abs() <= 1e-5 * scale, "summed {s} vs full-batch {f}");
    }
}

/// 2 and 3 simulated ranks (3: uneven shards, and a last batch of 7 rows)
/// train as one process at the same global batch: same weights within 1e-5
/// relative, same logs, ranks bit-identical.
#[test]
fn data_parallel_fit_equals_single_process_fit() {
    let (x, y) = data(47);
    let options = || FitOptions::new().epochs(3).batch_size(10).verbose(0);
    let mut single = dense_adam(7);
    let single_history = single.fit(&x, &y, options()).unwrap();
    let reference = flat(&single);
    for ranks in [2, 3] {
        let results = simulate(ranks, |_| {
            let mut model = dense_adam(7);
            let history = model.fit(&x, &y, options()).unwrap();
            (flat(&model), history)
        });
        for (rank, (w, h)) in results.iter().enumerate() {
            assert_eq!(
                bits(w),
                bits(&results[0].0),
                "{ranks} ranks: rank {rank} differs from rank 0"
            );
            let d = relative_difference(w, &reference);
            assert!(
                d <= 1e-5,
                "{ranks} ranks: weights differ from single-process training by {d:e}"
            );
            for key in ["loss", "accuracy"] {
                let (a, b) = (h.get(key).unwrap(), single_history.get(key).unwrap());
                for (u, v) in a.iter().zip(b) {
                    assert!(
                        (u - v).abs() <= 1e-5 * v.abs().max(1.0),
                        "{ranks} ranks: {key} {u} vs {v}"
                    );
                }
            }
        }
        // Gradient buckets of 16 values, sent as the backward pass completes them: the same training.
        let small_buckets = simulate(ranks, |_| {
            neurite::distributed::set_gradient_bucket_bytes(64).unwrap();
            let mut model = dense_adam(7);
            model.fit(&x, &y, options()).unwrap();
            (flat(&model), neurite::distributed::last_fit_stats())
        });
        for (w, stats) in &small_buckets {
            assert_eq!(bits(w), bits(&results[0].0), "{ranks} ranks, small buckets");
            assert!(
                stats.buckets_sent_during_backward >= stats.steps,
                "{ranks} ranks: {stats:?}: no bucket was sent during the backward pass"
            );
        }
        let stats_steps = simulate(ranks, |_| {
            let mut model = dense_adam(7);
            model
                .fit(&x, &y, FitOptions::new().epochs(1).batch_size(10).verbose(0))
                .unwrap();
            neurite::distributed::last_fit_stats()
        });
        assert_eq!(
            stats_steps[0].steps, 5,
            "47 samples in batches of 10: 5 all-reduces"
        );
        assert_eq!(stats_steps[0].world_size, ranks);
    }
}

/// Adam + Dropout + BatchNormalization on 3 ranks: the ranks stay
/// bit-identical (moving statistics averaged), training makes progress, and
/// the averaged moving statistics differ from any rank's own.
#[test]
fn dropout_and_batch_norm_ranks_stay_identical() {
    let (x, y) = data(60);
    let results = simulate(3, |_| {
        let mut model = bn_dropout_adam(3);
        let h = model
            .fit(&x, &y, FitOptions::new().epochs(4).batch_size(12).verbose(0))
            .unwrap();
        (flat(&model), h.get("loss").unwrap().to_vec())
    });
    for (w, _) in &results {
        assert_eq!(bits(w), bits(&results[0].0));
        assert!(w.iter().all(|v| v.is_finite()));
    }
    let loss = &results[0].1;
    assert!(loss[3] < loss[0], "no progress: {loss:?}");
}

/// Only rank 0 writes the CSV log and the checkpoint; a run resumed from
/// the checkpoint — loaded by rank 0 only: the others get its weights and
/// optimizer state by broadcast — ends where an uninterrupted run ends.
#[test]
fn checkpoint_written_once_and_resumed() {
    let (x, y) = data(40);
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let csv = dir.path().join("log.csv");
    fn options<'a>() -> FitOptions<'a> {
        FitOptions::new().batch_size(8).verbose(0)
    }
    let straight = simulate(2, |_| {
        let mut model = dense_adam(11);
        model.fit(&x, &y, options().epochs(4)).unwrap();
        flat(&model)
    });
    simulate(2, |_| {
        let mut model = dense_adam(11);
        let mut save = ModelCheckpoint::new(ckpt.to_string_lossy());
        let mut log = CsvLogger::new(&csv);
        model
            .fit(&x, &y, options().epochs(2).callback(&mut save).callback(&mut log))
            .unwrap();
    });
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "one header and two epochs, written once:\n{text}"
    );
    let resumed = simulate(2, |world| {
        let mut model = if world.is_root() {
            Sequential::load(&ckpt).unwrap()
        } else {
            dense_adam(99) // other initial weights, no optimizer state: replaced by rank 0's
        };
        model.fit(&x, &y, options().epochs(4).initial_epoch(2)).unwrap();
        flat(&model)
    });
    assert_eq!(bits(&resumed[0]), bits(&resumed[1]));
    let d = relative_difference(&resumed[0], &straight[0]);
    assert!(
        d <= 1e-6,
        "resumed run differs from the uninterrupted one by {d:e}"
    );
}

/// A rank that fails before training (here: targets of the wrong length)
/// makes every rank return an error, instead of leaving them waiting.
#[test]
fn a_failure_before_training_is_an_error_on_every_rank() {
    let (x, y) = data(20);
    let short = y.slice_axis(ndarray::Axis(0), (0..19).into()).to_owned();
    let errors = simulate(2, |world| {
        let mut model = dense_adam(1);
        let y = if world.rank() == 1 { &short } else { &y };
        model
            .fit(&x, y, FitOptions::new().verbose(0))
            .unwrap_err()
            .to_string()
    });
    assert!(errors[0].contains("another rank failed"), "{}", errors[0]);
    assert!(errors[1].contains("19"), "{}", errors[1]);
}

/// Ranks given different data, or a batch smaller than the world, are
/// refused alike on every rank.
#[test]
fn ranks_must_agree_on_the_data() {
    let (x, y) = data(20);
    let (x2, y2) = data(21);
    let errors = simulate(2, |world| {
        let mut model = dense_adam(1);
        let (x, y) = if world.rank() == 1 { (&x2, &y2) } else { (&x, &y) };
        model
            .fit(x, y, FitOptions::new().verbose(0))
            .unwrap_err()
            .to_string()
    });
    for e in &errors {
        assert!(e.contains("[20, 21]"), "{e}");
    }
    let errors = simulate(3, |_| {
        let mut model = dense_adam(1);
        model
            .fit(&x, &y, FitOptions::new().batch_size(2).verbose(0))
            .unwrap_err()
            .to_string()
    });
    assert!(errors.iter().all(|e| e.contains("batch_size 2")), "{errors:?}");
}

/// Federated averaging: each rank trains on its own private data; the
/// weights are averaged every 2 local steps and at each epoch's end, so the
/// ranks end identical, and with averaging after every step of plain SGD the
/// result is the mean of the ranks' own steps.
#[test]
fn federated_averaging_keeps_private_shards_and_ends_identical() {
    let (x, y) = data(64);
    let results = simulate(2, |world| {
        neurite::distributed::set_strategy(Strategy::FederatedAveraging { every: 2 }).unwrap();
        let rows = 32 * world.rank()..32 * (world.rank() + 1);
        let xs = x.slice_axis(ndarray::Axis(0), rows.clone().into()).to_owned();
        let ys = y.slice_axis(ndarray::Axis(0), rows.into()).to_owned();
        let mut model = dense_adam(4);
        let h = model
            .fit(&xs, &ys, FitOptions::new().epochs(5).batch_size(8).verbose(0))
            .unwrap();
        neurite::distributed::set_strategy(Strategy::AllReduce).unwrap();
        (flat(&model), h.get("loss").unwrap().to_vec())
    });
    assert_eq!(bits(&results[0].0), bits(&results[1].0));
    assert_eq!(results[0].1, results[1].1, "the logs are averaged over the ranks");
    assert!(
        results[0].1[4] < results[0].1[0],
        "no progress: {:?}",
        results[0].1
    );

    // One averaging step of SGD (no momentum) from the same weights: the mean of the two local steps.
    let step = |rows: std::ops::Range<usize>| {
        let mut model = dense_adam(4);
        model
            .compile(
                Sgd::new(0.1),
                Loss::SparseCategoricalCrossentropy { from_logits: false },
                &[],
            )
            .unwrap();
        let xs = x.slice_axis(ndarray::Axis(0), rows.clone().into()).to_owned();
        let ys = y.slice_axis(ndarray::Axis(0), rows.into()).to_owned();
        model
            .fit(
                &xs,
                &ys,
                FitOptions::new().batch_size(8).shuffle(false).verbose(0),
            )
            .unwrap();
        flat(&model)
    };
    let (a, b) = (step(0..8), step(8..16));
    let averaged = simulate(2, |world| {
        neurite::distributed::set_strategy(Strategy::FederatedAveraging { every: 1 }).unwrap();
        let w = step(8 * world.rank()..8 * (world.rank() + 1));
        neurite::distributed::set_strategy(Strategy::AllReduce).unwrap();
        w
    });
    let mean: Vec<f32> = a.iter().zip(&b).map(|(u, v)| (u + v) / 2.0).collect();
    assert!(relative_difference(&averaged[0], &mean) <= 1e-6);
}

/// A masked sequence output: its loss is the mean over the global batch's
/// valid steps, which the ranks' shards hold in different numbers (and a
/// rank may hold none). 2 and 3 simulated ranks train as one process.
#[test]
fn masked_losses_are_the_global_batch_mean_over_valid_steps() {
    let (x, y) = padded_sequences(29);
    let options = || FitOptions::new().epochs(3).batch_size(7).verbose(0);
    let mut single = masked_sequence_model(3);
    let single_history = single.fit(&x, &y, options()).unwrap();
    let reference = flat(&single);
    for ranks in [2, 3] {
        let results = simulate(ranks, |_| {
            let mut model = masked_sequence_model(3);
            let history = model.fit(&x, &y, options()).unwrap();
            (flat(&model), history)
        });
        for (w, h) in &results {
            assert_eq!(bits(w), bits(&results[0].0), "{ranks} ranks differ");
            let d = relative_difference(w, &reference);
            assert!(
                d <= 1e-5,
                "{ranks} ranks: weights differ from single-process training by {d:e}"
            );
            for (u, v) in h
                .get("loss")
                .unwrap()
                .iter()
                .zip(single_history.get("loss").unwrap())
            {
                assert!(
                    (u - v).abs() <= 1e-5 * v.abs().max(1.0),
                    "{ranks} ranks: loss {u} vs {v}"
                );
            }
        }
    }
}
