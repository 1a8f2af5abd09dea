//! Worked examples with published numbers. Unless stated otherwise the
//! inputs and expected values are the examples in scikit-learn's API
//! documentation (scikit-learn 1.9, `sklearn.metrics.<function>` pages),
//! pasted here as numbers.

use ndarray::array;
use neurite_metrics::*;

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn confusion_matrix_example() {
    // sklearn.metrics.confusion_matrix: y_true = [2, 0, 2, 2, 0, 1], y_pred = [0, 0, 2, 2, 0, 2]
    let cm = confusion_matrix(&[2, 0, 2, 2, 0, 1], &[0, 0, 2, 2, 0, 2], 3).unwrap();
    assert_eq!(cm.counts(), array![[2u64, 0, 0], [0, 0, 1], [1, 0, 2]]);
    // binary example: tn, fp, fn, tp = 0, 2, 1, 1
    let cm = confusion_matrix(&[0, 1, 0, 1], &[1, 1, 1, 0], 2).unwrap();
    assert_eq!(cm.counts(), array![[0u64, 2], [1, 1]]);
}

#[test]
fn precision_recall_f_examples() {
    // sklearn.metrics.precision_score / recall_score / f1_score / fbeta_score:
    // y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
    let (t, p) = ([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]);
    assert_close(
        precision_score(&t, &p, 3, Average::Macro).unwrap(),
        0.2222222222222222,
    );
    assert_close(
        precision_score(&t, &p, 3, Average::Micro).unwrap(),
        0.3333333333333333,
    );
    assert_close(
        precision_score(&t, &p, 3, Average::Weighted).unwrap(),
        0.2222222222222222,
    );
    assert_close(
        recall_score(&t, &p, 3, Average::Macro).unwrap(),
        0.3333333333333333,
    );
    assert_close(
        recall_score(&t, &p, 3, Average::Weighted).unwrap(),
        0.3333333333333333,
    );
    assert_close(f1_score(&t, &p, 3, Average::Macro).unwrap(), 0.26666666666666666);
    assert_close(f1_score(&t, &p, 3, Average::Micro).unwrap(), 0.3333333333333333);
    assert_close(
        f1_score(&t, &p, 3, Average::Weighted).unwrap(),
        0.26666666666666666,
    );
    assert_close(
        fbeta_score(&t, &p, 3, 0.5, Average::Macro).unwrap(),
        0.2380952380952381,
    );
    assert_close(
        fbeta_score(&t, &p, 3, 0.5, Average::Micro).unwrap(),
        0.3333333333333333,
    );
    assert_close(
        fbeta_score(&t, &p, 3, 0.5, Average::Weighted).unwrap(),
        0.2380952380952381,
    );
    // average=None: precision [0.66..., 0, 0], recall [1, 0, 0], f1 [0.8, 0, 0]
    let s = ConfusionMatrix::from_labels(&t, &p, 3)
        .unwrap()
        .class_scores(1.0, ZeroDivision::Zero)
        .unwrap();
    assert_close(s.precision[0], 0.6666666666666666);
    assert_eq!(s.recall, vec![1.0, 0.0, 0.0]);
    assert_close(s.f_score[0], 0.8);
    // f1_score: y_true = y_pred = [0, 0, 0, 0, 0, 0], zero_division=1.0 -> 1.0 (binary, pos_label 1)
    let cm = ConfusionMatrix::from_labels(&[0; 6], &[0; 6], 2).unwrap();
    assert_eq!(
        cm.f1(Average::Binary { pos_label: 1 }, ZeroDivision::One)
            .unwrap(),
        1.0
    );
    assert_eq!(
        cm.f1(Average::Binary { pos_label: 1 }, ZeroDivision::Zero)
            .unwrap(),
        0.0
    );
}

