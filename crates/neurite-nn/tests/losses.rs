//! Reference values of every loss: Keras documentation examples (named) and
//! cases computed by hand from the formulas.

use approx::assert_abs_diff_eq;
use ndarray::{arr1, arr2};
use neurite_autograd::{gradcheck, GradcheckOptions, Var};
use neurite_nn::losses::{Loss, Reduction};
use neurite_nn::NnError;

fn v2(rows: &[&[f32]]) -> Var {
    let n = rows.len();
    let m = rows[0].len();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Var::from_array(ndarray::Array2::from_shape_vec((n, m), flat).unwrap())
}

/// An nn result as an autograd result (for `gradcheck` closures).
fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => neurite_autograd::AutogradError::Backward(other.to_string()),
    })
}

fn mean_loss(loss: Loss, t: &Var, p: &Var) -> f32 {
    loss.compute(t, p, None, Reduction::Mean).unwrap().item().unwrap()
}

// Keras docs (keras.io/api/losses/regression_losses) use y_true = [[0, 1], [0, 0]].
fn keras_true() -> Var {
    v2(&[&[0.0, 1.0], &[0.0, 0.0]])
}

#[test]
fn mse_keras_doc_example() {
    // keras.losses.MeanSquaredError docs: y_pred [[1, 1], [1, 0]] -> 0.5.
    assert_abs_diff_eq!(
        mean_loss(
            Loss::MeanSquaredError,
            &keras_true(),
            &v2(&[&[1.0, 1.0], &[1.0, 0.0]])
        ),
        0.5,
        epsilon = 1e-6
    );
}

#[test]
fn mae_keras_doc_example() {
    // keras.losses.MeanAbsoluteError docs: y_pred [[1, 1], [1, 0]] -> 0.5.
    assert_abs_diff_eq!(
        mean_loss(
            Loss::MeanAbsoluteError,
            &keras_true(),
            &v2(&[&[1.0, 1.0], &[1.0, 0.0]])
        ),
        0.5,
        epsilon = 1e-6
    );
}

#[test]
fn huber_keras_doc_example_and_linear_part() {
    // keras.losses.Huber docs: y_pred [[0.6, 0.4], [0.4, 0.6]] -> 0.155.
    let p = v2(&[&[0.6, 0.4], &[0.4, 0.6]]);
    assert_abs_diff_eq!(
        mean_loss(Loss::Huber { delta: 1.0 }, &keras_true(), &p),
        0.155,
        epsilon = 1e-6
    );
    // Beyond delta: |e| = 3, delta = 1 -> 1 * (3 - 0.5) = 2.5.
    let l = mean_loss(Loss::Huber { delta: 1.0 }, &v2(&[&[0.0]]), &v2(&[&[3.0]]));
    assert_abs_diff_eq!(l, 2.5, epsilon = 1e-6);
}

#[test]
fn binary_crossentropy_keras_doc_examples() {
    // keras.losses.BinaryCrossentropy docs, from_logits=True:
    // y_true [0, 1, 0, 0], y_pred [-18.6, 0.51, 2.94, -12.8] -> 0.865.
    let t = v2(&[&[0.0, 1.0, 0.0, 0.0]]);
    let p = v2(&[&[-18.6, 0.51, 2.94, -12.8]]);
    let l = mean_loss(Loss::BinaryCrossentropy { from_logits: true }, &t, &p);
    assert_abs_diff_eq!(l, 0.865, epsilon = 1e-3);
    // keras.losses.binary_crossentropy docs on probabilities:
    // y_true [[0, 1], [0, 0]], y_pred [[0.6, 0.4], [0.4, 0.6]] -> [0.916, 0.714], mean 0.815.
    let p = v2(&[&[0.6, 0.4], &[0.4, 0.6]]);
    let per = Loss::binary_crossentropy()
        .per_sample(&keras_true(), &p)
        .unwrap()
        .to_tensor();
    assert_abs_diff_eq!(per[[0]], -(0.4f32).ln(), epsilon = 1e-5);
    assert_abs_diff_eq!(per[[1]], -((0.6f32).ln() + (0.4f32).ln()) / 2.0, epsilon = 1e-5);
    assert_abs_diff_eq!(
        mean_loss(Loss::binary_crossentropy(), &keras_true(), &p),
        0.815,
        epsilon = 1e-3
    );
}

#[test]
fn binary_crossentropy_clips_probabilities() {
    // p = 0 for a positive label: -ln(1e-7) = 16.118, not infinity.
    let l = mean_loss(Loss::binary_crossentropy(), &v2(&[&[1.0]]), &v2(&[&[0.0]]));
    assert_abs_diff_eq!(l, -(1e-7f32).ln(), epsilon = 1e-3);
}

