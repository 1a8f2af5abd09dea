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

/// A softmax classifier (one Dense layer, 2 inputs, 3 classes) trained with plain SGD.
fn softmax_regression(seed: u64, lr: f32) -> Sequential {
    let mut m = Sequential::new()
        .seed(seed)
        .add(Dense::new(3).activation(Activation::Softmax).input_dim(2));
    m.compile(
        Sgd::new(lr),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[],
    )
    .unwrap();
    m.build(&[2]).unwrap();
    m
}

/// The kernel `(2, 3)` and bias `(3,)` of [`softmax_regression`], as f64.
fn kernel_and_bias(m: &Sequential) -> (Vec<[f64; 3]>, [f64; 3]) {
    let w = m.get_weights_by_name();
    let get = |suffix: &str| {
        w.iter()
            .find(|(n, _)| n.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} in {:?}", w.iter().map(|p| &p.0).collect::<Vec<_>>()))
            .1
            .iter()
            .map(|&v| v as f64)
            .collect::<Vec<f64>>()
    };
    let k = get(".kernel");
    let b = get(".bias");
    assert_eq!((k.len(), b.len()), (6, 3));
    (vec![[k[0], k[1], k[2]], [k[3], k[4], k[5]]], [b[0], b[1], b[2]])
}

/// One epoch of SGD on softmax regression with per-sample weights, in f64, without the library:
/// Keras' weighted loss of a batch is `sum(w_i * loss_i) / N` over its `N` samples
/// ("sum_over_batch_size"), `loss_i = -ln softmax(x_i K + b)[y_i]`, whose gradient with respect
/// to the logits is `w_i * (p_i - onehot(y_i)) / N`. Batches are consecutive (no shuffling).
/// Returns the epoch's loss (the mean of the batch losses weighted by batch size, as logged
/// by `fit`) and the final kernel and bias.
fn reference_epoch(
    x: &Tensor,
    y: &Tensor,
    w: &[f64],
    (mut k, mut b): (Vec<[f64; 3]>, [f64; 3]),
    lr: f64,
    batch_size: usize,
) -> (f64, Vec<[f64; 3]>, [f64; 3]) {
    let n = w.len();
    let (mut loss_sum, mut seen) = (0.0, 0);
    for start in (0..n).step_by(batch_size) {
        let batch: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let nb = batch.len() as f64;
        let (mut gk, mut gb, mut loss) = (vec![[0.0; 3]; 2], [0.0; 3], 0.0);
        for &i in &batch {
            let xi = [x[[i, 0]] as f64, x[[i, 1]] as f64];
            let yi = y[[i]] as usize;
            let z: Vec<f64> = (0..3).map(|c| xi[0] * k[0][c] + xi[1] * k[1][c] + b[c]).collect();
            let zmax = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - zmax).exp()).collect();
            let s: f64 = e.iter().sum();
            let p: Vec<f64> = e.iter().map(|v| v / s).collect();
            loss += w[i] * -p[yi].ln();
            for c in 0..3 {
                let g = w[i] * (p[c] - if c == yi { 1.0 } else { 0.0 }) / nb;
                gk[0][c] += g * xi[0];
                gk[1][c] += g * xi[1];
                gb[c] += g;
            }
        }
        loss_sum += loss / nb * nb;
        seen += batch.len();
        for c in 0..3 {
            k[0][c] -= lr * gk[0][c];
            k[1][c] -= lr * gk[1][c];
            b[c] -= lr * gb[c];
        }
    }
    (loss_sum / seen as f64, k, b)
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 2e-5 * want.abs().max(1.0),
        "{what}: neurite {got}, by hand {want}"
    );
}

/// Trains one epoch with `options` and compares the logged loss and the new weights with
/// [`reference_epoch`] run on the per-sample weights `w`.
fn check_against_reference(x: &Tensor, y: &Tensor, w: &[f64], options: FitOptions<'_>, batch_size: usize) {
    let lr = 0.5;
    let mut m = softmax_regression(21, lr as f32);
    let start = kernel_and_bias(&m);
    let h = m
        .fit(
            x,
            y,
            options.epochs(1).batch_size(batch_size).shuffle(false).verbose(0),
        )
        .unwrap();
    let (loss, k, b) = reference_epoch(x, y, w, start, lr, batch_size);
    assert_close("loss", h.get("loss").unwrap()[0], loss);
    let (k_got, b_got) = kernel_and_bias(&m);
    for c in 0..3 {
        assert_close(&format!("kernel[0][{c}]"), k_got[0][c], k[0][c]);
        assert_close(&format!("kernel[1][{c}]"), k_got[1][c], k[1][c]);
        assert_close(&format!("bias[{c}]"), b_got[c], b[c]);
    }
}

