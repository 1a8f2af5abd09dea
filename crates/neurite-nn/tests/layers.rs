//! Layer behaviour: fixed-weight references, Keras output shapes, dropout
//! statistics, regularization losses, shape errors, config round trips.

use approx::assert_abs_diff_eq;
use ndarray::{arr1, arr2, Array2, Array4, ArrayD, IxDyn};
use neurite_autograd::Var;
use neurite_nn::layers::*;
use neurite_nn::regularizers::Regularizer;
use neurite_nn::{layer_from_config, Activation, ForwardContext, Initializer, Layer, NnError};
use neurite_tensor::random::rng_from_seed;
use neurite_tensor::Padding;

fn infer() -> ForwardContext {
    ForwardContext::inference()
}

#[test]
fn dense_with_fixed_weights() {
    let mut d = Dense::new(2);
    d.set_weight_vars(
        Var::parameter(arr2(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]).into_dyn()),
        Some(Var::parameter(arr1(&[0.5f32, -0.5]).into_dyn())),
    )
    .unwrap();
    let x = Var::from_array(arr2(&[[1.0f32, 0.0, -1.0], [1.0, 1.0, 1.0]]));
    let y = d.forward(&x, &mut infer()).unwrap().to_tensor();
    // [1 - 5 + 0.5, 2 - 6 - 0.5] and [9 + 0.5, 12 - 0.5].
    assert_eq!(y, arr2(&[[-3.5f32, -4.5], [9.5, 11.5]]).into_dyn());
    let mut relu = Dense::new(2).activation(Activation::Relu);
    relu.set_weight_vars(d.kernel().unwrap().clone(), d.bias().cloned())
        .unwrap();
    let y = relu.forward(&x, &mut infer()).unwrap().to_tensor();
    assert_eq!(y, arr2(&[[0.0f32, 0.0], [9.5, 11.5]]).into_dyn());
}

#[test]
fn dense_on_rank_3_applies_to_last_axis() {
    let mut d = Dense::new(4).activation(Activation::Tanh);
    d.build(&[5, 3], &mut rng_from_seed(0)).unwrap();
    let x = neurite_tensor::random::normal(&[2, 5, 3], 0.0, 1.0, &mut rng_from_seed(1));
    let y = d
        .forward(&Var::constant(x.clone()), &mut infer())
        .unwrap()
        .to_tensor();
    assert_eq!(y.shape(), &[2, 5, 4]);
    let rows = x.into_shape_with_order(IxDyn(&[10, 3])).unwrap();
    let y2 = d.forward(&Var::constant(rows), &mut infer()).unwrap().to_tensor();
    let y2 = y2.into_shape_with_order(IxDyn(&[2, 5, 4])).unwrap();
    for (a, b) in y.iter().zip(y2.iter()) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-6);
    }
    assert_eq!(d.output_shape(&[5, 3]).unwrap(), vec![5, 4]);
}

#[test]
fn default_names_and_parameter_names() {
    let mut rng = rng_from_seed(0);
    let mut d = Dense::new(2);
    d.build(&[3], &mut rng).unwrap();
    let names: Vec<String> = d.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names, vec!["dense.kernel", "dense.bias"]);
    let mut c = Conv2D::new(2, (3, 3)).use_bias(false);
    c.build(&[5, 5, 1], &mut rng).unwrap();
    c.set_name("conv2d_1".into());
    let names: Vec<String> = c.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names, vec!["conv2d_1.kernel"]);
    assert_eq!(MaxPooling2D::new((2, 2)).name(), "max_pooling2d");
    assert_eq!(AveragePooling2D::new((2, 2)).name(), "average_pooling2d");
    assert_eq!(GlobalAveragePooling2D::new().name(), "global_average_pooling2d");
    assert_eq!(GlobalMaxPooling2D::new().name(), "global_max_pooling2d");
    assert_eq!(Flatten::new().name(), "flatten");
    assert_eq!(Reshape::new([2]).name(), "reshape");
    assert_eq!(Dropout::new(0.5).name(), "dropout");
    assert_eq!(ActivationLayer::new(Activation::Relu).name(), "activation");
    d.set_trainable(false);
    assert!(d.parameters().iter().all(|p| !p.trainable));
}

