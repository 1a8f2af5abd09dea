//! Boundary cases: all one class, an empty class, perfect and inverted
//! predictions, empty and invalid inputs give the documented values or
//! errors, never NaN and never a panic.

use ndarray::{array, Array1, Array2};
use neurite_metrics::streaming::*;
use neurite_metrics::*;
use proptest::prelude::*;

const ZD: ZeroDivision = ZeroDivision::Zero;

#[test]
fn perfect_predictions() {
    let t = [0, 1, 2, 1, 0, 2];
    let cm = ConfusionMatrix::from_labels(&t, &t, 3).unwrap();
    assert_eq!(cm.accuracy().unwrap(), 1.0);
    for a in [Average::Macro, Average::Micro, Average::Weighted] {
        assert_eq!(cm.precision(a, ZD).unwrap(), 1.0);
        assert_eq!(cm.recall(a, ZD).unwrap(), 1.0);
        assert_eq!(cm.f1(a, ZD).unwrap(), 1.0);
    }
    assert_eq!(cm.matthews_corrcoef().unwrap(), 1.0);
    assert_eq!(cm.cohen_kappa(KappaWeights::Unweighted).unwrap(), 1.0);
    assert_eq!(roc_auc_score(&[0, 1, 0, 1], &[0.1, 0.9, 0.2, 0.8]).unwrap(), 1.0);
    assert_eq!(
        average_precision_score(&[0, 1, 0, 1], &[0.1, 0.9, 0.2, 0.8]).unwrap(),
        1.0
    );
    let y = array![1.0f32, 2.0, 3.0];
    assert_eq!(mean_squared_error(y.view(), y.view()).unwrap(), 0.0);
    assert_eq!(r2_score(y.view(), y.view()).unwrap(), 1.0);
}

#[test]
fn inverted_binary_predictions() {
    let t = [0, 1, 0, 1];
    let p = [1, 0, 1, 0];
    assert_eq!(accuracy_score(&t, &p).unwrap(), 0.0);
    assert_eq!(matthews_corrcoef(&t, &p, 2).unwrap(), -1.0);
    assert_eq!(
        cohen_kappa_score(&t, &p, 2, KappaWeights::Unweighted).unwrap(),
        -1.0
    );
    assert_eq!(f1_score(&t, &p, 2, Average::Macro).unwrap(), 0.0);
    assert_eq!(roc_auc_score(&t, &[0.9, 0.1, 0.8, 0.2]).unwrap(), 0.0);
}

#[test]
fn all_one_class() {
    // Truth and prediction all class 0 out of 2: MCC and kappa are undefined
    // and documented as 0.0; class 1 has no sample and no prediction, so its
    // precision, recall and F1 take the zero-division value.
    let t = [0, 0, 0];
    let cm = ConfusionMatrix::from_labels(&t, &t, 2).unwrap();
    assert_eq!(cm.accuracy().unwrap(), 1.0);
    assert_eq!(cm.matthews_corrcoef().unwrap(), 0.0);
    assert_eq!(cm.cohen_kappa(KappaWeights::Unweighted).unwrap(), 0.0);
    assert_eq!(cm.cohen_kappa(KappaWeights::Quadratic).unwrap(), 0.0);
    assert_eq!(cm.precision(Average::Macro, ZeroDivision::Zero).unwrap(), 0.5);
    assert_eq!(cm.precision(Average::Macro, ZeroDivision::One).unwrap(), 1.0);
    assert_eq!(cm.f1(Average::Weighted, ZD).unwrap(), 1.0);
    assert_eq!(cm.f1(Average::Micro, ZD).unwrap(), 1.0);
    assert_eq!(cm.normalized().row(1).to_vec(), vec![0.0, 0.0]);
    // ROC and PR need both classes (PR: positives) and say so.
    assert!(matches!(
        roc_auc_score(&[1, 1], &[0.3, 0.6]),
        Err(MetricError::Undefined {
            metric: "roc_auc",
            ..
        })
    ));
    assert!(matches!(
        roc_auc_score(&[0, 0], &[0.3, 0.6]),
        Err(MetricError::Undefined { .. })
    ));
    assert!(matches!(
        average_precision_score(&[0, 0], &[0.3, 0.6]),
        Err(MetricError::Undefined { .. })
    ));
    assert_eq!(average_precision_score(&[1, 1], &[0.3, 0.6]).unwrap(), 1.0);
    // streaming: undefined reads as 0.0
    let mut auc = RocAuc::new();
    auc.update(
        array![1.0f32, 1.0].into_dyn().view(),
        array![0.3f32, 0.6].into_dyn().view(),
    )
    .unwrap();
    assert_eq!(auc.result(), 0.0);
    // a constant regression target: R² is 1 for exact predictions, else 0
    let c = array![2.0f32, 2.0, 2.0];
    assert_eq!(r2_score(c.view(), c.view()).unwrap(), 1.0);
    assert_eq!(r2_score(c.view(), array![2.0f32, 2.5, 2.0].view()).unwrap(), 0.0);
}

