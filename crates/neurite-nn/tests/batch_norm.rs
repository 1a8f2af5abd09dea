//! BatchNormalization: training vs inference, moving statistics after one
//! step equal the formula, channels-first axis, gradient checks, errors.

use ndarray::{arr1, arr2, Array1, Array2, Axis};
use neurite_autograd::{gradcheck, AutogradError, GradcheckOptions, Tensor, Var};
use neurite_nn::layers::BatchNormalization;
use neurite_nn::{layer_from_config, ForwardContext, Layer, NnError};
use neurite_tensor::random::{normal, rng_from_seed};
use proptest::prelude::*;

fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => AutogradError::Backward(other.to_string()),
    })
}

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 5e-3,
        atol: 1e-2,
        rtol: 1e-2,
        seed: 3,
    }
}

fn param_values(bn: &BatchNormalization) -> Vec<Tensor> {
    bn.parameters().iter().map(|p| p.var.to_tensor()).collect()
}

/// x = [[1, 10], [3, 30]]: batch means [2, 20], biased variances [1, 100].
/// Training output (epsilon 1e-3): column 0 is ±1/sqrt(1.001) = ±0.999500,
/// column 1 is ±10/sqrt(100.001) = ±0.999995. After the step:
/// moving_mean = 0.99 * 0 + 0.01 * [2, 20] = [0.02, 0.2],
/// moving_variance = 0.99 * 1 + 0.01 * [1, 100] = [1.0, 1.99].
#[test]
fn training_step_by_hand() {
    let mut bn = BatchNormalization::new();
    bn.build(&[2], &mut rng_from_seed(0)).unwrap();
    let x = Var::from_array(arr2(&[[1.0f32, 10.0], [3.0, 30.0]]));
    let y = bn
        .forward(&x, &mut ForwardContext::training(0))
        .unwrap()
        .to_tensor();
    let want = arr2(&[[-0.999500f32, -0.999995], [0.999500, 0.999995]]).into_dyn();
    for (a, b) in y.iter().zip(want.iter()) {
        assert!((a - b).abs() < 1e-5, "{y:?}");
    }
    let p = bn.parameters();
    assert_eq!(p[2].name, "batch_normalization.moving_mean");
    assert_eq!(p[3].name, "batch_normalization.moving_variance");
    assert!(!p[2].trainable && !p[3].trainable && p[0].trainable && p[1].trainable);
    let mm = p[2].var.to_tensor();
    let mv = p[3].var.to_tensor();
    assert!(
        (mm[[0]] - 0.02).abs() < 1e-6 && (mm[[1]] - 0.2).abs() < 1e-6,
        "{mm:?}"
    );
    assert!(
        (mv[[0]] - 1.0).abs() < 1e-6 && (mv[[1]] - 1.99).abs() < 1e-5,
        "{mv:?}"
    );
}

