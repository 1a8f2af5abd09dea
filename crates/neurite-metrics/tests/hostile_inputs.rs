//! Hostile inputs (issue #15, "Reliability"): every public function and
//! streaming metric answers wrong input with a `MetricError` naming the
//! metric (or with the value scikit-learn / Keras define), never with a
//! panic, a hang, a giant allocation or a silently wrong number.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ndarray::{array, Array1, Array2, ArrayD, IxDyn};
use neurite_metrics::streaming::*;
use neurite_metrics::*;
use proptest::prelude::*;

/// Runs `f` on its own thread and fails if it has not returned within a few
/// seconds: a hang check, not a speed test.
fn within_seconds<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not return within 10 s (hang)"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

fn d<const N: usize>(v: [f32; N]) -> ArrayD<f32> {
    Array1::from(v.to_vec()).into_dyn()
}

fn m(rows: usize, cols: usize, v: &[f32]) -> ArrayD<f32> {
    Array2::from_shape_vec((rows, cols), v.to_vec())
        .unwrap()
        .into_dyn()
}

/// Every streaming metric, freshly built.
fn all_streaming() -> Vec<Box<dyn StreamingMetric>> {
    vec![
        Box::new(Accuracy::auto()),
        Box::new(Accuracy::binary()),
        Box::new(Accuracy::categorical()),
        Box::new(Accuracy::sparse()),
        Box::new(TopKAccuracy::new(1).unwrap()),
        Box::new(TopKAccuracy::new(2).unwrap()),
        Box::new(LogLoss::auto()),
        Box::new(LogLoss::binary()),
        Box::new(LogLoss::categorical()),
        Box::new(LogLoss::sparse()),
        Box::new(RocAuc::new()),
        Box::new(AveragePrecision::new()),
        Box::new(ConfusionMatrixMetric::new(2).unwrap()),
        Box::new(ConfusionMatrixMetric::new(3).unwrap()),
        Box::new(Mse::new()),
        Box::new(Rmse::new()),
        Box::new(Mae::new()),
        Box::new(Mape::new()),
        Box::new(R2Score::new()),
    ]
}

/// The error names the metric it came from.
fn names(err: &MetricError, metric: &str) {
    assert!(err.to_string().contains(metric), "{err} does not name {metric}");
}

// ---------------------------------------------------------------- top-k