/// (input [h, w, c], kernel, strides, padding, dilation, filters, Keras' output [oh, ow, f]).
type ConvCase = (
    [usize; 3],
    (usize, usize),
    (usize, usize),
    Padding,
    (usize, usize),
    usize,
    [usize; 3],
);

#[test]
fn conv2d_output_shapes_match_keras() {
    use Padding::{Same, Valid};
    // Hand-computed with Keras' rules: valid: floor((in - ((k - 1) d + 1)) / s) + 1; same: ceil(in / s).
    let cases: [ConvCase; 12] = [
        ([28, 28, 1], (3, 3), (1, 1), Valid, (1, 1), 32, [26, 26, 32]),
        ([28, 28, 1], (3, 3), (1, 1), Same, (1, 1), 8, [28, 28, 8]),
        ([28, 28, 1], (3, 3), (2, 2), Valid, (1, 1), 4, [13, 13, 4]),
        ([28, 28, 1], (3, 3), (2, 2), Same, (1, 1), 4, [14, 14, 4]),
        ([7, 7, 2], (3, 3), (3, 3), Valid, (1, 1), 3, [2, 2, 3]),
        ([7, 7, 2], (3, 3), (3, 3), Same, (1, 1), 3, [3, 3, 3]),
        ([10, 10, 1], (3, 3), (1, 1), Valid, (2, 2), 2, [6, 6, 2]),
        ([10, 10, 1], (3, 3), (1, 1), Same, (2, 2), 2, [10, 10, 2]),
        ([5, 4, 3], (3, 2), (2, 1), Valid, (1, 1), 5, [2, 3, 5]),
        ([13, 13, 32], (3, 3), (1, 1), Valid, (1, 1), 64, [11, 11, 64]),
        ([6, 9, 1], (1, 1), (3, 2), Same, (1, 1), 1, [2, 5, 1]),
        ([9, 9, 1], (2, 3), (1, 1), Valid, (3, 2), 1, [6, 5, 1]),
    ];
    for (input, k, s, p, d, f, expected) in cases {
        let mut c = Conv2D::new(f, k).strides(s).padding(p).dilation_rate(d);
        assert_eq!(
            c.output_shape(&input).unwrap(),
            expected.to_vec(),
            "{input:?} {k:?} {s:?} {p:?} {d:?}"
        );
        c.build(&input, &mut rng_from_seed(0)).unwrap();
        let x = Var::constant(ArrayD::zeros(IxDyn(&[2, input[0], input[1], input[2]])));
        let y = c.forward(&x, &mut infer()).unwrap();
        assert_eq!(
            y.shape(),
            [&[2], &expected[..]].concat(),
            "{input:?} {k:?} {s:?} {p:?} {d:?}"
        );
    }
}

/// (input [h, w, c], pool, strides, padding, Keras' output).
type PoolCase = (
    [usize; 3],
    (usize, usize),
    Option<(usize, usize)>,
    Padding,
    [usize; 3],
);

#[test]
fn pooling_output_shapes_match_keras() {
    use Padding::{Same, Valid};
    let cases: [PoolCase; 8] = [
        ([26, 26, 32], (2, 2), None, Valid, [13, 13, 32]),
        ([11, 11, 64], (2, 2), None, Valid, [5, 5, 64]),
        ([11, 11, 64], (2, 2), None, Same, [6, 6, 64]),
        ([7, 7, 1], (3, 3), Some((1, 1)), Valid, [5, 5, 1]),
        ([7, 7, 1], (3, 3), Some((2, 2)), Same, [4, 4, 1]),
        ([7, 7, 1], (2, 2), Some((3, 3)), Valid, [2, 2, 1]),
        ([8, 5, 2], (2, 1), Some((2, 3)), Valid, [4, 2, 2]),
        ([5, 5, 1], (3, 3), Some((1, 1)), Same, [5, 5, 1]),
    ];
    for (input, pool, strides, padding, expected) in cases {
        let mut m = MaxPooling2D::new(pool).padding(padding);
        let mut a = AveragePooling2D::new(pool).padding(padding);
        if let Some(s) = strides {
            m = m.strides(s);
            a = a.strides(s);
        }
        let x = Var::constant(ArrayD::zeros(IxDyn(&[3, input[0], input[1], input[2]])));
        for layer in [&m as &dyn Layer, &a] {
            assert_eq!(layer.output_shape(&input).unwrap(), expected.to_vec());
            let y = layer.forward(&x, &mut infer()).unwrap();
            assert_eq!(
                y.shape(),
                [&[3], &expected[..]].concat(),
                "{} {input:?}",
                layer.name()
            );
        }
    }
    let g = GlobalMaxPooling2D::new();
    let x = Var::constant(ArrayD::zeros(IxDyn(&[3, 4, 5, 6])));
    assert_eq!(g.forward(&x, &mut infer()).unwrap().shape(), vec![3, 6]);
    let g = GlobalAveragePooling2D::new().keepdims(true);
    assert_eq!(g.forward(&x, &mut infer()).unwrap().shape(), vec![3, 1, 1, 6]);
}

