//! Classification metrics against the references on random labels.

use neurite_metrics::*;
use proptest::prelude::*;

use crate::reference as r;
use crate::util::{close, labels, one_hot, sparse_problem};

proptest! {
    #[test]
    fn accuracy_matches_reference((k, t, p) in labels(5, 40)) {
        prop_assume!(!t.is_empty());
        prop_assert_eq!(accuracy_score(&t, &p)?, r::accuracy(&t, &p));
        let cm = ConfusionMatrix::from_labels(&t, &p, k)?;
        prop_assert!(close(cm.accuracy()?, r::accuracy(&t, &p), 1e-12));
        // micro precision, recall and F1 all equal accuracy on single-label data
        for v in [cm.precision(Average::Micro, ZeroDivision::Zero)?, cm.recall(Average::Micro, ZeroDivision::Zero)?,
                  cm.f1(Average::Micro, ZeroDivision::Zero)?] {
            prop_assert!(close(v, r::accuracy(&t, &p), 1e-12));
        }
    }

    #[test]
    fn confusion_counts_match_reference((k, t, p) in labels(5, 40)) {
        let cm = confusion_matrix(&t, &p, k)?;
        for i in 0..k {
            for j in 0..k {
                let n = (0..t.len()).filter(|&s| t[s] == i && p[s] == j).count() as u64;
                prop_assert_eq!(cm.counts()[[i, j]], n);
            }
        }
        prop_assert_eq!(cm.total(), t.len() as u64);
        let norm = cm.normalized();
        for (i, row) in norm.rows().into_iter().enumerate() {
            let s: f64 = row.sum();
            let expected = if cm.support()[i] == 0 { 0.0 } else { 1.0 };
            prop_assert!(close(s, expected, 1e-12));
        }
    }

    #[test]
    fn precision_recall_f_match_reference((k, t, p) in labels(5, 40), beta in prop_oneof![Just(1.0), 0.1f64..4.0]) {
        prop_assume!(!t.is_empty());
        let cm = ConfusionMatrix::from_labels(&t, &p, k)?;
        let s = cm.class_scores(beta, ZeroDivision::Zero)?;
        let reference = r::prf(&t, &p, k, beta);
        let support = r::support(&t, k);
        for c in 0..k {
            prop_assert!(close(s.precision[c], reference[c].0, 1e-12));
            prop_assert!(close(s.recall[c], reference[c].1, 1e-12));
            prop_assert!(close(s.f_score[c], reference[c].2, 1e-12));
            prop_assert_eq!(s.support[c] as f64, support[c]);
        }
        let macro_f = reference.iter().map(|x| x.2).sum::<f64>() / k as f64;
        prop_assert!(close(cm.fbeta(beta, Average::Macro, ZeroDivision::Zero)?, macro_f, 1e-12));
        let weighted_p = reference.iter().zip(&support).map(|(x, w)| x.0 * w).sum::<f64>() / t.len() as f64;
        prop_assert!(close(precision_score(&t, &p, k, Average::Weighted)?, weighted_p, 1e-12));
        let weighted_r = reference.iter().zip(&support).map(|(x, w)| x.1 * w).sum::<f64>() / t.len() as f64;
        prop_assert!(close(recall_score(&t, &p, k, Average::Weighted)?, weighted_r, 1e-12));
        // weighted recall is accuracy
        prop_assert!(close(weighted_r, r::accuracy(&t, &p), 1e-12));
        let c = k - 1;
        let binary = f1_score(&t, &p, k, Average::Binary { pos_label: c })?;
        prop_assert!(close(binary, r::prf(&t, &p, k, 1.0)[c].2, 1e-12));
        for v in [s.precision, s.recall, s.f_score].concat() {
            prop_assert!((0.0..=1.0).contains(&v));
        }
    }

    #[test]
    fn zero_division_one_only_changes_undefined_ratios((k, t, p) in labels(4, 30)) {
        prop_assume!(!t.is_empty());
        let cm = ConfusionMatrix::from_labels(&t, &p, k)?;
        let zero = cm.class_scores(1.0, ZeroDivision::Zero)?;
        let one = cm.class_scores(1.0, ZeroDivision::One)?;
        let (pred, sup) = (cm.predicted(), cm.support());
        for c in 0..k {
            let expected_p = if pred[c] == 0 { 1.0 } else { zero.precision[c] };
            prop_assert_eq!(one.precision[c], expected_p);
            let expected_r = if sup[c] == 0 { 1.0 } else { zero.recall[c] };
            prop_assert_eq!(one.recall[c], expected_r);
        }
    }

    #[test]
    fn mcc_and_kappa_match_reference((k, t, p) in labels(5, 40)) {
        prop_assume!(!t.is_empty());
        let mcc = matthews_corrcoef(&t, &p, k)?;
        prop_assert!(close(mcc, r::mcc(&t, &p, k), 1e-9), "{} vs {}", mcc, r::mcc(&t, &p, k));
        prop_assert!((-1.0..=1.0).contains(&mcc));
        let kappa = cohen_kappa_score(&t, &p, k, KappaWeights::Unweighted)?;
        prop_assert!(close(kappa, r::kappa(&t, &p, k), 1e-9), "{} vs {}", kappa, r::kappa(&t, &p, k));
        let lin = cohen_kappa_score(&t, &p, k, KappaWeights::Linear)?;
        prop_assert!(close(lin, r::weighted_kappa(&t, &p, |a, b| a.abs_diff(b) as f64), 1e-9));
        let quad = cohen_kappa_score(&t, &p, k, KappaWeights::Quadratic)?;
        prop_assert!(close(quad, r::weighted_kappa(&t, &p, |a, b| (a.abs_diff(b) as f64).powi(2)), 1e-9));
    }

    #[test]
    fn mcc_and_kappa_are_symmetric((k, t, p) in labels(4, 30)) {
        prop_assume!(!t.is_empty());
        prop_assert!(close(matthews_corrcoef(&t, &p, k)?, matthews_corrcoef(&p, &t, k)?, 1e-12));
        for w in [KappaWeights::Unweighted, KappaWeights::Linear, KappaWeights::Quadratic] {
            prop_assert!(close(cohen_kappa_score(&t, &p, k, w)?, cohen_kappa_score(&p, &t, k, w)?, 1e-12));
        }
    }

    #[test]
    fn keras_accuracies_match_reference((t, probs) in sparse_problem(5, 40)) {
        prop_assume!(!t.is_empty());
        let k = probs.ncols();
        let argmax: Vec<usize> = probs.rows().into_iter().map(|row| {
            let mut best = 0;
            for j in 1..row.len() { if row[j] > row[best] { best = j; } }
            best
        }).collect();
        let expected = r::accuracy(&t, &argmax);
        let tf: Vec<f32> = t.iter().map(|&l| l as f32).collect();
        prop_assert_eq!(sparse_categorical_accuracy(ndarray::ArrayView1::from(&tf), probs.view())?, expected);
        prop_assert_eq!(categorical_accuracy(one_hot(&t, k).view(), probs.view())?, expected);
        // binary on the first column as a probability, labels "class 0"
        let bt: Vec<f32> = t.iter().map(|&l| f32::from(u8::from(l == 0))).collect();
        let col = probs.column(0);
        let hits = bt.iter().zip(col).filter(|(&y, &q)| (y == 1.0) == (q > 0.5)).count();
        prop_assert_eq!(binary_accuracy(ndarray::ArrayView1::from(&bt), col, 0.5)?, hits as f64 / t.len() as f64);
    }

    #[test]
    fn top_k_matches_reference((t, probs) in sparse_problem(6, 40), k in 1usize..7) {
        prop_assume!(!t.is_empty());
        if k >= probs.ncols() {
            // every sample would be a hit: a meaningless 1.0, refused
            let refused = matches!(
                top_k_accuracy(&t, probs.view(), k),
                Err(MetricError::InvalidArgument { name: "k", .. })
            );
            prop_assert!(refused);
        } else {
            prop_assert_eq!(top_k_accuracy(&t, probs.view(), k)?, r::top_k(&t, &probs, k));
        }
    }

    #[test]
    fn log_loss_matches_reference((t, probs) in sparse_problem(5, 40)) {
        prop_assume!(!t.is_empty());
        prop_assert!(close(log_loss(&t, probs.view())?, r::log_loss(&t, &probs), 1e-12));
    }

    #[test]
    fn report_rows_match_scores((k, t, p) in labels(4, 30)) {
        prop_assume!(!t.is_empty());
        let report = classification_report(&t, &p, k, None)?;
        let reference = r::prf(&t, &p, k, 1.0);
        prop_assert!(close(report.macro_avg[2], reference.iter().map(|x| x.2).sum::<f64>() / k as f64, 1e-12));
        prop_assert!(close(report.accuracy, r::accuracy(&t, &p), 1e-12));
        let text = report.to_string();
        prop_assert_eq!(text.lines().count(), k + 6);
        let support_cell = format!("{:>9}", t.len());
        prop_assert!(text.contains(&support_cell));
    }
}
