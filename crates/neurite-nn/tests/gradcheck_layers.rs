//! Finite-difference gradient checks through every part-A layer, with
//! respect to the input and to the layer's parameters, on random small shapes.

use neurite_autograd::{gradcheck, ops, AutogradError, GradcheckOptions, Tensor, Var};
use neurite_nn::layers::*;
use neurite_nn::{Activation, ForwardContext, Layer, NnError};
use neurite_tensor::random::{normal, rng_from_seed};
use neurite_tensor::Padding;
use proptest::prelude::*;
use rand::seq::SliceRandom;

fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => AutogradError::Backward(other.to_string()),
    })
}

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-2,
        atol: 2e-2,
        rtol: 2e-2,
        seed: 0,
    }
}

/// Shuffled values at least 0.05 apart (no ties for max pooling, no kinks hit by the FD step).
fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    // ±0.03, ±0.08, ±0.13, ...: distinct and at least 0.03 (> eps) away from the kinks at 0.
    let mut v: Vec<f32> = (0..n)
        .map(|i| {
            let m = (i / 2 + 1) as f32 * 0.05 - 0.02;
            if i % 2 == 0 {
                m
            } else {
                -m
            }
        })
        .collect();
    v.shuffle(&mut rng_from_seed(seed));
    Tensor::from_shape_vec(shape, v).unwrap()
}

fn weights(layer: &dyn Layer) -> Vec<Tensor> {
    layer.parameters().iter().map(|p| p.var.to_tensor()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn dense_gradients(batch in 1usize..4, inp in 1usize..5, units in 1usize..4, rank3 in any::<bool>(),
                       seed in 0u64..1000, act in 0usize..4) {
        let activation = [Activation::Linear, Activation::Tanh, Activation::Sigmoid, Activation::Softmax][act];
        let mut d = Dense::new(units).activation(activation);
        d.build(&[inp], &mut rng_from_seed(seed)).unwrap();
        let xshape = if rank3 { vec![batch, 2, inp] } else { vec![batch, inp] };
        let x = normal(&xshape, 0.0, 1.0, &mut rng_from_seed(seed + 1));
        let mut inputs = vec![x];
        inputs.extend(weights(&d));
        gradcheck(|v| {
            let mut layer = d.clone();
            layer.set_weight_vars(v[1].clone(), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::inference()))
        }, &inputs, &opts()).unwrap();
    }

    #[test]
    fn conv2d_gradients(batch in 1usize..3, h in 3usize..6, w in 3usize..6, c in 1usize..3, f in 1usize..3,
                        k in 1usize..3, stride in 1usize..3, same in any::<bool>(), dilate in any::<bool>(),
                        seed in 0u64..1000) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let (stride, dilation) = if dilate { (1, 2) } else { (stride, 1) };
        let mut conv = Conv2D::new(f, (k, k)).strides((stride, stride)).padding(padding)
            .dilation_rate((dilation, dilation)).activation(Activation::Tanh);
        conv.build(&[h, w, c], &mut rng_from_seed(seed)).unwrap();
        let x = normal(&[batch, h, w, c], 0.0, 1.0, &mut rng_from_seed(seed + 1));
        let mut inputs = vec![x];
        inputs.extend(weights(&conv));
        gradcheck(|v| {
            let mut layer = conv.clone();
            layer.set_weight_vars(v[1].clone(), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
            ag(layer.forward(&v[0], &mut ForwardContext::inference()))
        }, &inputs, &opts()).unwrap();
    }

    #[test]
    fn pooling_gradients(batch in 1usize..3, h in 2usize..6, w in 2usize..6, c in 1usize..3, p in 1usize..3,
                         stride in 1usize..3, same in any::<bool>(), seed in 0u64..1000) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let x = distinct(&[batch, h, w, c], seed);
        let layers: Vec<Box<dyn Layer>> = vec![
            Box::new(MaxPooling2D::new((p, p)).strides((stride, stride)).padding(padding)),
            Box::new(AveragePooling2D::new((p, p)).strides((stride, stride)).padding(padding)),
            Box::new(GlobalAveragePooling2D::new()),
            Box::new(GlobalMaxPooling2D::new().keepdims(true)),
        ];
        for layer in &layers {
            gradcheck(|v| ag(layer.forward(&v[0], &mut ForwardContext::inference())), std::slice::from_ref(&x), &opts())
                .unwrap_or_else(|e| panic!("{}: {e}", layer.name()));
        }
    }

    #[test]
    fn shape_and_activation_layer_gradients(batch in 1usize..3, a in 1usize..4, b in 1usize..4,
                                            act in 0usize..11, seed in 0u64..1000) {
        let activations = [Activation::Linear, Activation::Relu, Activation::Sigmoid, Activation::Tanh,
            Activation::Softmax, Activation::LeakyRelu, Activation::Elu, Activation::Selu, Activation::Gelu,
            Activation::Softplus, Activation::Swish];
        let x = distinct(&[batch, a, b], seed);
        let layers: Vec<Box<dyn Layer>> = vec![
            Box::new(Flatten::new()),
            Box::new(Reshape::new([-1])),
            Box::new(Reshape::new([b as i64, a as i64])),
            Box::new(ActivationLayer::new(activations[act])),
        ];
        for layer in &layers {
            gradcheck(|v| ag(layer.forward(&v[0], &mut ForwardContext::inference())), std::slice::from_ref(&x), &opts())
                .unwrap_or_else(|e| panic!("{}: {e}", layer.name()));
        }
        // Dropout in training: the same seed gives the same mask on every evaluation.
        let d = Dropout::new(0.4);
        gradcheck(|v| ag(d.forward(&v[0], &mut ForwardContext::training(seed))), std::slice::from_ref(&x), &opts()).unwrap();
    }
}