#[test]
fn categorical_crossentropy_keras_doc_example() {
    // keras.losses.CategoricalCrossentropy docs:
    // y_true [[0, 1, 0], [0, 0, 1]], y_pred [[0.05, 0.95, 0], [0.1, 0.8, 0.1]] -> 1.177.
    let t = v2(&[&[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0]]);
    let p = v2(&[&[0.05, 0.95, 0.0], &[0.1, 0.8, 0.1]]);
    assert_abs_diff_eq!(
        mean_loss(Loss::categorical_crossentropy(), &t, &p),
        1.177,
        epsilon = 1e-3
    );
    // Unnormalised probabilities are divided by their sum first: [0.1, 1.9, 0] == [0.05, 0.95, 0].
    let p2 = v2(&[&[0.1, 1.9, 0.0], &[0.1, 0.8, 0.1]]);
    assert_abs_diff_eq!(
        mean_loss(Loss::categorical_crossentropy(), &t, &p2),
        1.177,
        epsilon = 1e-3
    );
}

#[test]
fn categorical_crossentropy_from_logits_by_formula() {
    // -log softmax([1, 2, 3])[2] = ln(1 + e^-1 + e^-2).
    let expected = (1.0f32 + (-1.0f32).exp() + (-2.0f32).exp()).ln();
    let t = v2(&[&[0.0, 0.0, 1.0]]);
    let p = v2(&[&[1.0, 2.0, 3.0]]);
    assert_abs_diff_eq!(
        mean_loss(Loss::CategoricalCrossentropy { from_logits: true }, &t, &p),
        expected,
        epsilon = 1e-5
    );
    let labels = Var::from_array(arr1(&[2.0f32]));
    let sparse = mean_loss(
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &labels,
        &p,
    );
    assert_abs_diff_eq!(sparse, expected, epsilon = 1e-5);
}

#[test]
fn sparse_categorical_crossentropy_keras_doc_example() {
    // keras.losses.SparseCategoricalCrossentropy docs: y_true [1, 2] -> 1.177.
    let p = v2(&[&[0.05, 0.95, 0.0], &[0.1, 0.8, 0.1]]);
    let l = Loss::sparse_categorical_crossentropy();
    assert_abs_diff_eq!(
        mean_loss(l, &Var::from_array(arr1(&[1.0f32, 2.0])), &p),
        1.177,
        epsilon = 1e-3
    );
    // Labels of shape (n, 1) are accepted too.
    assert_abs_diff_eq!(mean_loss(l, &v2(&[&[1.0], &[2.0]]), &p), 1.177, epsilon = 1e-3);
}

#[test]
fn sparse_labels_are_validated() {
    let p = v2(&[&[0.2; 10], &[0.1; 10]]);
    let l = Loss::sparse_categorical_crossentropy();
    for bad in [3.5f32, -1.0, 10.0] {
        let err = l
            .per_sample(&Var::from_array(arr1(&[0.0f32, bad])), &p)
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("sparse_categorical_crossentropy"), "{msg}");
        assert!(msg.contains(&format!("{bad}")), "{msg}");
        assert!(msg.contains("10"), "{msg}");
        assert!(matches!(err, NnError::Config { .. }));
    }
    let err = l
        .per_sample(&Var::from_array(arr1(&[0.0f32, 1.0, 2.0])), &p)
        .unwrap_err();
    assert!(matches!(err, NnError::Shape { .. }), "{err}");
}

#[test]
fn kl_divergence_keras_doc_example() {
    // keras.losses.KLDivergence docs: y_pred [[0.6, 0.4], [0.4, 0.6]] -> 0.458.
    let p = v2(&[&[0.6, 0.4], &[0.4, 0.6]]);
    assert_abs_diff_eq!(
        mean_loss(Loss::KLDivergence, &keras_true(), &p),
        0.458,
        epsilon = 1e-3
    );
}

#[test]
fn hinge_keras_doc_example() {
    // keras.losses.Hinge docs: y_pred [[0.6, 0.4], [0.4, 0.6]] -> 1.3 (0/1 labels become -1/1).
    let p = v2(&[&[0.6, 0.4], &[0.4, 0.6]]);
    assert_abs_diff_eq!(mean_loss(Loss::Hinge, &keras_true(), &p), 1.3, epsilon = 1e-5);
}

