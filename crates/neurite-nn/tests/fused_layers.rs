//! `Layer::forward_fused`: `Conv2D(relu)` followed by `MaxPooling2D` runs as one
//! node, in inference and in training, with the same values, gradients and
//! regularization losses as the two layers one after the other; it declines
//! (returns `None`) for other activations, other next layers and, in
//! training, an activity regularizer; a pooling window that does not fit is
//! the pooling layer's named error.

use ndarray::Array4;
use neurite_autograd::{no_grad, ops, Var};
use neurite_nn::layers::{AveragePooling2D, Conv2D, MaxPooling2D};
use neurite_nn::{Activation, ForwardContext, Layer, Regularizer};
use neurite_tensor::random::{normal, rng_from_seed};
use neurite_tensor::Padding;
use proptest::prelude::*;

/// Whether the fused and unfused results agree: bit for bit with the
/// pure-Rust GEMM backends; with OpenBLAS within 1e-5 relative, since the
/// fused and unfused passes multiply matrices of different row counts, and
/// OpenBLAS leaves skinny products to the `gemm` crate (another rounding).
fn agree(a: &neurite_tensor::Tensor, b: &neurite_tensor::Tensor) -> bool {
    if neurite_tensor::gemm::backend() != "openblas" {
        return a == b;
    }
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

fn built_conv(filters: usize, k: usize, stride: usize, same: bool, input: [usize; 3], seed: u64) -> Conv2D {
    let mut conv = Conv2D::new(filters, (k, k))
        .strides((stride, stride))
        .padding(if same { Padding::Same } else { Padding::Valid })
        .activation(Activation::Relu)
        .bias_initializer(neurite_nn::Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.5,
        });
    conv.build(&input, &mut rng_from_seed(seed)).unwrap();
    conv
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn fused_conv_pool_equals_the_two_layers(
        n in 1usize..12, h in 4usize..14, c in 1usize..4, filters in 1usize..24,
        k in 1usize..4, stride in 1usize..3, same: bool, pool in 1usize..4, pool_same: bool, seed in 0u64..100,
    ) {
        let conv = built_conv(filters, k, stride, same, [h, h, c], seed);
        let next = MaxPooling2D::new((pool, pool)).padding(if pool_same { Padding::Same } else { Padding::Valid });
        let x = Var::constant(normal(&[n, h, h, c], 0.0, 1.0, &mut rng_from_seed(seed + 1)));
        let mut ctx = ForwardContext::inference();
        let unfused = no_grad(|| conv.forward(&x, &mut ctx).and_then(|y| next.forward(&y, &mut ctx)));
        let fused = no_grad(|| conv.forward_fused(&next, &x, &mut ctx)).expect("a fused path");
        match (fused, unfused) {
            (Ok(a), Ok(b)) => prop_assert!(agree(&a.to_tensor(), &b.to_tensor()), "fused {} vs unfused {}", a.to_tensor(), b.to_tensor()),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "fused {:?} vs unfused {:?}", a.map(|v| v.shape()), b.map(|v| v.shape())),
        }
    }
}

/// One training step's results through `conv` and `pool`, fused or not:
/// the output, the loss `Σ y·weights + regularization`, and the kernel,
/// bias and input gradients.
type StepResult = (neurite_tensor::Tensor, f32, Vec<Option<neurite_tensor::Tensor>>);