mod gc_util;

/// Every activation a `Dense`/`Conv2D`/`ActivationLayer` accepts by name.
const ALL_ACTIVATIONS: [Activation; 11] = [
    Activation::Linear,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softmax,
    Activation::LeakyRelu,
    Activation::Elu,
    Activation::Selu,
    Activation::Gelu,
    Activation::Softplus,
    Activation::Swish,
];

/// Inputs drawn by `draw(seed + 1000 * attempt)`; for activations whose
/// derivative jumps at 0 (relu, leaky relu, selu; elu with alpha 1 is smooth
/// to first order) the first draw on which no finite-difference step crosses
/// the kink of `linear` (the layer without activation), see
/// `gc_util::kink_free_inputs`.
fn checkable_inputs<D, L>(activation: Activation, seed: u64, draw: D, linear: L) -> Option<Vec<Tensor>>
where
    D: Fn(u64) -> Vec<Tensor>,
    L: Fn(&[Var]) -> neurite_autograd::Result<Var>,
{
    let draw = |attempt: u64| draw(seed + 1000 * attempt);
    if !kinked(activation) {
        return Some(draw(0));
    }
    let linear = |t: &[Tensor]| {
        let vars: Vec<Var> = t.iter().map(|x| Var::constant(x.clone())).collect();
        linear(&vars).expect("linear forward").to_tensor()
    };
    gc_util::kink_free_inputs(draw, linear, gc_util::NormCheck::default().eps, 200)
}