#[test]
fn dropout_is_identity_at_inference_and_keeps_expectation_in_training() {
    let d = Dropout::new(0.3);
    let x = Var::from_array(Array2::<f32>::ones((200, 500)));
    assert_eq!(d.forward(&x, &mut infer()).unwrap().to_tensor(), x.to_tensor());
    let y = d
        .forward(&x, &mut ForwardContext::training(7))
        .unwrap()
        .to_tensor();
    let n = y.len() as f64;
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / n;
    assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    assert!((zeros - 0.3).abs() < 0.01, "dropped fraction {zeros}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    // Same seed, same mask; another seed, another mask.
    let y2 = d
        .forward(&x, &mut ForwardContext::training(7))
        .unwrap()
        .to_tensor();
    let y3 = d
        .forward(&x, &mut ForwardContext::training(8))
        .unwrap()
        .to_tensor();
    assert_eq!(y, y2);
    assert_ne!(y, y3);
    assert!(Dropout::new(1.0)
        .forward(&x, &mut ForwardContext::training(0))
        .is_err());
}

#[test]
fn regularizers_add_losses_only_in_training() {
    let mut d = Dense::new(2)
        .kernel_regularizer(Regularizer::l2(0.1))
        .bias_regularizer(Regularizer::l1(0.5))
        .activity_regularizer(Regularizer::l1(0.01))
        .bias_initializer(Initializer::Constant { value: -1.0 });
    d.build(&[3], &mut rng_from_seed(3)).unwrap();
    let x = Var::from_array(arr2(&[[1.0f32, 2.0, 3.0]]));
    let mut ctx = infer();
    d.forward(&x, &mut ctx).unwrap();
    assert!(ctx.take_losses().is_empty());
    let mut ctx = ForwardContext::training(0);
    let y = d.forward(&x, &mut ctx).unwrap();
    let losses: Vec<f32> = ctx.take_losses().iter().map(|l| l.item().unwrap()).collect();
    let k = d.kernel().unwrap().to_tensor();
    let k2: f32 = k.iter().map(|v| v * v).sum();
    let act: f32 = y.to_tensor().iter().map(|v| v.abs()).sum();
    assert_eq!(losses.len(), 3);
    assert_abs_diff_eq!(losses[0], 0.1 * k2, epsilon = 1e-6);
    assert_abs_diff_eq!(losses[1], 0.5 * 2.0, epsilon = 1e-6);
    assert_abs_diff_eq!(losses[2], 0.01 * act, epsilon = 1e-6);
}

fn err_text(r: neurite_nn::Result<Var>) -> String {
    match r {
        Err(e @ NnError::Shape { .. }) => e.to_string(),
        Err(e) => panic!("expected a shape error, got {e}"),
        Ok(v) => panic!("expected an error, got shape {:?}", v.shape()),
    }
}

#[test]
fn wrong_input_rank_or_size_is_an_error_naming_layer_and_shapes() {
    let mut rng = rng_from_seed(0);
    let mut d = Dense::new(4).with_name("dense_7");
    d.build(&[3], &mut rng).unwrap();
    let msg = err_text(d.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 5]))), &mut infer()));
    assert!(
        msg.contains("dense_7") && msg.contains("[2, 5]") && msg.contains("3"),
        "{msg}"
    );
    let msg = err_text(d.forward(&Var::constant(ArrayD::zeros(IxDyn(&[3]))), &mut infer()));
    assert!(msg.contains("dense_7") && msg.contains("[3]"), "{msg}");

    let mut c = Conv2D::new(2, (3, 3));
    c.build(&[8, 8, 3], &mut rng).unwrap();
    let msg = err_text(c.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 8, 8]))), &mut infer()));
    assert!(
        msg.contains("conv2d") && msg.contains("[2, 8, 8]") && msg.contains("3)"),
        "{msg}"
    );
    let msg = err_text(c.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 8, 8, 1]))), &mut infer()));
    assert!(msg.contains("[2, 8, 8, 1]") && msg.contains("3)"), "{msg}");
    let msg = err_text(c.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 2, 8, 3]))), &mut infer()));
    assert!(msg.contains("[2, 2, 8, 3]"), "{msg}");

    let p = MaxPooling2D::new((3, 3));
    let msg = err_text(p.forward(&Var::constant(ArrayD::zeros(IxDyn(&[1, 2, 2, 1]))), &mut infer()));
    assert!(
        msg.contains("max_pooling2d") && msg.contains("[1, 2, 2, 1]"),
        "{msg}"
    );
    let msg = err_text(
        GlobalAveragePooling2D::new().forward(&Var::constant(ArrayD::zeros(IxDyn(&[4, 3]))), &mut infer()),
    );
    assert!(
        msg.contains("global_average_pooling2d") && msg.contains("[4, 3]"),
        "{msg}"
    );

    let r = Reshape::new([-1, 4]);
    let msg = err_text(r.forward(&Var::constant(ArrayD::zeros(IxDyn(&[2, 6]))), &mut infer()));
    assert!(msg.contains("reshape") && msg.contains("[2, 6]"), "{msg}");
    assert!(matches!(
        Reshape::new([-1, -1]).output_shape(&[4]),
        Err(NnError::Config { .. })
    ));

    assert!(matches!(
        Dense::new(2).forward(&Var::scalar(1.0), &mut infer()),
        Err(NnError::NotBuilt(_))
    ));
    assert!(matches!(
        Dense::new(0).build(&[3], &mut rng),
        Err(NnError::Config { .. })
    ));
    assert!(matches!(
        Conv2D::new(1, (0, 3)).build(&[5, 5, 1], &mut rng),
        Err(NnError::Config { .. })
    ));
}