#[test]
fn training_then_inference_follow_the_formulas() {
    let (n, c) = (16, 3);
    let x2 = normal(&[n, c], 2.0, 3.0, &mut rng_from_seed(5))
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let mut bn = BatchNormalization::new().momentum(0.9);
    bn.build(&[c], &mut rng_from_seed(0)).unwrap();
    let gamma = arr1(&[0.5f32, 2.0, -1.0]);
    let beta = arr1(&[0.1f32, 0.0, 3.0]);
    bn.set_weight_vars(
        Some(Var::parameter(gamma.clone().into_dyn())),
        Some(Var::parameter(beta.clone().into_dyn())),
    )
    .unwrap();
    let y = bn
        .forward(&Var::from_array(x2.clone()), &mut ForwardContext::training(0))
        .unwrap()
        .to_tensor();
    let mean: Array1<f32> = x2.mean_axis(Axis(0)).unwrap();
    let var: Array1<f32> = x2.var_axis(Axis(0), 0.0); // biased
    for i in 0..n {
        for j in 0..c {
            let want = gamma[j] * (x2[[i, j]] - mean[j]) / (var[j] + 1e-3).sqrt() + beta[j];
            assert!((y[[i, j]] - want).abs() < 1e-4);
        }
    }
    // Before gamma/beta the batch output has mean 0 and variance var / (var + eps) ~ 1.
    let normalized: Array2<f32> = (y.into_dimensionality::<ndarray::Ix2>().unwrap() - &beta) / &gamma;
    for j in 0..c {
        let col = normalized.column(j);
        assert!(col.mean().unwrap().abs() < 1e-5);
        assert!((col.var(0.0) - var[j] / (var[j] + 1e-3)).abs() < 1e-4);
    }
    let p = bn.parameters();
    let mm = p[2].var.to_tensor();
    let mv = p[3].var.to_tensor();
    for j in 0..c {
        assert!((mm[[j]] - 0.1 * mean[j]).abs() < 1e-5);
        assert!((mv[[j]] - (0.9 + 0.1 * var[j])).abs() < 1e-4);
    }
    // Inference uses the moving statistics and leaves them alone.
    let y = bn
        .forward(&Var::from_array(x2.clone()), &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    for i in 0..n {
        for j in 0..c {
            let want = gamma[j] * (x2[[i, j]] - mm[[j]]) / (mv[[j]] + 1e-3).sqrt() + beta[j];
            assert!((y[[i, j]] - want).abs() < 1e-4);
        }
    }
    assert_eq!(bn.parameters()[2].var.to_tensor(), mm);
    // A frozen layer runs in inference mode even in a training pass (Keras).
    bn.set_trainable(false);
    let y2 = bn
        .forward(&Var::from_array(x2.clone()), &mut ForwardContext::training(1))
        .unwrap()
        .to_tensor();
    assert_eq!(y2, y);
    assert_eq!(bn.parameters()[3].var.to_tensor(), mv);
}

#[test]
fn channels_first_axis() {
    // (batch, channels, height, width), statistics over batch, height and width.
    let x = normal(&[3, 2, 4, 5], 1.0, 2.0, &mut rng_from_seed(8));
    let mut bn = BatchNormalization::new().axis(1);
    bn.build(&[2, 4, 5], &mut rng_from_seed(0)).unwrap();
    let y = bn
        .forward(&Var::constant(x.clone()), &mut ForwardContext::training(0))
        .unwrap()
        .to_tensor();
    assert_eq!(y.shape(), x.shape());
    for ch in 0..2 {
        let xs = x.index_axis(Axis(1), ch);
        let m = xs.mean().unwrap();
        let v = xs.var(0.0);
        for (a, b) in y.index_axis(Axis(1), ch).iter().zip(xs.iter()) {
            assert!((a - (b - m) / (v + 1e-3).sqrt()).abs() < 1e-4);
        }
    }
    assert_eq!(bn.parameters()[0].var.shape(), vec![2]);
}

#[test]
fn errors_name_the_layer_and_shapes() {
    let mut bn = BatchNormalization::new().with_name("bn_3");
    let x = Var::from_array(Array2::<f32>::zeros((4, 5)));
    assert!(matches!(
        bn.forward(&x, &mut ForwardContext::inference()),
        Err(NnError::NotBuilt(_))
    ));
    bn.build(&[8, 8, 3], &mut rng_from_seed(0)).unwrap();
    let msg = bn
        .forward(&x, &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bn_3") && msg.contains("(batch, *, *, 3)") && msg.contains("[4, 5]"),
        "{msg}"
    );
    let x4 = Var::from_array(ndarray::Array4::<f32>::zeros((2, 8, 8, 4)));
    let msg = bn
        .forward(&x4, &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("[2, 8, 8, 4]"), "{msg}");
    assert!(bn.output_shape(&[8, 8, 4]).is_err());
    assert_eq!(bn.output_shape(&[8, 8, 3]).unwrap(), vec![8, 8, 3]);
    let mut bad = BatchNormalization::new().axis(0);
    assert!(matches!(
        bad.build(&[3], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
    let mut bad = BatchNormalization::new().momentum(1.5);
    assert!(matches!(
        bad.build(&[3], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
}

#[test]
fn config_round_trip_and_no_center_scale() {
    let bn = BatchNormalization::new()
        .axis(1)
        .momentum(0.9)
        .epsilon(1e-5)
        .center(false)
        .with_name("b");
    let mut again = layer_from_config("BatchNormalization", &bn.config()).unwrap();
    assert_eq!(again.config(), bn.config());
    again.build(&[4, 2], &mut rng_from_seed(0)).unwrap();
    let names: Vec<String> = again.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["b.gamma", "b.moving_mean", "b.moving_variance"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn gradients_in_training_and_inference(n in 2usize..5, c in 1usize..4, rank3 in any::<bool>(),
                                           training in any::<bool>(), seed in 0u64..1000) {
        let shape = if rank3 { vec![n, 2, c] } else { vec![n, c] };
        let mut bn = BatchNormalization::new();
        bn.build(&shape[1..], &mut rng_from_seed(seed)).unwrap();
        // Non-trivial gamma/beta and moving statistics.
        bn.set_weight_vars(Some(Var::parameter(normal(&[c], 1.0, 0.5, &mut rng_from_seed(seed + 1)))),
            Some(Var::parameter(normal(&[c], 0.0, 0.5, &mut rng_from_seed(seed + 2))))).unwrap();
        bn.parameters()[3].var.set_value(normal(&[c], 0.0, 0.3, &mut rng_from_seed(seed + 3)).mapv(|v| 1.0 + v.abs()));
        let x = normal(&shape, 0.5, 2.0, &mut rng_from_seed(seed + 4));
        let mut inputs = vec![x];
        inputs.extend(param_values(&bn).into_iter().take(2));
        gradcheck(|v| {
            let mut layer = bn.clone();
            layer.set_weight_vars(Some(v[1].clone()), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
            let mut ctx = if training { ForwardContext::training(0) } else { ForwardContext::inference() };
            ag(layer.forward(&v[0], &mut ctx))
        }, &inputs, &opts()).unwrap();
    }
}

mod gc_util;

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The backward with EVERY option: center × scale × axis (last or 1 on
    /// rank-3 input) × training/inference, norm-checked (see `gc_util`).
    #[test]
    fn gradients_with_every_option(n in 2usize..5, c in 1usize..4, s in 2usize..4, seed in 0u64..1000) {
        let mut cases = 0;
        for center in [false, true] {
            for scale in [false, true] {
                for axis in [-1isize, 1] {
                    for training in [false, true] {
                        let shape = if axis == -1 { vec![n, s, c] } else { vec![n, c, s] };
                        let mut bn = BatchNormalization::new().center(center).scale(scale).axis(axis);
                        bn.build(&shape[1..], &mut rng_from_seed(seed)).unwrap();
                        let gamma = normal(&[c], 1.0, 0.5, &mut rng_from_seed(seed + 1));
                        let beta = normal(&[c], 0.0, 0.5, &mut rng_from_seed(seed + 2));
                        let stats = bn.parameters().len() - 2;
                        bn.parameters()[stats].var.set_value(normal(&[c], 0.0, 0.3, &mut rng_from_seed(seed + 3)));
                        bn.parameters()[stats + 1].var
                            .set_value(normal(&[c], 0.0, 0.3, &mut rng_from_seed(seed + 4)).mapv(|v| 1.0 + v.abs()));
                        let mut inputs = vec![normal(&shape, 0.5, 2.0, &mut rng_from_seed(seed + 5))];
                        if scale {
                            inputs.push(gamma);
                        }
                        if center {
                            inputs.push(beta);
                        }
                        let r = gc_util::norm_gradcheck(|v| {
                            let mut layer = bn.clone();
                            let g = if scale { Some(v[1].clone()) } else { None };
                            let b = if center { Some(v[inputs.len() - 1].clone()) } else { None };
                            layer.set_weight_vars(g, b).map_err(|e| AutogradError::Backward(e.to_string()))?;
                            let mut ctx = if training { ForwardContext::training(0) } else { ForwardContext::inference() };
                            ag(layer.forward(&v[0], &mut ctx))
                        }, &inputs, &gc_util::NormCheck::default());
                        prop_assert!(r.is_ok(), "center {} scale {} axis {} training {} shape {:?}: {:?}",
                            center, scale, axis, training, shape, r);
                        cases += 1;
                    }
                }
            }
        }
        prop_assert_eq!(cases, 16);
    }
}
