//! Inference fusions of `Conv2D` + `BatchNormalization` (+ `ReLU`), folded
//! into one convolution, and `Add` + `ReLU` in one pass: `predict` (under
//! `no_grad`, where they run) against the same network run layer by layer
//! or with a graph recorded (where they do not), on residual blocks with
//! random batch-norm statistics, every convolution algorithm (direct taps,
//! Winograd, im2col + GEMM), with and without a convolution bias.

use neurite::autograd::{no_grad, Var};
use neurite::prelude::*;
use proptest::prelude::*;

/// A residual block: conv-bn-relu, conv-bn, add the input (projected by a
/// 1x1 conv-bn when the channel count changes), relu; then a classifier.
fn residual(channels: usize, filters: usize, kernel: usize, bias: bool) -> neurite::Result<Functional> {
    let conv_bn = |x: &SymbolicTensor, f: usize, k: usize| -> neurite::Result<SymbolicTensor> {
        let y = Conv2D::new(f, (k, k))
            .padding(Padding::Same)
            .use_bias(bias)
            .call(x)?;
        BatchNormalization::new().call(&y)
    };
    let x = Input::new([9, 10, channels]);
    let y = ReLU::new().call(&conv_bn(&x, filters, kernel)?)?;
    let y = conv_bn(&y, filters, kernel)?;
    let skip = if channels == filters {
        x.clone()
    } else {
        conv_bn(&x, filters, 1)?
    };
    let h = ReLU::new().call(&Add::new().call_many(&[&skip, &y])?)?;
    let out = Dense::new(3).call(&GlobalAveragePooling2D::new().call(&h)?)?;
    Model::functional(&x, &out)
}

/// Gives every weight, and every batch-norm statistic, values drawn from `seed`.
fn randomize<N: neurite::Network>(model: &Model<N>, seed: u64) {
    let mut rng = neurite::tensor::random::rng_from_seed(seed);
    for p in model.parameters() {
        let shape = p.var.shape();
        let (lo, hi) = if p.name.ends_with("moving_variance") {
            (0.2, 2.0)
        } else {
            (-1.0, 1.0)
        };
        p.var
            .set_value(neurite::tensor::random::uniform(&shape, lo, hi, &mut rng));
    }
}

fn assert_close(label: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{label}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{label}: {g} vs {w}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn folded_residual_blocks_predict_what_the_layers_compute(
        // 16-multiples take Winograd (3x3) or the direct taps, others im2col.
        channels in prop_oneof![Just(2usize), Just(16)],
        filters in prop_oneof![Just(16usize), Just(24)],
        kernel in prop_oneof![Just(1usize), Just(3)],
        bias: bool,
        seed in 0u64..1000,
    ) {
        let mut model = residual(channels, filters, kernel, bias).unwrap();
        model.build(&[9, 10, channels]).unwrap();
        randomize(&model, seed);
        let x = neurite::tensor::random::normal(&[4, 9, 10, channels], 0.0, 1.0, &mut neurite::tensor::random::rng_from_seed(seed + 1));
        let fused = model.predict(&x).unwrap();
        // With a graph recorded (trainable weights), nothing is folded.
        let recorded = model
            .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
            .unwrap()
            .to_tensor();
        assert_close("predict vs recorded forward", &fused, &recorded);
        // Under no_grad, the same forward folds: the same values as predict.
        let folded = no_grad(|| model.forward(&Var::constant(x.clone()), &mut ForwardContext::inference()))
            .unwrap()
            .to_tensor();
        prop_assert_eq!(&folded, &fused);
    }
}

#[test]
fn a_sequential_stack_folds_conv_norm_relu_as_its_layers_compute() {
    let mut model = Sequential::new()
        .add(
            Conv2D::new(16, (3, 3))
                .padding(Padding::Same)
                .input_shape([8, 8, 16]),
        )
        .add(BatchNormalization::new())
        .add(ReLU::new())
        .add(Conv2D::new(16, (3, 3)).use_bias(false))
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(2));
    model.build(&[8, 8, 16]).unwrap();
    randomize(&model, 7);
    let x = neurite::tensor::random::normal(
        &[3, 8, 8, 16],
        0.0,
        1.0,
        &mut neurite::tensor::random::rng_from_seed(8),
    );
    let fused = model.predict(&x).unwrap();
    let mut h = Var::constant(x);
    for layer in model.layers() {
        h = no_grad(|| layer.forward(&h, &mut ForwardContext::inference())).unwrap();
    }
    assert_close("sequential predict vs layer by layer", &fused, &h.to_tensor());
}

#[test]
fn training_uses_the_batch_statistics_not_a_fold() {
    // In training the batch norm normalizes by the batch's own moments: a
    // fold of the moving statistics would give other values.
    let mut model = residual(16, 16, 3, false).unwrap();
    model.build(&[9, 10, 16]).unwrap();
    randomize(&model, 3);
    let x = neurite::tensor::random::normal(
        &[4, 9, 10, 16],
        0.0,
        1.0,
        &mut neurite::tensor::random::rng_from_seed(4),
    );
    let infer =
        no_grad(|| model.forward(&Var::constant(x.clone()), &mut ForwardContext::inference())).unwrap();
    let train = no_grad(|| model.forward(&Var::constant(x), &mut ForwardContext::training(0))).unwrap();
    let diff: f32 = infer
        .to_tensor()
        .iter()
        .zip(train.to_tensor().iter())
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(diff > 1e-3, "training and inference agree: {diff}");
}
