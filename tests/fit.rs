//! Training end to end: accuracy on separable problems, validation, weights, errors.

mod common;

use common::*;
use neurite::prelude::*;
use std::collections::HashMap;

#[test]
fn binary_classifier_learns_a_separable_problem() {
    let (x, y) = separable(400);
    let mut model = Sequential::new()
        .seed(1)
        .add(Dense::new(16).activation(Activation::Relu).input_dim(2))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    model
        .compile(
            Adam::new(0.02),
            Loss::BinaryCrossentropy { from_logits: false },
            &[Metric::Accuracy],
        )
        .unwrap();
    let history = model
        .fit(&x, &y, FitOptions::new().epochs(40).batch_size(32).verbose(0))
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(
        losses.last().unwrap() < &losses[0],
        "loss did not fall: {losses:?}"
    );
    let scores = model.evaluate(&x, &y).unwrap();
    assert!(scores["accuracy"] >= 0.95, "accuracy {}", scores["accuracy"]);
}

#[test]
fn multiclass_with_validation_split_logs_val_metrics() {
    let (x, y) = three_classes(600);
    let mut model = classifier(3);
    let history = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(30).validation_split(0.2).verbose(0),
        )
        .unwrap();
    for key in ["loss", "accuracy", "val_loss", "val_accuracy", "lr"] {
        assert_eq!(history.get(key).map(|v| v.len()), Some(30), "{key}");
    }
    assert!(
        history.last("val_accuracy").unwrap() >= 0.85,
        "{:?}",
        history.get("val_accuracy")
    );
}

#[test]
fn same_seed_gives_the_same_numbers() {
    let (x, y) = three_classes(200);
    let run = || {
        let mut m = classifier(7);
        m.fit(&x, &y, FitOptions::new().epochs(3).verbose(0)).unwrap();
        m.predict(&x).unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn class_weight_and_sample_weight_change_training() {
    let (x, y) = three_classes(200);
    let plain = {
        let mut m = classifier(5);
        m.fit(&x, &y, FitOptions::new().epochs(2).verbose(0)).unwrap();
        m.predict(&x).unwrap()
    };
    let weighted = {
        let mut m = classifier(5);
        let cw: HashMap<usize, f32> = [(0, 5.0)].into_iter().collect();
        m.fit(&x, &y, FitOptions::new().epochs(2).verbose(0).class_weight(cw))
            .unwrap();
        m.predict(&x).unwrap()
    };
    assert_ne!(plain, weighted);
    let sw = vec![1.0f32; 100];
    let mut m = classifier(5);
    let err = m
        .fit(&x, &y, FitOptions::new().sample_weight(&sw).verbose(0))
        .unwrap_err();
    assert!(err.to_string().contains("sample_weight"), "{err}");
}

#[test]
fn wrong_input_shape_names_the_first_layer() {
    let (x, y) = three_classes(50);
    let mut model = classifier(0);
    model.fit(&x, &y, FitOptions::new().verbose(0)).unwrap();
    let wrong = ndarray::Array2::<f32>::zeros((4, 3)).into_dyn();
    let err = model.predict(&wrong).unwrap_err().to_string();
    assert!(err.contains("dense_1"), "{err}");
    let err = model
        .fit(&wrong, &y, FitOptions::new().verbose(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("samples") || err.contains("dense_1"), "{err}");
    let y_short = ndarray::Array1::<f32>::zeros(3).into_dyn();
    let err = model.evaluate(&x, &y_short).unwrap_err().to_string();
    assert!(err.contains("50 samples"), "{err}");
}

#[test]
fn fit_before_compile_is_an_error() {
    let (x, y) = separable(10);
    let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    let err = model
        .fit(&x, &y, FitOptions::new().verbose(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("compile"), "{err}");
}

#[test]
fn non_finite_loss_stops_with_an_error_naming_the_batch() {
    let (x, mut y) = separable(64);
    y[[40]] = f32::NAN;
    let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    model
        .compile(Sgd::new(0.01), Loss::MeanSquaredError, &[])
        .unwrap();
    let before = model.get_weights();
    let mut stop = TerminateOnNan;
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .batch_size(16)
                .shuffle(false)
                .verbose(0)
                .callback(&mut stop),
        )
        .unwrap_err();
    match err {
        neurite::Error::NonFiniteLoss { epoch, batch, .. } => assert_eq!((epoch, batch), (0, 2)),
        other => panic!("unexpected error {other}"),
    }
    // Batches 0 and 1 were applied; the NaN batch was not.
    let after = model.get_weights();
    assert!(after.iter().all(|(_, t)| t.iter().all(|v| v.is_finite())));
    assert_ne!(before, after);
}

#[test]
fn summary_lists_layers_shapes_and_parameter_counts() {
    let model = Sequential::new()
        .add(
            Conv2D::new(4, (3, 3))
                .activation(Activation::Relu)
                .input_shape([8, 8, 1]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dense::new(10).activation(Activation::Softmax));
    let mut model = model;
    model.build(&[8, 8, 1]).unwrap();
    let s = model.summary();
    assert!(s.contains("conv2d_1 (Conv2D)"), "{s}");
    assert!(s.contains("(None, 6, 6, 4)"), "{s}");
    assert!(s.contains("(None, 3, 3, 4)"), "{s}");
    assert!(s.contains("(None, 36)"), "{s}");
    // 3*3*1*4 + 4 = 40; 36*10 + 10 = 370.
    assert!(s.contains("Total params: 410"), "{s}");
}

#[test]
fn history_plots_to_svg() {
    let (x, y) = three_classes(100);
    let mut model = classifier(2);
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(3).validation_split(0.2).verbose(0),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.svg");
    h.plot(&path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("<svg") && svg.contains("val_accuracy"));
}

#[test]
fn validation_data_overrides_validation_split() {
    let (x, y) = three_classes(100);
    let (vx, vy) = three_classes(37);
    let mut model = classifier(6);
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(2)
                .verbose(0)
                .validation_split(0.5)
                .validation_data(&vx, &vy),
        )
        .unwrap();
    let after = model.evaluate(&vx, &vy).unwrap();
    assert_eq!(h.last("val_loss"), Some(after["loss"]));
    assert_eq!(h.last("val_accuracy"), Some(after["accuracy"]));
}

/// `predict` runs `Conv2D(relu)` + `MaxPooling2D` as one fused kernel; its
/// outputs equal the layers' own forwards called one by one.
#[test]
fn predict_with_fused_conv_pool_equals_layer_by_layer() {
    use neurite::nn::ForwardContext;
    let mut model = Sequential::new()
        .add(
            Conv2D::new(6, (3, 3))
                .activation(Activation::Relu)
                .input_shape([9, 9, 2]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(Conv2D::new(4, (2, 2)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dense::new(3).activation(Activation::Softmax))
        .seed(3);
    model.build(&[9, 9, 2]).unwrap();
    let x = neurite::tensor::random::normal(
        &[5, 9, 9, 2],
        0.0,
        1.0,
        &mut neurite::tensor::random::rng_from_seed(1),
    );
    let fused = model.predict(&x).unwrap();
    let mut h = neurite::autograd::Var::constant(x);
    for layer in model.layers() {
        h = neurite::autograd::no_grad(|| layer.forward(&h, &mut ForwardContext::inference())).unwrap();
    }
    assert_eq!(fused, h.to_tensor());
}