#[test]
fn top_k_with_k_at_least_the_class_count_is_an_error() {
    let y_true = d([0.0, 1.0, 2.0]);
    let y_pred = m(3, 3, &[0.5, 0.3, 0.2, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4]);
    for k in [3, 4, 99] {
        let mut top = TopKAccuracy::new(k).unwrap();
        let err = top.update(y_true.view(), y_pred.view()).unwrap_err();
        assert_eq!(
            err,
            MetricError::InvalidArgument {
                metric: "top_k_accuracy",
                name: "k",
                expected: "k < 3, the number of classes in y_pred (with k >= 3 every prediction is a hit)"
                    .to_string(),
                found: k.to_string(),
            }
        );
        let text = err.to_string();
        assert!(text.contains("top_k_accuracy") && text.contains(&k.to_string()) && text.contains("k < 3"));
        // nothing was counted
        assert_eq!(
            top.try_result(),
            Err(MetricError::Empty {
                metric: "top_k_accuracy"
            })
        );
        // the whole-set function says the same
        let scores = y_pred.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
        assert_eq!(top_k_accuracy(&[0, 1, 2], scores.view(), k).unwrap_err(), err);
        // one-hot targets reveal the class count the same way
        let one_hot = m(3, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(top.update(one_hot.view(), y_pred.view()).unwrap_err(), err);
        // even an empty batch shows the class count
        let empty = Array2::<f32>::zeros((0, 3)).into_dyn();
        assert_eq!(top.update(d([]).view(), empty.view()).unwrap_err(), err);
    }
    // k below the class count still works, k = 0 is refused at construction
    let mut top2 = TopKAccuracy::new(2).unwrap();
    top2.update(y_true.view(), y_pred.view()).unwrap();
    assert!((top2.result() - 1.0).abs() < 1e-12);
    let err = TopKAccuracy::new(0).unwrap_err();
    assert!(matches!(err, MetricError::InvalidArgument { name: "k", .. }));
    // binary scores (one column) have no meaningful top-k
    let mut top1 = TopKAccuracy::new(1).unwrap();
    assert!(top1.update(d([1.0]).view(), m(1, 1, &[0.7]).view()).is_err());
}

// ---------------------------------------------------------------- shapes

#[test]
fn predictions_without_class_columns_are_errors_not_panics() {
    // (n, 0): no class to take an argmax over
    let none = Array2::<f32>::zeros((2, 0)).into_dyn();
    for mut metric in all_streaming() {
        let name = metric.name().to_string();
        let err = metric.update(none.view(), none.view());
        assert!(err.is_err(), "{name} accepted (2, 0) predictions");
        let err = metric.update(d([0.0, 1.0]).view(), none.view());
        assert!(err.is_err(), "{name} accepted (2, 0) predictions with labels");
    }
    let none2 = Array2::<f32>::zeros((2, 0));
    let err = categorical_accuracy(none2.view(), none2.view()).unwrap_err();
    assert!(
        matches!(
            err,
            MetricError::ShapeMismatch {
                metric: "categorical_accuracy",
                ..
            }
        ),
        "{err}"
    );
    assert!(log_loss(&[0, 1], none2.view()).is_err());
    assert!(top_k_accuracy(&[0, 1], none2.view(), 1).is_err());
}

#[test]
fn mismatched_lengths_and_ranks_are_errors() {
    let rank3 = ArrayD::<f32>::zeros(IxDyn(&[2, 2, 2]));
    for mut metric in all_streaming() {
        let name = metric.name().to_string();
        // binary accuracy and binary log loss are element-wise (Keras): any
        // rank is fine as long as both arrays hold as many values
        let elementwise = name == "binary_accuracy" || name == "log_loss";
        if elementwise {
            let wrong = ArrayD::<f32>::zeros(IxDyn(&[2, 2, 3]));
            assert!(
                metric.update(rank3.view(), wrong.view()).is_err(),
                "{name} took 8 vs 12 values"
            );
        } else {
            assert!(
                metric.update(rank3.view(), rank3.view()).is_err(),
                "{name} took rank 3"
            );
        }
        metric.reset();
        let e = metric.update(d([0.0, 1.0, 1.0]).view(), m(2, 1, &[0.2, 0.9]).view());
        assert!(e.is_err(), "{name} took 3 labels for 2 predictions");
        assert!(metric.try_result().is_err(), "{name} counted a refused batch");
    }
    assert!(matches!(
        mean_squared_error(d([1.0, 2.0, 3.0]).view(), d([1.0, 2.0]).view()),
        Err(MetricError::LengthMismatch {
            metric: "mse",
            expected: 3,
            found: 2
        })
    ));
    assert!(matches!(
        roc_auc_score(&[0, 1, 1], &[0.1, 0.2]),
        Err(MetricError::LengthMismatch { .. })
    ));
    assert!(accuracy_score(&[0, 1], &[0]).is_err());
    assert!(confusion_matrix(&[0, 1], &[0], 2).is_err());
}

#[test]
fn empty_inputs_are_errors_everywhere() {
    let empty = Array2::<f32>::zeros((0, 3));
    assert_eq!(
        accuracy_score(&[], &[]),
        Err(MetricError::Empty { metric: "accuracy" })
    );
    assert!(matches!(
        top_k_accuracy(&[], empty.view(), 1),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        log_loss(&[], empty.view()),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(roc_auc_score(&[], &[]), Err(MetricError::Empty { .. })));
    assert!(matches!(
        average_precision_score(&[], &[]),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        f1_score(&[], &[], 3, Average::Macro),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        matthews_corrcoef(&[], &[], 2),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        classification_report(&[], &[], 2, None),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        r2_score(d([]).view(), d([]).view()),
        Err(MetricError::Empty { .. })
    ));
    for metric in all_streaming() {
        assert!(
            metric.try_result().is_err(),
            "{} has a value before any sample",
            metric.name()
        );
        assert_eq!(metric.result(), 0.0);
    }
}

// ---------------------------------------------------------------- labels

#[test]
fn hostile_labels_are_errors_naming_the_metric_and_value() {
    let probs = m(1, 3, &[0.2, 0.5, 0.3]);
    for (label, what) in [
        (-1.0f32, "negative"),
        (0.5, "fractional"),
        (f32::NAN, "NaN"),
        (f32::INFINITY, "infinite"),
        (1e30, "beyond usize"),
        (3.0, "out of range"),
    ] {
        let t = d([label]);
        for mut metric in [
            Box::new(Accuracy::sparse()) as Box<dyn StreamingMetric>,
            Box::new(TopKAccuracy::new(2).unwrap()),
            Box::new(LogLoss::sparse()),
            Box::new(ConfusionMatrixMetric::new(3).unwrap()),
        ] {
            let name = metric.name().to_string();
            let err = metric.update(t.view(), probs.view()).expect_err(what);
            // the confusion matrix reports `accuracy` but its errors name the matrix
            names(
                &err,
                if name == "accuracy" {
                    "confusion_matrix"
                } else {
                    &name
                },
            );
            match err {
                MetricError::LabelOutOfRange {
                    label: 3,
                    n_classes: 3,
                    ..
                } => assert_eq!(label, 3.0),
                MetricError::InvalidValue { value, index: 0, .. } => {
                    assert!(
                        value.is_nan() && label.is_nan() || value == label as f64,
                        "{what}: {value}"
                    )
                }
                other => panic!("{name}, {what} label: {other}"),
            }
        }
    }
    // binary labels must be exactly 0 or 1
    for label in [2.0f32, 0.5, -1.0] {
        for mut metric in [
            Box::new(Accuracy::binary()) as Box<dyn StreamingMetric>,
            Box::new(LogLoss::binary()),
            Box::new(RocAuc::new()),
            Box::new(AveragePrecision::new()),
            Box::new(ConfusionMatrixMetric::new(2).unwrap()),
        ] {
            let err = metric.update(d([label]).view(), d([0.5]).view());
            assert!(
                matches!(err, Err(MetricError::InvalidValue { .. })),
                "{}: {err:?}",
                metric.name()
            );
        }
    }
    // integer labels out of range for the given class count
    assert_eq!(
        confusion_matrix(&[0, usize::MAX], &[0, 0], 3).unwrap_err(),
        MetricError::LabelOutOfRange {
            metric: "confusion_matrix",
            label: usize::MAX,
            n_classes: 3
        }
    );
    assert!(roc_auc_score(&[0, 2], &[0.1, 0.2]).is_err());
    assert!(log_loss(
        &[0, 5],
        m(2, 2, &[0.5, 0.5, 0.5, 0.5])
            .into_dimensionality()
            .unwrap()
            .view()
    )
    .is_err());
    let scores = Array2::from_shape_vec((1, 3), vec![0.1f32, 0.2, 0.7]).unwrap();
    assert!(top_k_accuracy(&[3], scores.view(), 1).is_err());
    assert_eq!(
        precision_score(&[0], &[7], 3, Average::Binary { pos_label: 1 }).unwrap_err(),
        MetricError::LabelOutOfRange {
            metric: "precision",
            label: 7,
            n_classes: 3
        }
    );
    assert!(matches!(
        recall_score(&[0, 1], &[0], 3, Average::Macro),
        Err(MetricError::LengthMismatch {
            metric: "recall",
            expected: 2,
            found: 1
        })
    ));
    assert!(ConfusionMatrix::new(3)
        .unwrap()
        .precision(Average::Binary { pos_label: 3 }, ZeroDivision::Zero)
        .is_err());
}

// ---------------------------------------------------------------- values

#[test]
fn non_finite_values_are_errors_for_every_streaming_metric() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for mut metric in all_streaming() {
            let name = metric.name().to_string();
            // a shape every metric accepts when finite: 2 classes, binary column
            let (t, p) = (d([0.0, 1.0]), m(2, 1, &[bad, 0.5]));
            let err = metric.update(t.view(), p.view());
            assert!(err.is_err(), "{name} accepted prediction {bad}");
            let err = metric.update(d([bad, 1.0]).view(), m(2, 1, &[0.5, 0.5]).view());
            assert!(err.is_err(), "{name} accepted target {bad}");
            assert!(metric.try_result().is_err(), "{name} counted a refused batch");
        }
        assert!(roc_auc_score(&[0, 1], &[bad, 0.5]).is_err());
        assert!(average_precision_score(&[0, 1], &[0.5, bad]).is_err());
        assert!(mean_absolute_error(d([1.0]).view(), d([bad]).view()).is_err());
    }
}