#[test]
fn empty_inputs_are_errors_and_streaming_reads_zero() {
    assert_eq!(
        accuracy_score(&[], &[]),
        Err(MetricError::Empty { metric: "accuracy" })
    );
    let cm = ConfusionMatrix::new(3).unwrap();
    assert!(matches!(cm.accuracy(), Err(MetricError::Empty { .. })));
    assert!(matches!(
        cm.f1(Average::Macro, ZD),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(cm.matthews_corrcoef(), Err(MetricError::Empty { .. })));
    assert!(matches!(
        cm.classification_report(None),
        Err(MetricError::Empty { .. })
    ));
    let e = Array1::<f32>::zeros(0);
    assert_eq!(
        mean_squared_error(e.view(), e.view()),
        Err(MetricError::Empty { metric: "mse" })
    );
    assert_eq!(
        r2_score(e.view(), e.view()),
        Err(MetricError::Empty { metric: "r2_score" })
    );
    let probs = Array2::<f32>::zeros((0, 3));
    assert!(matches!(
        log_loss(&[], probs.view()),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        top_k_accuracy(&[], probs.view(), 2),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(roc_auc_score(&[], &[]), Err(MetricError::Empty { .. })));
    for m in [
        &Mse::new() as &dyn StreamingMetric,
        &R2Score::new(),
        &Accuracy::auto(),
        &RocAuc::new(),
    ] {
        assert_eq!(m.result(), 0.0);
    }
}

#[test]
fn invalid_inputs_are_errors_naming_the_metric() {
    let e = precision_score(&[0, 1], &[0, 3], 2, Average::Macro).unwrap_err();
    assert_eq!(
        e,
        MetricError::LabelOutOfRange {
            metric: "precision",
            label: 3,
            n_classes: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "precision: label 3 out of range: expected a class index in 0..2"
    );
    assert!(matches!(
        f1_score(&[0], &[0, 1], 2, Average::Macro),
        Err(MetricError::LengthMismatch { .. })
    ));
    assert!(matches!(
        ConfusionMatrix::new(0),
        Err(MetricError::InvalidArgument { .. })
    ));
    assert!(matches!(
        f1_score(&[0, 1], &[0, 1], 2, Average::Binary { pos_label: 2 }),
        Err(MetricError::LabelOutOfRange { .. })
    ));
    let cm = ConfusionMatrix::from_labels(&[0], &[0], 2).unwrap();
    assert!(matches!(
        cm.fbeta(-1.0, Average::Macro, ZD),
        Err(MetricError::InvalidArgument { .. })
    ));
    assert!(matches!(
        cm.to_table(Some(&["a"])),
        Err(MetricError::InvalidArgument { .. })
    ));
    assert!(matches!(
        TopKAccuracy::new(0),
        Err(MetricError::InvalidArgument { .. })
    ));
    // probabilities outside [0, 1] and NaN
    let p = array![[0.5f32, 1.5]];
    assert!(matches!(
        log_loss(&[0], p.view()),
        Err(MetricError::InvalidValue {
            metric: "log_loss",
            ..
        })
    ));
    let nan = array![f32::NAN, 1.0];
    let err = mean_squared_error(nan.view(), array![1.0f32, 1.0].view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mse: invalid value NaN at index 0: expected a finite number"
    );
    assert!(matches!(
        roc_auc_score(&[0, 1], &[f32::NAN, 0.2]),
        Err(MetricError::InvalidValue { .. })
    ));
    assert!(matches!(
        roc_auc_score(&[0, 2], &[0.1, 0.2]),
        Err(MetricError::LabelOutOfRange { .. })
    ));
    // shapes
    let y = array![1.0f32, 2.0, 3.0];
    let err = mean_absolute_error(y.view(), array![1.0f32, 2.0].view()).unwrap_err();
    assert_eq!(
        err,
        MetricError::LengthMismatch {
            metric: "mae",
            expected: 3,
            found: 2
        }
    );
    let mut acc = Accuracy::sparse();
    let err = acc.update(
        array![0.0f32, 1.5].into_dyn().view(),
        array![[0.1f32, 0.9], [0.5, 0.5]].into_dyn().view(),
    );
    assert!(matches!(err, Err(MetricError::InvalidValue { index: 1, .. })));
    let err = Accuracy::binary().update(
        array![0.0f32, 2.0].into_dyn().view(),
        array![0.1f32, 0.9].into_dyn().view(),
    );
    assert!(matches!(
        err,
        Err(MetricError::InvalidValue {
            expected: "a binary label 0 or 1",
            ..
        })
    ));
    let mut r2 = R2Score::new();
    r2.update(
        array![[1.0f32, 2.0]].into_dyn().view(),
        array![[1.0f32, 2.0]].into_dyn().view(),
    )
    .unwrap();
    assert!(matches!(
        r2.update(array![1.0f32].into_dyn().view(), array![1.0f32].into_dyn().view()),
        Err(MetricError::ShapeMismatch { .. })
    ));
    let mut cmm = ConfusionMatrixMetric::new(3).unwrap();
    assert!(matches!(
        cmm.update(array![1.0f32].into_dyn().view(), array![0.7f32].into_dyn().view()),
        Err(MetricError::ShapeMismatch { .. })
    ));
}

proptest! {
    /// Whatever the labels, no metric returns NaN or infinity.
    #[test]
    fn never_nan((k, t, p) in crate::util::labels(4, 12)) {
        prop_assume!(!t.is_empty());
        let cm = ConfusionMatrix::from_labels(&t, &p, k)?;
        let mut values = vec![cm.accuracy()?, cm.matthews_corrcoef()?];
        for w in [KappaWeights::Unweighted, KappaWeights::Linear, KappaWeights::Quadratic] {
            values.push(cm.cohen_kappa(w)?);
        }
        for zd in [ZeroDivision::Zero, ZeroDivision::One] {
            for a in [Average::Macro, Average::Micro, Average::Weighted, Average::Binary { pos_label: 0 }] {
                values.extend([cm.precision(a, zd)?, cm.recall(a, zd)?, cm.f1(a, zd)?, cm.fbeta(0.0, a, zd)?]);
            }
        }
        prop_assert!(values.iter().all(|v| v.is_finite()), "{:?}", values);
        prop_assert!(cm.normalized().iter().all(|v| v.is_finite()));
    }

    /// Confident wrong probabilities give a large but finite log loss.
    #[test]
    fn log_loss_is_finite(t in prop::collection::vec(0usize..2, 1..10)) {
        let wrong: Vec<f32> = t.iter().map(|&l| if l == 1 { 0.0 } else { 1.0 }).collect();
        let probs = Array2::from_shape_vec((t.len(), 1), wrong).unwrap();
        let loss = log_loss(&t, probs.view())?;
        prop_assert!(loss.is_finite() && loss > 30.0);
    }
}