#[test]
fn sample_weights_and_reductions() {
    let t = v2(&[&[0.0], &[0.0], &[0.0]]);
    let p = v2(&[&[1.0], &[2.0], &[3.0]]);
    let w = Var::from_array(arr1(&[1.0f32, 0.5, 0.0]));
    // Weighted squared errors 1, 2, 0: sum 3, sum over batch size 1.
    let s = Loss::MeanSquaredError
        .compute(&t, &p, Some(&w), Reduction::Sum)
        .unwrap()
        .item()
        .unwrap();
    let m = Loss::MeanSquaredError
        .compute(&t, &p, Some(&w), Reduction::Mean)
        .unwrap()
        .item()
        .unwrap();
    assert_abs_diff_eq!(s, 3.0, epsilon = 1e-6);
    assert_abs_diff_eq!(m, 1.0, epsilon = 1e-6);
    let w2 = Var::from_array(arr2(&[[1.0f32], [0.5], [0.0]]));
    let m2 = Loss::MeanSquaredError
        .compute(&t, &p, Some(&w2), Reduction::Mean)
        .unwrap()
        .item()
        .unwrap();
    assert_abs_diff_eq!(m2, 1.0, epsilon = 1e-6);
    assert!(Loss::MeanSquaredError
        .compute(&t, &p, Some(&Var::from_array(arr1(&[1.0f32]))), Reduction::Mean)
        .is_err());
}

#[test]
fn shapes_are_checked_and_trailing_one_is_aligned() {
    let p = v2(&[&[0.5], &[0.5]]);
    let t = Var::from_array(arr1(&[1.0f32, 0.0]));
    assert_eq!(
        Loss::binary_crossentropy().per_sample(&t, &p).unwrap().shape(),
        vec![2]
    );
    let err = Loss::MeanSquaredError
        .per_sample(&v2(&[&[1.0, 2.0, 3.0]]), &v2(&[&[1.0, 2.0]]))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("mean_squared_error") && msg.contains("[1, 3]") && msg.contains("[1, 2]"),
        "{msg}"
    );
}

#[test]
fn loss_serde_and_names() {
    for l in [
        Loss::MeanSquaredError,
        Loss::MeanAbsoluteError,
        Loss::Huber { delta: 2.0 },
        Loss::BinaryCrossentropy { from_logits: true },
        Loss::CategoricalCrossentropy { from_logits: false },
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        Loss::KLDivergence,
        Loss::Hinge,
    ] {
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Loss>(&json).unwrap(), l);
        let base = Loss::from_name(l.name()).unwrap();
        assert_eq!(std::mem::discriminant(&base), std::mem::discriminant(&l));
    }
    let l: Loss = serde_json::from_str(r#"{"name": "huber"}"#).unwrap();
    assert_eq!(l, Loss::Huber { delta: 1.0 });
}

#[test]
fn losses_have_correct_gradients() {
    let t2 = arr2(&[[0.0f32, 1.0, 0.0], [1.0, 0.0, 0.0]]).into_dyn();
    let probs = arr2(&[[0.2f32, 0.5, 0.3], [0.6, 0.1, 0.3]]).into_dyn();
    let logits = arr2(&[[0.3f32, -1.2, 0.8], [1.5, 0.1, -0.4]]).into_dyn();
    let opts = GradcheckOptions::default();
    let cases: Vec<(Loss, ndarray::ArrayD<f32>)> = vec![
        (Loss::MeanSquaredError, logits.clone()),
        (Loss::MeanAbsoluteError, logits.clone()),
        (Loss::Huber { delta: 1.0 }, logits.clone()),
        (Loss::BinaryCrossentropy { from_logits: false }, probs.clone()),
        (Loss::BinaryCrossentropy { from_logits: true }, logits.clone()),
        (
            Loss::CategoricalCrossentropy { from_logits: false },
            probs.clone(),
        ),
        (
            Loss::CategoricalCrossentropy { from_logits: true },
            logits.clone(),
        ),
        (Loss::KLDivergence, probs.clone()),
        (Loss::Hinge, logits.clone()),
    ];
    for (loss, pred) in cases {
        let t = Var::constant(t2.clone());
        gradcheck(
            |v| ag(loss.compute(&t, &v[0], None, Reduction::Mean)),
            &[pred],
            &opts,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", loss.name()));
    }
    let labels = Var::from_array(arr1(&[1.0f32, 0.0]));
    for from_logits in [false, true] {
        let loss = Loss::SparseCategoricalCrossentropy { from_logits };
        let input = if from_logits {
            logits.clone()
        } else {
            probs.clone()
        };
        gradcheck(|v| ag(loss.per_sample(&labels, &v[0])), &[input], &opts).unwrap();
    }
}
