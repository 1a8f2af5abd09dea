//! ROC and precision-recall curves against references on random scores.

use neurite_metrics::*;
use proptest::prelude::*;

use crate::reference as r;
use crate::util::close;

/// Binary labels with both classes present, and scores with many ties.
fn scored() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    (2usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(0usize..2, n),
            prop::collection::vec(prop_oneof![-3.0f32..3.0, (0i32..5).prop_map(|v| v as f32)], n),
        )
    })
}

proptest! {
    #[test]
    fn roc_auc_is_mann_whitney((t, s) in scored()) {
        let pos = t.iter().filter(|&&l| l == 1).count();
        prop_assume!(pos > 0 && pos < t.len());
        let auc = roc_auc_score(&t, &s)?;
        prop_assert!(close(auc, r::auc(&t, &s), 1e-12), "{} vs {}", auc, r::auc(&t, &s));
        // inverting the scores mirrors the AUC
        let neg: Vec<f32> = s.iter().map(|v| -v).collect();
        prop_assert!(close(roc_auc_score(&t, &neg)?, 1.0 - auc, 1e-12));
    }

    #[test]
    fn roc_curve_is_monotone_from_origin_to_corner((t, s) in scored()) {
        let pos = t.iter().filter(|&&l| l == 1).count();
        prop_assume!(pos > 0 && pos < t.len());
        let roc = roc_curve(&t, &s)?;
        prop_assert_eq!((roc.fpr[0], roc.tpr[0]), (0.0, 0.0));
        prop_assert_eq!((*roc.fpr.last().unwrap(), *roc.tpr.last().unwrap()), (1.0, 1.0));
        prop_assert!(roc.fpr.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(roc.tpr.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(roc.thresholds.windows(2).all(|w| w[0] > w[1]));
        prop_assert_eq!(roc.fpr.len(), roc.thresholds.len());
    }

    #[test]
    fn average_precision_matches_reference((t, s) in scored()) {
        prop_assume!(t.contains(&1));
        let ap = average_precision_score(&t, &s)?;
        prop_assert!(close(ap, r::average_precision(&t, &s), 1e-12), "{} vs {}", ap, r::average_precision(&t, &s));
        let pr = precision_recall_curve(&t, &s)?;
        prop_assert_eq!(pr.precision.len(), pr.thresholds.len() + 1);
        prop_assert!(pr.recall.windows(2).all(|w| w[0] >= w[1]));
        prop_assert!(pr.thresholds.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(*pr.recall.first().unwrap(), 1.0);
    }
}