#[test]
fn pooling_and_activation_values() {
    let x = Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (h * 4 + w) as f32);
    let x = Var::from_array(x);
    let m = MaxPooling2D::new((2, 2))
        .forward(&x, &mut infer())
        .unwrap()
        .to_tensor();
    assert_eq!(m.iter().copied().collect::<Vec<_>>(), vec![5.0, 7.0, 13.0, 15.0]);
    let a = AveragePooling2D::new((2, 2))
        .forward(&x, &mut infer())
        .unwrap()
        .to_tensor();
    assert_eq!(a.iter().copied().collect::<Vec<_>>(), vec![2.5, 4.5, 10.5, 12.5]);
    let g = GlobalAveragePooling2D::new()
        .forward(&x, &mut infer())
        .unwrap()
        .to_tensor();
    assert_eq!(g[[0, 0]], 7.5);
    let f = Flatten::new().forward(&x, &mut infer()).unwrap();
    assert_eq!(f.shape(), vec![1, 16]);
    let s = ActivationLayer::new(Activation::Softmax)
        .forward(&f, &mut infer())
        .unwrap()
        .to_tensor();
    assert_abs_diff_eq!(s.sum(), 1.0, epsilon = 1e-6);
    let lr = Activation::LeakyRelu
        .apply(&Var::from_array(arr1(&[-1.0f32, 2.0])))
        .unwrap()
        .to_tensor();
    assert_eq!(lr, arr1(&[-0.2f32, 2.0]).into_dyn());
}

