//! Training and inference on careless input: Keras' behaviour where users rely
//! on it, errors instead of silent or broken results, inference shared
//! between threads.

mod common;

use common::*;
use neurite::prelude::*;

#[test]
fn each_fit_call_trains_the_epochs_it_is_asked_for_as_keras() {
    let (x, y) = three_classes(90);
    let mut stepwise = classifier(12);
    let mut weights = vec![stepwise.get_weights_by_name()];
    for call in 0..3 {
        let h = stepwise
            .fit(&x, &y, FitOptions::new().epochs(1).verbose(0))
            .unwrap();
        assert_eq!(
            h.epochs,
            vec![0],
            "call {call}: Keras numbers each call's epochs from initial_epoch"
        );
        assert_eq!(stepwise.epochs_done(), call + 1);
        weights.push(stepwise.get_weights_by_name());
        assert_ne!(weights[call], weights[call + 1], "call {call} did not train");
    }
    // Three one-epoch calls are exactly one three-epoch call (same shuffles,
    // same dropout masks, same optimizer steps).
    let mut at_once = classifier(12);
    at_once
        .fit(&x, &y, FitOptions::new().epochs(3).verbose(0))
        .unwrap();
    assert_eq!(at_once.get_weights_by_name(), stepwise.get_weights_by_name());
    // initial_epoch >= epochs trains nothing, as Keras.
    let h = at_once
        .fit(&x, &y, FitOptions::new().epochs(2).initial_epoch(2).verbose(0))
        .unwrap();
    assert!(h.epochs.is_empty());
    assert_eq!(at_once.epochs_done(), 3);
}

#[test]
fn callbacks_monitoring_a_missing_value_warn_and_training_goes_on() {
    let (x, y) = three_classes(60);
    let mut es = EarlyStopping::new("val_loss").patience(0);
    let mut plateau = ReduceLrOnPlateau::new("val_accuracy");
    let dir = tempfile::tempdir().unwrap();
    let mut best = ModelCheckpoint::new(dir.path().join("best").to_string_lossy())
        .monitor("val_loss")
        .save_best_only(true);
    let mut model = classifier(13);
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(4)
                .verbose(0)
                .callback(&mut es)
                .callback(&mut plateau)
                .callback(&mut best),
        )
        .unwrap();
    assert_eq!(
        h.epochs.len(),
        4,
        "training stopped although val_loss never existed"
    );
    assert_eq!(es.stopped_epoch(), None);
    assert!(
        best.saved().is_empty(),
        "save_best_only saved without the monitored value"
    );
}