#[test]
fn agreement_examples() {
    // sklearn.metrics.matthews_corrcoef: y_true = [+1, +1, +1, -1], y_pred = [+1, -1, +1, +1] -> -0.33...
    assert_close(
        matthews_corrcoef(&[1, 1, 1, 0], &[1, 0, 1, 1], 2).unwrap(),
        -0.3333333333333333,
    );
    // sklearn.metrics.cohen_kappa_score: y1 = ["negative", "positive", "negative", "neutral", "positive"],
    // y2 = ["negative", "positive", "negative", "neutral", "negative"] -> 0.6875
    let k = cohen_kappa_score(&[0, 2, 0, 1, 2], &[0, 2, 0, 1, 0], 3, KappaWeights::Unweighted).unwrap();
    assert_close(k, 0.6875);
}

#[test]
fn accuracy_and_top_k_examples() {
    // sklearn.metrics.accuracy_score: y_pred = [0, 2, 1, 3], y_true = [0, 1, 2, 3] -> 0.5
    assert_eq!(accuracy_score(&[0, 1, 2, 3], &[0, 2, 1, 3]).unwrap(), 0.5);
    // sklearn.metrics.top_k_accuracy_score, k = 2 -> 0.75
    let s = array![
        [0.5f32, 0.2, 0.2],
        [0.3, 0.4, 0.2],
        [0.2, 0.4, 0.3],
        [0.7, 0.2, 0.1]
    ];
    assert_eq!(top_k_accuracy(&[0, 1, 2, 2], s.view(), 2).unwrap(), 0.75);
    // Keras' SparseCategoricalAccuracy docstring: y_true [[2], [1]],
    // y_pred [[0.1, 0.6, 0.3], [0.05, 0.95, 0]] -> 0.5
    let acc = sparse_categorical_accuracy(
        array![[2.0f32], [1.0]].view(),
        array![[0.1f32, 0.6, 0.3], [0.05, 0.95, 0.0]].view(),
    );
    assert_eq!(acc.unwrap(), 0.5);
    // Keras' BinaryAccuracy docstring: y_true [[1], [1], [0], [0]],
    // y_pred [[0.98], [1], [0], [0.6]] -> 0.75
    let acc = binary_accuracy(
        array![[1.0f32], [1.0], [0.0], [0.0]].view(),
        array![[0.98f32], [1.0], [0.0], [0.6]].view(),
        0.5,
    );
    assert_eq!(acc.unwrap(), 0.75);
}

#[test]
fn log_loss_example() {
    // sklearn.metrics.log_loss: ["spam", "ham", "ham", "spam"],
    // [[.1, .9], [.9, .1], [.8, .2], [.35, .65]] -> 0.21616... (ham = 0, spam = 1)
    let probs = array![[0.1f32, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]];
    let loss = log_loss(&[1, 0, 0, 1], probs.view()).unwrap();
    assert!((loss - 0.21616187468057912).abs() < 1e-7, "{loss}");
}