fn training_step(conv: &Conv2D, pool: &MaxPooling2D, x: &neurite_tensor::Tensor, fused: bool) -> StepResult {
    let xv = Var::parameter(x.clone());
    let mut ctx = ForwardContext::training(7);
    let y = if fused {
        conv.forward_fused(pool, &xv, &mut ctx)
            .expect("a fused path")
            .unwrap()
    } else {
        let y = conv.forward(&xv, &mut ctx).unwrap();
        pool.forward(&y, &mut ctx).unwrap()
    };
    let weights = normal(&y.shape(), 0.0, 1.0, &mut rng_from_seed(3));
    let mut loss = ops::sum_all(&ops::mul(&y, &Var::constant(weights)).unwrap()).unwrap();
    for extra in ctx.take_losses() {
        loss = ops::add(&loss, &extra).unwrap();
    }
    let params = conv.parameters();
    params.iter().for_each(|p| p.var.zero_grad());
    loss.backward().unwrap();
    let mut grads: Vec<_> = params.iter().map(|p| p.var.grad()).collect();
    grads.push(xv.grad());
    (y.to_tensor(), loss.item().unwrap(), grads)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Training mode: the fused node gives the two layers' output, loss
    /// (kernel and bias regularizers included) and gradients, bit for bit.
    #[test]
    fn fused_training_step_equals_the_two_layers(
        n in 1usize..6, h in 4usize..12, c in 1usize..3, filters in 1usize..12,
        k in 1usize..4, stride in 1usize..3, same: bool, pool in 1usize..4, seed in 0u64..100,
    ) {
        let mut conv = Conv2D::new(filters, (k, k))
            .strides((stride, stride))
            .padding(if same { Padding::Same } else { Padding::Valid })
            .activation(Activation::Relu)
            .kernel_regularizer(Regularizer::l2(0.01))
            .bias_regularizer(Regularizer::l1(0.02))
            .bias_initializer(neurite_nn::Initializer::RandomNormal { mean: 0.0, stddev: 0.5 });
        conv.build(&[h, h, c], &mut rng_from_seed(seed)).unwrap();
        let next = MaxPooling2D::new((pool, pool)).padding(Padding::Same);
        let x = normal(&[n, h, h, c], 0.0, 1.0, &mut rng_from_seed(seed + 1));
        let (fused, unfused) = (training_step(&conv, &next, &x, true), training_step(&conv, &next, &x, false));
        prop_assert!(agree(&fused.0, &unfused.0), "outputs {} vs {}", fused.0, unfused.0);
        prop_assert!(agree(&ndarray::arr0(fused.1).into_dyn(), &ndarray::arr0(unfused.1).into_dyn()), "loss {} vs {}", fused.1, unfused.1);
        prop_assert_eq!(fused.2.len(), unfused.2.len());
        for (a, b) in fused.2.iter().zip(&unfused.2) {
            match (a, b) {
                (Some(a), Some(b)) => prop_assert!(agree(a, b), "gradients {} vs {}", a, b),
                (a, b) => prop_assert_eq!(a.is_some(), b.is_some()),
            }
        }
    }
}

#[test]
fn declines_when_it_cannot_fuse() {
    let conv = built_conv(3, 3, 1, false, [8, 8, 1], 0);
    let pool = MaxPooling2D::new((2, 2));
    let x = Var::constant(Array4::<f32>::ones((2, 8, 8, 1)).into_dyn());
    // Training with an activity regularizer, which needs the conv output.
    let mut active = Conv2D::new(3, (3, 3))
        .activation(Activation::Relu)
        .activity_regularizer(Regularizer::l1(0.1));
    active.build(&[8, 8, 1], &mut rng_from_seed(0)).unwrap();
    assert!(active
        .forward_fused(&pool, &x, &mut ForwardContext::training(0))
        .is_none());
    // ... but in inference it adds no loss, so that layer fuses there.
    assert!(active
        .forward_fused(&pool, &x, &mut ForwardContext::inference())
        .is_some());
    // Another pooling layer.
    let avg = AveragePooling2D::new((2, 2));
    assert!(no_grad(|| conv.forward_fused(&avg, &x, &mut ForwardContext::inference())).is_none());
    // Another activation.
    let mut tanh = Conv2D::new(3, (3, 3)).activation(Activation::Tanh);
    tanh.build(&[8, 8, 1], &mut rng_from_seed(0)).unwrap();
    assert!(no_grad(|| tanh.forward_fused(&pool, &x, &mut ForwardContext::inference())).is_none());
    // Not built: the unfused forward reports it.
    let unbuilt = Conv2D::new(3, (3, 3)).activation(Activation::Relu);
    assert!(no_grad(|| unbuilt.forward_fused(&pool, &x, &mut ForwardContext::inference())).is_none());
}

#[test]
fn a_pool_too_big_for_the_conv_output_is_the_pooling_layers_error() {
    let conv = built_conv(2, 3, 1, false, [4, 4, 1], 0);
    let pool = MaxPooling2D::new((3, 3)).with_name("pool_a");
    let x = Var::constant(Array4::<f32>::ones((1, 4, 4, 1)).into_dyn());
    let err = no_grad(|| conv.forward_fused(&pool, &x, &mut ForwardContext::inference()))
        .expect("fused path")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pool_a"), "{err}");
}