fn kinked(a: Activation) -> bool {
    matches!(a, Activation::Relu | Activation::LeakyRelu | Activation::Selu)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Dense with EVERY activation × use_bias × rank-2/rank-3 input.
    #[test]
    fn dense_every_option(batch in 1usize..4, inp in 1usize..5, units in 2usize..4, seed in 0u64..1000) {
        let mut n = 0;
        for activation in ALL_ACTIVATIONS {
            for use_bias in [false, true] {
                for rank3 in [false, true] {
                    let d = Dense::new(units).activation(activation).use_bias(use_bias);
                    let xshape = if rank3 { vec![batch, 2, inp] } else { vec![batch, inp] };
                    let draw = |s: u64| {
                        let mut d = d.clone();
                        d.build(&[inp], &mut rng_from_seed(s)).unwrap();
                        let mut inputs = vec![normal(&xshape, 0.0, 1.0, &mut rng_from_seed(s + 1))];
                        inputs.extend(weights(&d));
                        if use_bias {
                            // Glorot bias is zeros: make it random so the check sees it.
                            inputs[2] = normal(&[units], 0.0, 0.5, &mut rng_from_seed(s + 2));
                        }
                        inputs
                    };
                    // Built once; each evaluation clones it and sets the checked weights.
                    let f = |activation: Activation| {
                        let mut built = Dense::new(units).activation(activation).use_bias(use_bias);
                        built.build(&[inp], &mut rng_from_seed(0)).unwrap();
                        move |v: &[Var]| {
                            let mut layer = built.clone();
                            layer.set_weight_vars(v[1].clone(), v.get(2).cloned())
                                .map_err(|e| AutogradError::Backward(e.to_string()))?;
                            ag(layer.forward(&v[0], &mut ForwardContext::inference()))
                        }
                    };
                    let inputs = checkable_inputs(activation, seed, draw, f(Activation::Linear));
                    prop_assert!(inputs.is_some(), "{:?}: no kink-free draw", activation);
                    let r = gc_util::norm_gradcheck(f(activation), &inputs.unwrap(), &gc_util::NormCheck::default());
                    prop_assert!(r.is_ok(), "{:?} use_bias {} rank3 {}: {:?}", activation, use_bias, rank3, r);
                    n += 1;
                }
            }
        }
        prop_assert_eq!(n, 44);
    }

    /// Conv2D with EVERY activation, and every padding × stride (1, 2) ×
    /// dilation (1, 2; Keras refuses strides and dilation both > 1) × use_bias.
    #[test]
    fn conv2d_every_option(batch in 1usize..3, h in 4usize..6, c in 1usize..3, f in 1usize..3,
                           k in 1usize..3, seed in 0u64..1000) {
        let mut n = 0;
        let mut activations = ALL_ACTIVATIONS.iter().cycle();
        for padding in [Padding::Valid, Padding::Same] {
            for (stride, dilation) in [(1, 1), (2, 1), (1, 2)] {
                for use_bias in [false, true] {
                    // All 11 activations for the first option set, then one each in turn.
                    let acts: Vec<Activation> = if n == 0 {
                        ALL_ACTIVATIONS.to_vec()
                    } else {
                        vec![*activations.next().unwrap()]
                    };
                    for activation in acts {
                        let conv = |activation: Activation| Conv2D::new(f, (k, k)).strides((stride, stride))
                            .padding(padding).dilation_rate((dilation, dilation)).activation(activation)
                            .use_bias(use_bias);
                        let draw = |s: u64| {
                            let mut layer = conv(activation);
                            layer.build(&[h, h, c], &mut rng_from_seed(s)).unwrap();
                            let mut inputs = vec![normal(&[batch, h, h, c], 0.0, 1.0, &mut rng_from_seed(s + 1))];
                            inputs.extend(weights(&layer));
                            if use_bias {
                                inputs[2] = normal(&[f], 0.0, 0.5, &mut rng_from_seed(s + 2));
                            }
                            inputs
                        };
                        // Built once; each evaluation clones it and sets the checked weights.
                        let forward = |activation: Activation| {
                            let mut built = conv(activation);
                            built.build(&[h, h, c], &mut rng_from_seed(0)).unwrap();
                            move |v: &[Var]| {
                                let mut layer = built.clone();
                                layer.set_weight_vars(v[1].clone(), v.get(2).cloned())
                                    .map_err(|e| AutogradError::Backward(e.to_string()))?;
                                ag(layer.forward(&v[0], &mut ForwardContext::inference()))
                            }
                        };
                        let inputs = checkable_inputs(activation, seed, draw, forward(Activation::Linear));
                        prop_assert!(inputs.is_some(), "{:?}: no kink-free draw", activation);
                        let r = gc_util::norm_gradcheck(forward(activation), &inputs.unwrap(),
                            &gc_util::NormCheck::default());
                        prop_assert!(r.is_ok(), "{:?} {:?} stride {} dilation {} use_bias {}: {:?}",
                            activation, padding, stride, dilation, use_bias, r);
                        n += 1;
                    }
                }
            }
        }
        prop_assert_eq!(n, 11 + 11);
    }

    /// Pooling: max and average with every pool size 1..3 × stride 1..2 ×
    /// padding, global max/average with and without keepdims.
    #[test]
    fn pooling_every_option(batch in 1usize..3, h in 3usize..6, c in 1usize..3, seed in 0u64..1000) {
        let x = distinct(&[batch, h, h, c], seed);
        let mut layers: Vec<Box<dyn Layer>> = Vec::new();
        for p in 1..=3 {
            for stride in 1..=2 {
                for padding in [Padding::Valid, Padding::Same] {
                    layers.push(Box::new(MaxPooling2D::new((p, p)).strides((stride, stride)).padding(padding)));
                    layers.push(Box::new(AveragePooling2D::new((p, p)).strides((stride, stride)).padding(padding)));
                }
            }
        }
        for keepdims in [false, true] {
            layers.push(Box::new(GlobalAveragePooling2D::new().keepdims(keepdims)));
            layers.push(Box::new(GlobalMaxPooling2D::new().keepdims(keepdims)));
        }
        prop_assert_eq!(layers.len(), 28);
        for layer in &layers {
            let r = gc_util::norm_gradcheck(|v| ag(layer.forward(&v[0], &mut ForwardContext::inference())),
                std::slice::from_ref(&x), &gc_util::NormCheck { eps: 1e-2, ..Default::default() });
            prop_assert!(r.is_ok(), "{:?}: {:?}", layer.config(), r);
        }
    }

    /// ActivationLayer with every activation (values kept off the kinks).
    #[test]
    fn activation_layer_every_activation(batch in 1usize..3, a in 1usize..4, b in 2usize..4, seed in 0u64..1000) {
        let x = distinct(&[batch, a, b], seed);
        for activation in ALL_ACTIVATIONS {
            let layer = ActivationLayer::new(activation);
            let r = gc_util::norm_gradcheck(|v| ag(layer.forward(&v[0], &mut ForwardContext::inference())),
                std::slice::from_ref(&x), &gc_util::NormCheck { eps: 1e-2, ..Default::default() });
            prop_assert!(r.is_ok(), "{:?}: {:?}", activation, r);
        }
    }
}