#[test]
fn ranking_examples() {
    // sklearn.metrics.roc_curve: y = [1, 1, 2, 2], scores = [0.1, 0.4, 0.35, 0.8], pos_label = 2
    // fpr = [0, 0, 0.5, 0.5, 1], tpr = [0, 0.5, 0.5, 1, 1], thresholds = [inf, 0.8, 0.4, 0.35, 0.1]
    let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
    assert_eq!(roc.fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
    assert_eq!(roc.tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
    let th: Vec<f32> = roc.thresholds.iter().map(|&t| t as f32).collect();
    assert_eq!(th, vec![f32::INFINITY, 0.8, 0.4, 0.35, 0.1]);
    // sklearn.metrics.roc_auc_score on the same data: 0.75 (roc_auc_score's own example uses a data set)
    assert_close(
        roc_auc_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap(),
        0.75,
    );
    // sklearn.metrics.precision_recall_curve: y_true = [0, 0, 1, 1], y_scores = [0.1, 0.4, 0.35, 0.8]
    // precision = [0.5, 0.66666667, 0.5, 1, 1], recall = [1, 1, 0.5, 0.5, 0], thresholds = [0.1, 0.35, 0.4, 0.8]
    let pr = precision_recall_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
    for (a, b) in pr.precision.iter().zip([0.5, 0.6666666666666666, 0.5, 1.0, 1.0]) {
        assert_close(*a, b);
    }
    assert_eq!(pr.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
    let th: Vec<f32> = pr.thresholds.iter().map(|&t| t as f32).collect();
    assert_eq!(th, vec![0.1, 0.35, 0.4, 0.8]);
    // sklearn.metrics.average_precision_score: same data -> 0.83...
    assert_close(
        average_precision_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap(),
        0.8333333333333333,
    );
}

#[test]
fn regression_examples() {
    // sklearn.metrics.mean_squared_error / mean_absolute_error / r2_score /
    // mean_absolute_percentage_error / root_mean_squared_error:
    // y_true = [3, -0.5, 2, 7], y_pred = [2.5, 0.0, 2, 8]
    let (t, p) = (array![3.0f32, -0.5, 2.0, 7.0], array![2.5f32, 0.0, 2.0, 8.0]);
    assert_close(mean_squared_error(t.view(), p.view()).unwrap(), 0.375);
    assert_close(mean_absolute_error(t.view(), p.view()).unwrap(), 0.5);
    assert_close(r2_score(t.view(), p.view()).unwrap(), 0.9486081370449679);
    assert_close(
        mean_absolute_percentage_error(t.view(), p.view()).unwrap(),
        0.3273809523809524,
    );
    assert_close(
        root_mean_squared_error(t.view(), p.view()).unwrap(),
        0.6123724356957945,
    );
    // multi-output: y_true = [[0.5, 1], [-1, 1], [7, -6]], y_pred = [[0, 2], [-1, 2], [8, -5]]
    let t = array![[0.5f32, 1.0], [-1.0, 1.0], [7.0, -6.0]];
    let p = array![[0.0f32, 2.0], [-1.0, 2.0], [8.0, -5.0]];
    assert_close(
        mean_squared_error(t.view(), p.view()).unwrap(),
        0.7083333333333334,
    );
    assert_close(mean_absolute_error(t.view(), p.view()).unwrap(), 0.75);
    assert_close(r2_score(t.view(), p.view()).unwrap(), 0.9368005266622779);
    // r2_score: y_true = [1, 2, 3], y_pred = [3, 2, 1] -> -3.0; constant y_true = [-2, -2, -2]
    // with y_pred = y_true -> 1.0, with y_pred = [-2, -2, -2 + 1e-8] -> 0.0 (force_finite);
    // the offset here is 0.01 since -2 + 1e-8 rounds to -2 in f32
    assert_close(
        r2_score(array![1.0f32, 2.0, 3.0].view(), array![3.0f32, 2.0, 1.0].view()).unwrap(),
        -3.0,
    );
    let c = array![-2.0f32, -2.0, -2.0];
    assert_eq!(r2_score(c.view(), c.view()).unwrap(), 1.0);
    assert_eq!(
        r2_score(c.view(), array![-2.0f32, -2.0, -1.99].view()).unwrap(),
        0.0
    );
}

#[test]
fn classification_report_example() {
    // sklearn.metrics.classification_report: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1],
    // target_names = ['class 0', 'class 1', 'class 2']; the printed table, verbatim
    let expected = "              precision    recall  f1-score   support

     class 0       0.50      1.00      0.67         1
     class 1       0.00      0.00      0.00         1
     class 2       1.00      0.67      0.80         3

    accuracy                           0.60         5
   macro avg       0.50      0.56      0.49         5
weighted avg       0.70      0.60      0.61         5
";
    let r = classification_report(
        &[0, 1, 2, 2, 2],
        &[0, 0, 2, 2, 1],
        3,
        Some(&["class 0", "class 1", "class 2"]),
    );
    assert_eq!(r.unwrap().to_string(), expected);
}
