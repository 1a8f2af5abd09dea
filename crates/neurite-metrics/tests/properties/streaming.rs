//! Streaming accumulators over any batch split equal the whole-set values.

use ndarray::{Array1, Array2, ArrayD};
use neurite_metrics::streaming::*;
use neurite_metrics::*;
use proptest::prelude::*;

use crate::util::{cuts, label_array, labels, one_hot, run_split, sparse_problem};

/// Random binary labels and probabilities, `n >= 1`.
fn binary() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    (1usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(0usize..2, n),
            prop::collection::vec(prop_oneof![0.0f32..=1.0, Just(0.5f32)], n),
        )
    })
}

proptest! {
    #[test]
    fn sparse_categorical_top_k_and_log_loss((t, probs) in sparse_problem(5, 40), c in cuts(40), k in 1usize..4) {
        prop_assume!(!t.is_empty());
        let (yt, yp) = (label_array(&t), probs.clone().into_dyn());
        let tf: Vec<f32> = t.iter().map(|&l| l as f32).collect();
        let whole = sparse_categorical_accuracy(Array1::from(tf).view(), probs.view())?;
        prop_assert_eq!(run_split(&mut Accuracy::sparse(), &yt, &yp, &c)?, whole);
        let mut auto = Accuracy::auto();
        prop_assert_eq!(run_split(&mut auto, &yt, &yp, &c)?, whole);
        prop_assert_eq!(auto.kind(), Some(AccuracyKind::Sparse));
        let k = k.min(probs.ncols() - 1);
        prop_assert_eq!(run_split(&mut TopKAccuracy::new(k)?, &yt, &yp, &c)?, top_k_accuracy(&t, probs.view(), k)?);
        prop_assert_eq!(run_split(&mut LogLoss::auto(), &yt, &yp, &c)?, log_loss(&t, probs.view())?);
        // one-hot targets give the same values
        let oh = one_hot(&t, probs.ncols()).into_dyn();
        let mut cat = Accuracy::auto();
        prop_assert_eq!(run_split(&mut cat, &oh, &yp, &c)?, whole);
        prop_assert_eq!(cat.kind(), Some(AccuracyKind::Categorical));
        prop_assert_eq!(run_split(&mut TopKAccuracy::new(k)?, &oh, &yp, &c)?, top_k_accuracy(&t, probs.view(), k)?);
        let ll = run_split(&mut LogLoss::auto(), &oh, &yp, &c)?;
        prop_assert!((ll - log_loss(&t, probs.view())?).abs() <= 1e-12 * ll.max(1.0));
    }

    #[test]
    fn binary_accuracy_log_loss_auc_ap((t, s) in binary(), c in cuts(40)) {
        let yt = label_array(&t);
        let col = Array2::from_shape_vec((s.len(), 1), s.clone()).unwrap().into_dyn();
        let mut auto = Accuracy::auto();
        let whole = binary_accuracy(yt.view(), col.view(), 0.5)?;
        prop_assert_eq!(run_split(&mut auto, &yt, &col, &c)?, whole);
        prop_assert_eq!(auto.kind(), Some(AccuracyKind::Binary { threshold: 0.5 }));
        let col_view = Array2::from_shape_vec((s.len(), 1), s.clone()).unwrap();
        prop_assert_eq!(run_split(&mut LogLoss::auto(), &yt, &col, &c)?, log_loss(&t, col_view.view())?);
        prop_assert_eq!(run_split(&mut RocAuc::new(), &yt, &col, &c), roc_auc_score(&t, &s));
        prop_assert_eq!(run_split(&mut AveragePrecision::new(), &yt, &col, &c), average_precision_score(&t, &s));
    }

    #[test]
    fn confusion_matrix_metric((k, t, p) in labels(4, 40), c in cuts(40)) {
        prop_assume!(!t.is_empty() && k >= 2);
        let yt = label_array(&t);
        let yp = one_hot(&p, k).into_dyn();
        let cm = ConfusionMatrix::from_labels(&t, &p, k)?;
        let summaries = [
            (Summary::Accuracy, cm.accuracy()?),
            (Summary::Precision(Average::Macro), cm.precision(Average::Macro, ZeroDivision::Zero)?),
            (Summary::Recall(Average::Weighted), cm.recall(Average::Weighted, ZeroDivision::Zero)?),
            (Summary::FBeta { beta: 2.0, average: Average::Micro }, cm.fbeta(2.0, Average::Micro, ZeroDivision::Zero)?),
            (Summary::MatthewsCorrcoef, cm.matthews_corrcoef()?),
            (Summary::CohenKappa(KappaWeights::Quadratic), cm.cohen_kappa(KappaWeights::Quadratic)?),
        ];
        for (summary, expected) in summaries {
            let mut m = ConfusionMatrixMetric::new(k)?.with_summary(summary)?;
            prop_assert_eq!(run_split(&mut m, &yt, &yp, &c)?, expected);
            prop_assert_eq!(m.matrix(), &cm);
        }
    }

    #[test]
    fn regression_metrics(
        v in prop::collection::vec((-100f32..100.0, -100f32..100.0), 1..40),
        d in 1usize..3,
        c in cuts(40),
    ) {
        let n = v.len() / d;
        prop_assume!(n > 0);
        let (t, p): (Vec<f32>, Vec<f32>) = v.into_iter().take(n * d).unzip();
        let t = Array2::from_shape_vec((n, d), t).unwrap();
        let p = Array2::from_shape_vec((n, d), p).unwrap();
        let (yt, yp): (ArrayD<f32>, ArrayD<f32>) = (t.clone().into_dyn(), p.clone().into_dyn());
        prop_assert_eq!(run_split(&mut Mse::new(), &yt, &yp, &c)?, mean_squared_error(t.view(), p.view())?);
        prop_assert_eq!(run_split(&mut Rmse::new(), &yt, &yp, &c)?, root_mean_squared_error(t.view(), p.view())?);
        prop_assert_eq!(run_split(&mut Mae::new(), &yt, &yp, &c)?, mean_absolute_error(t.view(), p.view())?);
        prop_assert_eq!(run_split(&mut Mape::new(), &yt, &yp, &c)?, mean_absolute_percentage_error(t.view(), p.view())?);
        prop_assert_eq!(run_split(&mut R2Score::new(), &yt, &yp, &c)?, r2_score(t.view(), p.view())?);
    }
}