/// The norm check bites where the element-wise `atol = 1e-2` check does
/// not: a Dense whose true gradients are all below 0.01 (inputs scaled by
/// 1e-3) passes the element-wise check with a zeroed gradient, and fails the
/// norm check for every input.
#[test]
fn norm_check_catches_a_missing_small_gradient() {
    let mut d = Dense::new(3).activation(Activation::Tanh);
    d.build(&[4], &mut rng_from_seed(1)).unwrap();
    let x = normal(&[2, 4], 0.0, 1.0, &mut rng_from_seed(2)).mapv(|v| v * 1e-3);
    let mut inputs = vec![x];
    inputs.extend(weights(&d));
    inputs[2] = normal(&[3], 0.0, 0.5, &mut rng_from_seed(3));
    let f = |v: &[Var]| {
        let mut layer = d.clone();
        layer
            .set_weight_vars(v[1].clone(), Some(v[2].clone()))
            .map_err(|e| AutogradError::Backward(e.to_string()))?;
        ag(layer.forward(&v[0], &mut ForwardContext::inference()))
    };
    let o = gc_util::NormCheck::default();
    gc_util::norm_gradcheck(f, &inputs, &o).unwrap();
    assert_eq!(
        gc_util::zeroed_inputs_that_pass(f, &inputs, &o),
        Vec::<usize>::new()
    );
    // The kernel gradient is x^T (..) ~ 1e-3: every element is within the
    // element-wise check's atol (1e-2) of 0, so a zeroed one would pass there.
    let p = inputs
        .iter()
        .map(|t| Var::parameter(t.clone()))
        .collect::<Vec<_>>();
    let y = f(&p).unwrap();
    ops::sum_all(&y).unwrap().backward().unwrap();
    let gk = p[1].grad().unwrap();
    assert!(gk.iter().all(|g| g.abs() < 1e-2), "{gk:?}");
}