#[test]
fn a_non_finite_threshold_is_an_error_not_all_negatives() {
    for threshold in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let err = binary_accuracy(d([1.0, 0.0]).view(), d([0.9, 0.1]).view(), threshold).unwrap_err();
        assert!(
            matches!(
                err,
                MetricError::InvalidArgument {
                    metric: "binary_accuracy",
                    name: "threshold",
                    ..
                }
            ),
            "{err}"
        );
        let mut acc = Accuracy::binary_with_threshold(threshold);
        assert!(acc.update(d([1.0]).view(), d([0.9]).view()).is_err());
        assert_eq!(acc.total(), 0);
    }
}

#[test]
fn probabilities_and_target_weights_outside_0_1_are_errors_for_log_loss() {
    for bad in [1.5f32, -0.1, 1e30] {
        let err = LogLoss::auto()
            .update(d([1.0]).view(), d([bad]).view())
            .unwrap_err();
        assert!(
            matches!(
                err,
                MetricError::InvalidValue {
                    metric: "log_loss",
                    ..
                }
            ),
            "{err}"
        );
        let probs = Array2::from_shape_vec((1, 2), vec![bad, 0.5]).unwrap();
        assert!(log_loss(&[0], probs.view()).is_err());
        // one-hot or soft targets are class weights in [0, 1]: a negative
        // weight would make the loss negative
        let err = LogLoss::categorical()
            .update(m(1, 2, &[bad, 1.0]).view(), m(1, 2, &[0.5, 0.5]).view())
            .unwrap_err();
        assert!(
            matches!(
                err,
                MetricError::InvalidValue {
                    metric: "log_loss",
                    index: 0,
                    ..
                }
            ),
            "{err}"
        );
    }
    // edge probabilities are clipped, not infinite
    let probs = Array2::from_shape_vec((2, 2), vec![1.0f32, 0.0, 1.0, 0.0]).unwrap();
    let loss = log_loss(&[1, 0], probs.view()).unwrap();
    assert!(loss.is_finite() && loss > 17.0, "{loss}");
}