#[test]
fn zero_batch_sizes_are_errors_not_empty_results() {
    let (x, y) = three_classes(20);
    let model = classifier(14);
    let err = model.predict_batched(&x, 0).unwrap_err().to_string();
    assert!(err.contains("batch_size"), "{err}");
    let err = model.evaluate_batched(&x, &y, 0).unwrap_err().to_string();
    assert!(err.contains("batch_size"), "{err}");
    let mut model = classifier(14);
    let err = model
        .fit(&x, &y, FitOptions::new().batch_size(0).verbose(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch_size"), "{err}");
}

/// Validation data whose samples do not have the training data's shape is
/// refused before the first step, naming which array is wrong.
#[test]
fn validation_data_of_another_sample_shape_is_refused_before_training() {
    let (x, y) = three_classes(20);
    let mut model = classifier(14);
    let before = model.get_weights_by_name();
    let wide = Tensor::zeros(ndarray::IxDyn(&[5, x.shape()[1] + 1]));
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .verbose(0)
                .validation_data(&wide, y.slice_axis(ndarray::Axis(0), (0..5).into()).to_owned()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("validation x") && err.contains("training x"),
        "{err}"
    );
    let y2 = Tensor::zeros(ndarray::IxDyn(&[20, 2]));
    let err = model
        .fit(&x, &y, FitOptions::new().verbose(0).validation_data(&x, &y2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("validation y"), "{err}");
    assert_eq!(model.get_weights_by_name(), before, "a refused fit trained");
}

#[test]
fn cross_validate_refuses_x_and_y_of_different_lengths() {
    let (x, _) = three_classes(20);
    let (_, y) = three_classes(15);
    let splits = vec![((0..15).collect::<Vec<usize>>(), (15..20).collect::<Vec<usize>>())];
    let err = neurite::cross_validate(
        |_| Ok(classifier(1)),
        &x,
        &y,
        &splits,
        |_| FitOptions::new().verbose(0),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("20") && err.contains("15"), "{err}");
}

#[test]
fn an_update_that_overflows_stops_training_with_an_error() {
    // lr 1e38: whether the first update overflows or the next loss does, fit fails.
    let (x, y) = three_classes(40);
    let mut model = Sequential::new()
        .seed(2)
        .add(Dense::new(8).activation(Activation::Relu).input_dim(2))
        .add(Dense::new(3).activation(Activation::Softmax));
    model
        .compile(
            Sgd::new(1e38),
            Loss::SparseCategoricalCrossentropy { from_logits: false },
            &[],
        )
        .unwrap();
    assert!(model.fit(&x, &y, FitOptions::new().epochs(3).verbose(0)).is_err());

    // An update that itself overflows (lr * gradient beyond f32): the error names
    // the parameter and the step, and no later step runs.
    let x = ndarray::Array2::<f32>::from_elem((4, 2), 100.0).into_dyn();
    let y = ndarray::Array2::<f32>::from_elem((4, 1), -1e4).into_dyn();
    let mut model = Sequential::new().seed(3).add(Dense::new(1).input_dim(2));
    model
        .compile(Sgd::new(3e38), Loss::MeanSquaredError, &[])
        .unwrap();
    let err = model
        .fit(&x, &y, FitOptions::new().epochs(2).batch_size(4).verbose(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dense_1.kernel") || err.contains("dense_1.bias"),
        "no parameter named: {err}"
    );
    assert!(err.contains("step"), "no step named: {err}");
}

/// A one-unit regression whose first SGD step at learning rate `lr` overflows
/// when `lr` is 3e38, and is an ordinary step at 0.01.
fn overflowing_regression(lr: f32) -> (Sequential, Tensor, Tensor) {
    let x = ndarray::Array2::<f32>::from_elem((4, 2), 100.0).into_dyn();
    let y = ndarray::Array2::<f32>::from_elem((4, 1), -1e4).into_dyn();
    let mut model = Sequential::new().seed(3).add(Dense::new(1).input_dim(2));
    model.compile(Sgd::new(lr), Loss::MeanSquaredError, &[]).unwrap();
    (model, x, y)
}

#[test]
fn a_failed_update_leaves_no_gradient_behind_and_no_broken_checkpoint() {
    let (mut model, x, y) = overflowing_regression(3e38);
    let good = model.get_weights_by_name();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    model.save(&dir).unwrap();
    let one_step = || {
        FitOptions::new()
            .epochs(1)
            .batch_size(4)
            .shuffle(false)
            .verbose(0)
    };
    let err = model.fit(&x, &y, one_step()).unwrap_err();
    assert!(
        matches!(
            err,
            neurite::Error::Optim(neurite::optim::OptimError::NonFiniteUpdate { .. })
        ),
        "{err}"
    );
    // No gradient survives the failed step to be added to the next one.
    for p in model.parameters() {
        assert!(p.var.grad().is_none(), "{} kept its gradient", p.name);
    }
    // The weights the failed step left are not finite: saving them would
    // replace the last good checkpoint with a broken one. Refused, naming the
    // parameter, and the checkpoint on disk is untouched.
    let err = model.save(&dir).unwrap_err().to_string();
    assert!(err.contains("dense_1."), "{err}");
    assert_eq!(Sequential::load(&dir).unwrap().get_weights_by_name(), good);
    // Restoring the good weights and a sane rate trains exactly as a model
    // that never failed (plain SGD has no state besides the step count).
    model.set_weights_by_name(&good).unwrap();
    model.optimizer_mut().unwrap().set_learning_rate(0.01);
    model.fit(&x, &y, one_step()).unwrap();
    let (mut fresh, _, _) = overflowing_regression(0.01);
    fresh.fit(&x, &y, one_step()).unwrap();
    assert_eq!(model.get_weights_by_name(), fresh.get_weights_by_name());
}

#[test]
fn a_save_never_writes_optimizer_state_a_load_would_refuse() {
    // g^2 overflows Adam's velocity while the weight stays finite: the step
    // fails naming the slot, and the broken slot is not saved.
    // Kernel 0.5 on x = 1e10 against y = -1.5e10: the kernel's gradient is
    // 4e20 (finite), its square is not.
    let x = ndarray::Array2::<f32>::from_elem((2, 1), 1e10).into_dyn();
    let y = ndarray::Array2::<f32>::from_elem((2, 1), -1.5e10).into_dyn();
    let mut model = Sequential::new().seed(4).add(Dense::new(1).input_dim(1));
    model
        .compile(Adam::new(0.001), Loss::MeanSquaredError, &[])
        .unwrap();
    model
        .set_weights_by_name(&[
            ("dense_1.kernel".into(), ndarray::arr2(&[[0.5f32]]).into_dyn()),
            ("dense_1.bias".into(), ndarray::arr1(&[0.0f32]).into_dyn()),
        ])
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    model.save(&dir).unwrap();
    let before = std::fs::read(dir.join("config.json")).unwrap();
    let err = model
        .fit(&x, &y, FitOptions::new().epochs(1).batch_size(2).verbose(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("slot"), "{err}");
    assert!(
        model
            .get_weights_by_name()
            .iter()
            .all(|(_, t)| t.iter().all(|v| v.is_finite())),
        "this case needs finite weights and a broken slot"
    );
    let err = model.save(&dir).unwrap_err().to_string();
    assert!(err.contains("dense_1.") && err.contains("velocity"), "{err}");
    assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), before);
    Sequential::load(&dir).unwrap();
}

#[test]
fn inference_runs_from_many_threads_on_one_model() {
    fn assert_sync<T: Sync + Send>() {}
    assert_sync::<Sequential>();
    let (x, y) = three_classes(64);
    let mut model = classifier(15);
    model.fit(&x, &y, FitOptions::new().epochs(2).verbose(0)).unwrap();
    let expected = model.predict(&x).unwrap();
    let expected_scores = model.evaluate(&x, &y).unwrap();
    let model = &model;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..10 {
                        assert_eq!(model.predict(&x).unwrap(), expected);
                        assert_eq!(model.evaluate(&x, &y).unwrap(), expected_scores);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn two_metrics_logging_under_one_name_are_refused() {
    let mut model = Sequential::new().add(Dense::new(3).input_dim(2));
    let err = model
        .compile(
            Adam::default(),
            Loss::SparseCategoricalCrossentropy { from_logits: true },
            &[Metric::TopKAccuracy(1), Metric::TopKAccuracy(2)],
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("top_k_accuracy"), "{err}");
}
