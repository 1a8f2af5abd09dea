//! Finite-difference gradient checks through every part-A layer, with
//! respect to the input and to the layer's parameters, on random small shapes.

use neurite_autograd::{gradcheck, AutogradError, GradcheckOptions, Tensor, Var};
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
            layer.set_weights(v[1].clone(), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
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
            layer.set_weights(v[1].clone(), Some(v[2].clone())).map_err(|e| AutogradError::Backward(e.to_string()))?;
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