#[test]
fn a_single_class_makes_roc_auc_undefined() {
    for labels in [[1usize, 1, 1], [0, 0, 0]] {
        let err = roc_auc_score(&labels, &[0.2, 0.5, 0.9]).unwrap_err();
        assert!(
            matches!(
                err,
                MetricError::Undefined {
                    metric: "roc_auc",
                    ..
                }
            ),
            "{err}"
        );
        let mut auc = RocAuc::new();
        let t = Array1::from_iter(labels.iter().map(|&l| l as f32)).into_dyn();
        auc.update(t.view(), d([0.2, 0.5, 0.9]).view()).unwrap();
        assert!(matches!(auc.try_result(), Err(MetricError::Undefined { .. })));
        assert_eq!(auc.result(), 0.0, "Keras reports 0 while undefined");
    }
    assert!(matches!(
        average_precision_score(&[0, 0], &[0.1, 0.9]),
        Err(MetricError::Undefined {
            metric: "average_precision",
            ..
        })
    ));
    // scikit-learn's documented value for a single class: MCC 0
    assert_eq!(matthews_corrcoef(&[1, 1, 1], &[1, 1, 1], 2).unwrap(), 0.0);
}

#[test]
fn huge_beta_gives_the_recall_limit_not_nan() {
    let cm = ConfusionMatrix::from_labels(&[0, 0, 1, 1, 1], &[0, 1, 1, 1, 0], 2).unwrap();
    let recall = cm.recall(Average::Macro, ZeroDivision::Zero).unwrap();
    let precision = cm.precision(Average::Macro, ZeroDivision::Zero).unwrap();
    for beta in [1e10, 1e160, 1e200, f64::MAX] {
        let f = cm.fbeta(beta, Average::Macro, ZeroDivision::Zero).unwrap();
        assert!((f - recall).abs() < 1e-9, "beta {beta}: {f} vs recall {recall}");
    }
    for beta in [1e-10, 1e-200, 0.0] {
        let f = cm.fbeta(beta, Average::Macro, ZeroDivision::Zero).unwrap();
        assert!(
            (f - precision).abs() < 1e-9,
            "beta {beta}: {f} vs precision {precision}"
        );
    }
    assert!(cm
        .fbeta(f64::INFINITY, Average::Macro, ZeroDivision::Zero)
        .is_err());
    assert!(cm.fbeta(-1.0, Average::Macro, ZeroDivision::Zero).is_err());
}