#[test]
fn reset_forgets_everything_and_errors_change_nothing() {
    let t = ndarray::array![0.0f32, 1.0].into_dyn();
    let p = ndarray::array![[0.9f32, 0.1], [0.2, 0.8]].into_dyn();
    let bad = ndarray::array![0.0f32, 5.0].into_dyn();
    let mut metrics: Vec<Box<dyn StreamingMetric>> = vec![
        Box::new(Accuracy::auto()),
        Box::new(TopKAccuracy::new(1).unwrap()),
        Box::new(LogLoss::auto()),
        Box::new(ConfusionMatrixMetric::new(2).unwrap()),
    ];
    for m in &mut metrics {
        m.update(t.view(), p.view()).unwrap();
        let before = m.result();
        assert!(m.update(bad.view(), p.view()).is_err(), "{}", m.name());
        assert_eq!(m.result(), before, "{} changed on a failed update", m.name());
        m.reset();
        assert_eq!(m.result(), 0.0, "{}", m.name());
        assert!(
            matches!(m.try_result(), Err(MetricError::Empty { .. })),
            "{}",
            m.name()
        );
    }
}

#[test]
fn names_are_keras_like() {
    let names: Vec<String> = [
        Box::new(Accuracy::auto()) as Box<dyn StreamingMetric>,
        Box::new(Accuracy::binary()),
        Box::new(Accuracy::categorical()),
        Box::new(Accuracy::sparse()),
        Box::new(TopKAccuracy::new(5).unwrap()),
        Box::new(Mse::new()),
        Box::new(Rmse::new()),
        Box::new(Mae::new()),
        Box::new(Mape::new()),
        Box::new(R2Score::new()),
        Box::new(LogLoss::auto()),
        Box::new(RocAuc::new()),
    ]
    .iter()
    .map(|m| m.name().to_string())
    .collect();
    assert_eq!(
        names,
        [
            "accuracy",
            "binary_accuracy",
            "categorical_accuracy",
            "sparse_categorical_accuracy",
            "top_k_accuracy",
            "mse",
            "rmse",
            "mae",
            "mape",
            "r2_score",
            "log_loss",
            "auc"
        ]
    );
}