#[test]
fn class_weight_and_sample_weight_follow_keras_weighted_loss() {
    let (x, y) = three_classes(12);
    let n = 12;
    let classes: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    assert!((0..3).all(|c| classes.contains(&c)), "{classes:?}");
    // Batches of 5, 5 and 2: the last one checks the denominator is the batch's own size.
    for batch_size in [12, 5] {
        // No weights: every w_i = 1.
        check_against_reference(&x, &y, &[1.0; 12], FitOptions::new(), batch_size);
        // Class weights: w_i = class_weight[y_i], classes not listed weigh 1.
        let cw: HashMap<usize, f32> = [(0, 5.0), (2, 0.25)].into_iter().collect();
        let w: Vec<f64> = classes
            .iter()
            .map(|c| cw.get(c).map_or(1.0, |&v| v as f64))
            .collect();
        check_against_reference(&x, &y, &w, FitOptions::new().class_weight(cw.clone()), batch_size);
        // Sample weights, including a 0.
        let sw: Vec<f32> = (0..n).map(|i| [0.5, 2.0, 0.0, 1.5][i % 4]).collect();
        let w: Vec<f64> = sw.iter().map(|&v| v as f64).collect();
        check_against_reference(&x, &y, &w, FitOptions::new().sample_weight(&sw), batch_size);
        // Both: Keras multiplies them.
        let w: Vec<f64> = (0..n)
            .map(|i| sw[i] as f64 * cw.get(&classes[i]).map_or(1.0, |&v| v as f64))
            .collect();
        check_against_reference(
            &x,
            &y,
            &w,
            FitOptions::new().sample_weight(&sw).class_weight(cw.clone()),
            batch_size,
        );
    }

    let sw = vec![1.0f32; 100];
    let mut m = classifier(5);
    let (x, y) = three_classes(200);
    let err = m
        .fit(&x, &y, FitOptions::new().sample_weight(&sw).verbose(0))
        .unwrap_err();
    assert!(err.to_string().contains("sample_weight"), "{err}");
}

#[test]
fn a_zero_sample_weight_removes_the_sample_from_the_gradient() {
    let (x, y) = three_classes(12);
    let k = 3;
    let mut sw = vec![1.0f32; 12];
    sw[k] = 0.0;
    let train = |x: &Tensor, y: &Tensor, sw: &[f32]| {
        let mut m = softmax_regression(8, 0.5);
        m.fit(
            x,
            y,
            FitOptions::new()
                .epochs(1)
                .batch_size(12)
                .shuffle(false)
                .sample_weight(sw)
                .verbose(0),
        )
        .unwrap();
        m.get_weights_by_name()
    };
    let zeroed = train(&x, &y, &sw);
    // Changing the weight-0 sample's features and label changes nothing.
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2[[k, 0]] = 3.0;
    x2[[k, 1]] = -2.0;
    y2[[k]] = (y[[k]] + 1.0) % 3.0;
    assert_eq!(train(&x2, &y2, &sw), zeroed);
    // It equals training without the sample, once the mean's denominator (12, not 11) is
    // accounted for: weights 11/12 on the 11 others give sum(l_i) / 12.
    let keep: Vec<usize> = (0..12).filter(|&i| i != k).collect();
    let (x11, y11) = (
        x.select(ndarray::Axis(0), &keep),
        y.select(ndarray::Axis(0), &keep),
    );
    let without = train(&x11, &y11, &[11.0 / 12.0; 11]);
    for ((name, a), (_, b)) in zeroed.iter().zip(&without) {
        let diff = (a - b).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
        assert!(diff <= 1e-6, "{name}: {a} vs {b}");
    }
    // And the sample's weight matters when it is not 0 (so the checks above can fail).
    assert_ne!(train(&x2, &y2, &[1.0; 12]), train(&x, &y, &[1.0; 12]));
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
    let before = model.get_weights_by_name();
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
    let after = model.get_weights_by_name();
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