// ---------------------------------------------------------------- sizes

#[test]
fn huge_class_counts_are_refused_before_allocating() {
    within_seconds("huge class counts", || {
        for n in [MAX_CLASSES + 1, 1 << 40, usize::MAX] {
            let err = ConfusionMatrix::new(n).unwrap_err();
            assert!(
                matches!(&err, MetricError::InvalidArgument { metric: "confusion_matrix", name: "n_classes", found, .. } if *found == n.to_string()),
                "{err}"
            );
            assert!(err.to_string().contains(&MAX_CLASSES.to_string()));
            assert!(confusion_matrix(&[0], &[0], n).is_err());
            // scores computed from label vectors name themselves
            let err = f1_score(&[0], &[0], n, Average::Macro).unwrap_err();
            assert!(
                matches!(
                    err,
                    MetricError::InvalidArgument {
                        metric: "f1_score",
                        name: "n_classes",
                        ..
                    }
                ),
                "{err}"
            );
            let err = cohen_kappa_score(&[0], &[0], n, KappaWeights::Linear).unwrap_err();
            assert!(
                matches!(
                    err,
                    MetricError::InvalidArgument {
                        metric: "cohen_kappa",
                        ..
                    }
                ),
                "{err}"
            );
            let err = classification_report(&[0], &[0], n, None).unwrap_err();
            assert!(
                matches!(
                    err,
                    MetricError::InvalidArgument {
                        metric: "classification_report",
                        ..
                    }
                ),
                "{err}"
            );
            let err = matthews_corrcoef(&[0], &[0], n).unwrap_err();
            assert!(
                matches!(
                    err,
                    MetricError::InvalidArgument {
                        metric: "matthews_corrcoef",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(ConfusionMatrixMetric::new(n).is_err());
        }
        assert!(ConfusionMatrix::new(0).is_err());
        assert_eq!(
            ConfusionMatrix::new(MAX_CLASSES).unwrap().n_classes(),
            MAX_CLASSES
        );
    });
}

#[test]
fn counts_that_overflow_are_errors_not_wrapped_totals() {
    let err = ConfusionMatrix::from_counts(array![[u64::MAX, 1], [0, 0]]).unwrap_err();
    assert!(
        matches!(err, MetricError::InvalidArgument { name: "counts", .. }),
        "{err}"
    );
    let mut full = ConfusionMatrix::from_counts(array![[u64::MAX - 1, 0], [0, 0]]).unwrap();
    assert_eq!(full.total(), u64::MAX - 1);
    let before = full.clone();
    assert!(full.add(&[0, 1], &[0, 1]).is_err());
    assert_eq!(full, before, "a refused batch changed the matrix");
    full.add(&[1], &[1]).unwrap();
    assert_eq!(full.total(), u64::MAX);
    let one = ConfusionMatrix::from_labels(&[0], &[0], 2).unwrap();
    let before = full.clone();
    assert!(full.merge(&one).is_err());
    assert_eq!(full, before);
    // scores of a near-full matrix stay finite
    assert!(full.accuracy().unwrap().is_finite());
    assert!(full.matthews_corrcoef().unwrap().is_finite());
}

#[test]
fn digits_are_bounded_instead_of_panicking_in_the_formatter() {
    let report = classification_report(&[0, 1, 1], &[0, 1, 0], 2, None).unwrap();
    for digits in [MAX_DIGITS + 1, 70_000, usize::MAX] {
        let err = report.clone().with_digits(digits).unwrap_err();
        assert!(
            matches!(err, MetricError::InvalidArgument { name: "digits", .. }),
            "{err}"
        );
        let cm = ConfusionMatrix::from_labels(&[0, 1], &[0, 1], 2).unwrap();
        assert!(cm.to_normalized_table(None, digits).is_err());
    }
    // the field is public: printing clamps it rather than panicking
    let mut wide = report.clone();
    wide.digits = usize::MAX;
    let text = within_seconds("report with usize::MAX digits", move || wide.to_string());
    assert_eq!(text, report.with_digits(MAX_DIGITS).unwrap().to_string());
}

#[test]
fn pictures_and_tables_of_too_many_classes_are_errors() {
    within_seconds("pictures of huge matrices", || {
        let big = ConfusionMatrix::new(MAX_RENDER_CLASSES + 1).unwrap();
        #[allow(unused_mut)] // the pictures are added with the `plot` feature
        let mut errors = vec![
            big.to_table(None).unwrap_err(),
            big.to_normalized_table(None, 2).unwrap_err(),
        ];
        #[cfg(feature = "plot")]
        errors.extend([
            confusion_matrix_svg(&big, None, false).unwrap_err(),
            confusion_matrix_svg(&big, None, true).unwrap_err(),
        ]);
        for err in errors {
            assert!(
                matches!(
                    err,
                    MetricError::InvalidArgument {
                        name: "n_classes",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains(&MAX_RENDER_CLASSES.to_string()));
        }
        // the report (one line per class) still works
        let mut big = big;
        big.add(&[0, 5], &[0, 4]).unwrap();
        assert!(big.classification_report(None).is_ok());
        // the largest allowed picture is drawn
        #[cfg(feature = "plot")]
        {
            let most = ConfusionMatrix::from_labels(&[0, 1], &[1, 0], MAX_RENDER_CLASSES).unwrap();
            assert!(confusion_matrix_svg(&most, None, true)
                .unwrap()
                .ends_with("</svg>\n"));
        }
    });
}

#[test]
#[cfg(feature = "plot")]
fn heatmaps_of_extreme_counts_and_names_finish() {
    let svg = within_seconds("heatmap of u64::MAX / 2 counts", || {
        let cm = ConfusionMatrix::from_counts(array![[u64::MAX / 2, 0], [0, u64::MAX / 2]]).unwrap();
        confusion_matrix_svg(&cm, Some(&["a", "b"]), false)
    });
    assert!(svg.unwrap().contains(&(u64::MAX / 2).to_string()));
    let long = "n".repeat(MAX_PICTURE_SIDE as usize);
    let err = within_seconds("heatmap with a huge name", move || {
        let cm = ConfusionMatrix::from_labels(&[0], &[0], 2).unwrap();
        confusion_matrix_svg(&cm, Some(&[long.as_str(), "b"]), false)
    });
    assert!(matches!(
        err,
        Err(MetricError::InvalidArgument {
            name: "class_names",
            ..
        })
    ));
    // an empty matrix: all-zero cells, no NaN shading
    let svg = confusion_matrix_svg(&ConfusionMatrix::new(2).unwrap(), None, true).unwrap();
    assert!(!svg.contains("NaN"));
}

#[test]
#[cfg(feature = "plot")]
fn roc_pictures_of_hostile_curves_are_errors_and_never_hang() {
    let good = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
    let cases: Vec<(RocCurve, &str)> = vec![
        (
            RocCurve {
                fpr: vec![],
                tpr: vec![],
                thresholds: vec![],
            },
            "empty",
        ),
        (
            RocCurve {
                fpr: vec![0.0, 1.0],
                tpr: vec![0.0],
                thresholds: vec![],
            },
            "lengths",
        ),
        (
            RocCurve {
                fpr: vec![0.0, f64::NAN],
                tpr: vec![0.0, 1.0],
                thresholds: vec![],
            },
            "NaN",
        ),
        (
            RocCurve {
                fpr: vec![0.0, 1.0],
                tpr: vec![0.0, 1e308],
                thresholds: vec![],
            },
            "1e308",
        ),
        (
            RocCurve {
                fpr: vec![-f64::MAX, 1.0],
                tpr: vec![0.0, 1.0],
                thresholds: vec![],
            },
            "-MAX",
        ),
        (
            RocCurve {
                fpr: vec![0.0, f64::INFINITY],
                tpr: vec![0.0, 1.0],
                thresholds: vec![],
            },
            "inf",
        ),
    ];
    for (curve, what) in cases {
        let result = within_seconds(what, move || roc_curve_svg(&curve));
        let err = result.expect_err(what);
        names(&err, "ROC curve");
    }
    let svg = within_seconds("good ROC", move || roc_curve_svg(&good)).unwrap();
    assert!(svg.contains("AUC = 0.750"));
    // a single point, and a constant curve, are drawn
    let one = RocCurve {
        fpr: vec![0.5],
        tpr: vec![0.5],
        thresholds: vec![0.5],
    };
    assert!(within_seconds("one point", move || roc_curve_svg(&one)).is_ok());
}

#[test]
fn large_and_extreme_finite_values_give_finite_results() {
    let big = f32::MAX;
    let t = d([big, -big, big]);
    let p = d([-big, big, 0.0]);
    for v in [
        mean_squared_error(t.view(), p.view()),
        root_mean_squared_error(t.view(), p.view()),
        mean_absolute_error(t.view(), p.view()),
        mean_absolute_percentage_error(t.view(), p.view()),
        r2_score(t.view(), p.view()),
        mean_absolute_percentage_error(d([0.0]).view(), d([big]).view()),
    ] {
        let v = v.unwrap();
        assert!(v.is_finite(), "{v}");
    }
    let auc = roc_auc_score(&[0, 1, 0, 1], &[-big, big, f32::MIN_POSITIVE, 1e-45]).unwrap();
    assert!((0.0..=1.0).contains(&auc));
}

// ---------------------------------------------------------------- properties

/// Values a hostile caller might send.
fn hostile_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(1.0),
        Just(0.5),
        Just(2.0),
        Just(-1.0),
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(f32::MAX),
        Just(1e30),
        Just(-0.0),
        any::<f32>(),
    ]
}

/// An array of rank 0 to 3 with up to 4 entries per axis.
fn hostile_array() -> impl Strategy<Value = ArrayD<f32>> {
    prop::collection::vec(0usize..4, 0..4).prop_flat_map(|shape| {
        let n = shape.iter().product::<usize>();
        prop::collection::vec(hostile_value(), n)
            .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No streaming metric panics on any pair of arrays; a refused batch
    /// changes nothing; an accepted one gives a finite value or an error.
    #[test]
    fn streaming_metrics_never_panic(batches in prop::collection::vec((hostile_array(), hostile_array()), 1..4)) {
        for mut metric in all_streaming() {
            for (t, p) in &batches {
                let before = metric.try_result();
                if metric.update(t.view(), p.view()).is_err() {
                    prop_assert_eq!(metric.try_result(), before, "{} changed on error", metric.name());
                }
                if let Ok(v) = metric.try_result() {
                    prop_assert!(v.is_finite(), "{} gave {}", metric.name(), v);
                }
                prop_assert!(metric.result().is_finite());
            }
        }
    }

    /// The same with shapes that agree on the number of samples (so the
    /// checks past the shape checks are reached): `y_pred` `(n, k)`,
    /// `y_true` `(n,)`, `(n, 1)` or `(n, k)`, hostile values in both.
    #[test]
    fn streaming_metrics_never_panic_on_matching_shapes(
        (n, k, t_cols) in (0usize..5, 0usize..4, 0usize..3),
        values in prop::collection::vec(hostile_value(), 40),
        plain in prop::collection::vec(prop_oneof![Just(0.0f32), Just(1.0), Just(2.0), 0.0f32..1.0], 40),
        hostile_side in 0usize..3,
    ) {
        let pick = |i: usize, side: usize| if hostile_side == side { values[i % 40] } else { plain[i % 40] };
        let p = Array2::from_shape_fn((n, k), |(i, j)| pick(i * 4 + j, 0)).into_dyn();
        let t = match t_cols {
            0 => Array1::from_shape_fn(n, |i| pick(20 + i, 1)).into_dyn(),
            1 => Array2::from_shape_fn((n, 1), |(i, _)| pick(20 + i, 1)).into_dyn(),
            _ => Array2::from_shape_fn((n, k), |(i, j)| pick(20 + i * 4 + j, 1)).into_dyn(),
        };
        for mut metric in all_streaming() {
            let before = metric.try_result();
            if metric.update(t.view(), p.view()).is_err() {
                prop_assert_eq!(metric.try_result(), before, "{} changed on error", metric.name());
            }
            if let Ok(v) = metric.try_result() {
                prop_assert!(v.is_finite(), "{} gave {}", metric.name(), v);
            }
        }
    }

    /// The label-vector functions never panic, whatever the labels and the
    /// class count, and give finite values when they give any.
    #[test]
    fn label_functions_never_panic(
        t in prop::collection::vec(prop_oneof![0usize..5, Just(usize::MAX)], 0..8),
        p in prop::collection::vec(prop_oneof![0usize..5, Just(usize::MAX)], 0..8),
        n_classes in prop_oneof![0usize..6, Just(MAX_CLASSES + 1), Just(usize::MAX)],
        beta in prop_oneof![Just(0.0f64), Just(1.0), Just(f64::MAX), Just(f64::NAN), -1.0f64..10.0],
    ) {
        let values = [
            accuracy_score(&t, &p),
            precision_score(&t, &p, n_classes, Average::Macro),
            recall_score(&t, &p, n_classes, Average::Weighted),
            f1_score(&t, &p, n_classes, Average::Micro),
            fbeta_score(&t, &p, n_classes, beta, Average::Macro),
            fbeta_score(&t, &p, n_classes, beta, Average::Binary { pos_label: 1 }),
            matthews_corrcoef(&t, &p, n_classes),
            cohen_kappa_score(&t, &p, n_classes, KappaWeights::Quadratic),
        ];
        for v in values.into_iter().flatten() {
            prop_assert!(v.is_finite(), "{}", v);
        }
        if let Ok(report) = classification_report(&t, &p, n_classes, None) {
            prop_assert!(!report.to_string().contains("NaN"));
        }
    }

    /// Binary score functions never panic and stay in [0, 1].
    #[test]
    fn ranking_functions_never_panic(
        pairs in prop::collection::vec((prop_oneof![0usize..2, 2usize..4], hostile_value()), 0..10),
    ) {
        let (t, s): (Vec<usize>, Vec<f32>) = pairs.into_iter().unzip();
        for v in [roc_auc_score(&t, &s), average_precision_score(&t, &s)].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&v), "{}", v);
        }
        if let Ok(_roc) = roc_curve(&t, &s) {
            #[cfg(feature = "plot")]
            prop_assert!(roc_curve_svg(&_roc).is_ok());
        }
    }

    /// The ROC picture of any curve finishes: drawn or refused.
    #[test]
    #[cfg(feature = "plot")]
    fn roc_svg_of_any_curve_returns(points in prop::collection::vec((any::<f64>(), any::<f64>()), 0..6)) {
        let curve = RocCurve {
            fpr: points.iter().map(|p| p.0).collect(),
            tpr: points.iter().map(|p| p.1).collect(),
            thresholds: vec![],
        };
        let valid = !points.is_empty()
            && points.iter().all(|&(x, y)| (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y));
        prop_assert_eq!(roc_curve_svg(&curve).is_ok(), valid);
    }
}