fn all_layers() -> Vec<Box<dyn Layer>> {
    vec![
        Box::new(
            Dense::new(7)
                .activation(Activation::leaky_relu(0.1))
                .use_bias(false)
                .kernel_initializer(Initializer::HeNormal)
                .kernel_regularizer(Regularizer::l1_l2(0.01, 0.02))
                .activity_regularizer(Regularizer::l2(0.5))
                .input_dim(100)
                .with_name("dense_3"),
        ),
        Box::new(Dense::new(1)),
        Box::new(
            Conv2D::new(32, (3, 3))
                .strides((2, 2))
                .padding(Padding::Same)
                .activation(Activation::Relu)
                .bias_initializer(Initializer::Constant { value: 0.1 })
                .input_shape([28, 28, 1]),
        ),
        Box::new(
            Conv2D::new(4, (5, 3))
                .dilation_rate((2, 2))
                .bias_regularizer(Regularizer::l2(0.1)),
        ),
        Box::new(MaxPooling2D::new((3, 3)).strides((1, 1)).padding(Padding::Same)),
        Box::new(AveragePooling2D::new((2, 2))),
        Box::new(GlobalAveragePooling2D::new().keepdims(true)),
        Box::new(GlobalMaxPooling2D::new()),
        Box::new(Flatten::new().input_shape([4, 4])),
        Box::new(Reshape::new([-1, 8])),
        Box::new(Dropout::new(0.25)),
        Box::new(ActivationLayer::new(Activation::softmax_axis(1))),
        Box::new(ActivationLayer::new(Activation::Gelu)),
    ]
}

#[test]
fn every_config_round_trips_through_the_registry() {
    for layer in all_layers() {
        let cfg = layer.config();
        let text = serde_json::to_string(&cfg).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let again = layer_from_config(layer.class_name(), &parsed).unwrap();
        assert_eq!(again.config(), cfg, "{}", layer.class_name());
        assert_eq!(again.class_name(), layer.class_name());
        assert_eq!(again.declared_input_shape(), layer.declared_input_shape());
    }
    let err = layer_from_config("Dense3D", &serde_json::json!({}))
        .err()
        .expect("an error")
        .to_string();
    assert!(err.contains("Dense3D") && err.contains("Conv2D"), "{err}");
    let err = layer_from_config("Dense", &serde_json::json!({"name": "d"}))
        .err()
        .expect("an error")
        .to_string();
    assert!(err.contains("units"), "{err}");
}

#[test]
fn activation_serde_uses_keras_names() {
    let all = [
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
        Activation::softmax_axis(0),
        Activation::leaky_relu(0.3),
        Activation::elu(0.7),
    ];
    for a in all {
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(
            serde_json::from_value::<Activation>(json.clone()).unwrap(),
            a,
            "{json}"
        );
    }
    assert_eq!(
        serde_json::to_value(Activation::LeakyRelu).unwrap(),
        serde_json::json!("leaky_relu")
    );
    assert_eq!(
        serde_json::from_value::<Activation>(serde_json::Value::Null).unwrap(),
        Activation::Linear
    );
    assert!(serde_json::from_value::<Activation>(serde_json::json!("nope")).is_err());
}

#[test]
fn conv2d_relu_matches_relu_of_linear_conv() {
    let mut lin = Conv2D::new(3, (2, 2)).padding(Padding::Same);
    lin.build(&[4, 4, 2], &mut rng_from_seed(9)).unwrap();
    let mut relu = Conv2D::new(3, (2, 2))
        .padding(Padding::Same)
        .activation(Activation::Relu);
    relu.set_weight_vars(lin.kernel().unwrap().clone(), lin.bias().cloned())
        .unwrap();
    let x = Var::constant(neurite_tensor::random::normal(
        &[2, 4, 4, 2],
        0.0,
        1.0,
        &mut rng_from_seed(10),
    ));
    let a = lin
        .forward(&x, &mut infer())
        .unwrap()
        .to_tensor()
        .mapv(|v| v.max(0.0));
    let b = relu.forward(&x, &mut infer()).unwrap().to_tensor();
    assert!(a.iter().any(|&v| v == 0.0) && a.iter().any(|&v| v > 0.0));
    for (p, q) in a.iter().zip(b.iter()) {
        assert_abs_diff_eq!(p, q, epsilon = 1e-5);
    }
}
