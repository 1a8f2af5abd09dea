//! Conv2DTranspose, DepthwiseConv2D and SeparableConv2D: finite-difference
//! gradient checks (the norm check of `gc_util`) through the input and every
//! parameter for every padding × stride × dilation (× output_padding, ×
//! depth_multiplier) × use_bias, configs round-tripping through
//! `layer_from_config`, and hostile configs (0 or huge sizes, strides 0,
//! output_padding not below the stride) refused with errors naming the
//! layer and the field, before anything is allocated.

mod gc_util;

use neurite_autograd::{AutogradError, Tensor, Var};
use neurite_nn::layers::*;
use neurite_nn::{layer_from_config, Activation, ForwardContext, Layer};
use neurite_tensor::random::{normal, rng_from_seed};
use neurite_tensor::Padding;
use proptest::prelude::*;
use serde_json::json;

fn weights(layer: &dyn Layer) -> Vec<Tensor> {
    layer.parameters().iter().map(|p| p.var.to_tensor()).collect()
}

fn backward_err(e: neurite_nn::NnError) -> AutogradError {
    AutogradError::Backward(e.to_string())
}

/// Random values for every input (the zero-initialised biases too), the
/// input first.
fn random_inputs(x_shape: &[usize], layer: &dyn Layer, seed: u64) -> Vec<Tensor> {
    let mut rng = rng_from_seed(seed);
    let mut out = vec![normal(x_shape, 0.0, 1.0, &mut rng)];
    out.extend(
        weights(layer)
            .iter()
            .map(|w| normal(w.shape(), 0.0, 0.5, &mut rng)),
    );
    out
}

/// Checks `f`, and that zeroing the analytic gradient of any input whose
/// true gradient is not negligible (norm above 0.05; e.g. a transposed
/// convolution whose every tap falls outside a 1-pixel output has none)
/// makes the check fail.
fn check<F>(what: &str, f: F, inputs: &[Tensor]) -> Result<(), TestCaseError>
where
    F: Fn(&[Var]) -> neurite_autograd::Result<Var>,
{
    let o = gc_util::NormCheck::default();
    let r = gc_util::norm_gradcheck(&f, inputs, &o);
    prop_assert!(r.is_ok(), "{}: {:?}", what, r);
    let params: Vec<Var> = inputs.iter().map(|t| Var::parameter(t.clone())).collect();
    let out = f(&params).unwrap();
    out.backward_with(normal(&out.shape(), 0.0, 1.0, &mut rng_from_seed(o.seed)))
        .unwrap();
    let sizable: Vec<usize> = params
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.grad()
                .is_some_and(|g| g.iter().map(|v| v * v).sum::<f32>().sqrt() > 0.05)
        })
        .map(|(i, _)| i)
        .collect();
    let passing = gc_util::zeroed_inputs_that_pass(&f, inputs, &o);
    let missed: Vec<&usize> = sizable.iter().filter(|i| passing.contains(i)).collect();
    prop_assert!(
        missed.is_empty(),
        "{}: zeroed gradients of inputs {:?} still pass",
        what,
        missed
    );
    Ok(())
}

fn padding(same: bool) -> Padding {
    if same {
        Padding::Same
    } else {
        Padding::Valid
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Conv2DTranspose: every padding × (stride, dilation, output_padding) × use_bias.
    #[test]
    fn conv2d_transpose_every_option(batch in 1usize..3, h in 1usize..4, c in 1usize..3, f in 1usize..3,
                                     k in 1usize..4, act in 0usize..3, seed in 0u64..1000) {
        let activation = [Activation::Linear, Activation::Tanh, Activation::Sigmoid][act];
        for same in [false, true] {
            for (stride, dilation, op) in [(1, 1, None), (2, 1, None), (2, 1, Some(1)), (3, 1, Some(2)), (1, 2, None)] {
                for use_bias in [false, true] {
                    let mut layer = Conv2DTranspose::new(f, (k, k)).strides((stride, stride)).padding(padding(same))
                        .dilation_rate((dilation, dilation)).activation(activation).use_bias(use_bias);
                    if let Some(op) = op {
                        layer = layer.output_padding((op, 0));
                    }
                    layer.build(&[h, h + 1, c], &mut rng_from_seed(seed)).unwrap();
                    let inputs = random_inputs(&[batch, h, h + 1, c], &layer, seed + 1);
                    let forward = |v: &[Var]| {
                        let mut l = layer.clone();
                        l.set_weight_vars(v[1].clone(), v.get(2).cloned()).map_err(backward_err)?;
                        gc_util::ag(l.forward(&v[0], &mut ForwardContext::inference()))
                    };
                    check(&format!("{:?}", layer.config()), forward, &inputs)?;
                }
            }
        }
    }

    /// DepthwiseConv2D: every padding × (stride, dilation) × multiplier × use_bias.
    #[test]
    fn depthwise_conv2d_every_option(batch in 1usize..3, h in 3usize..6, c in 1usize..4, k in 1usize..4,
                                     act in 0usize..3, seed in 0u64..1000) {
        let activation = [Activation::Linear, Activation::Tanh, Activation::Sigmoid][act];
        for same in [false, true] {
            for (stride, dilation) in [(1, 1), (2, 1), (1, 2), (2, 2)] {
                for mult in [1, 2] {
                    for use_bias in [false, true] {
                        let mut layer = DepthwiseConv2D::new((k, k.min(2))).strides((stride, stride))
                            .padding(padding(same)).dilation_rate((dilation, dilation)).depth_multiplier(mult)
                            .activation(activation).use_bias(use_bias);
                        let shape = [h + 2, h, c];
                        if layer.parameter_shapes(&shape).is_err() {
                            continue; // valid padding, dilated kernel larger than the image
                        }
                        layer.build(&shape, &mut rng_from_seed(seed)).unwrap();
                        let inputs = random_inputs(&[batch, h + 2, h, c], &layer, seed + 1);
                        let forward = |v: &[Var]| {
                            let mut l = layer.clone();
                            l.set_weight_vars(v[1].clone(), v.get(2).cloned()).map_err(backward_err)?;
                            gc_util::ag(l.forward(&v[0], &mut ForwardContext::inference()))
                        };
                        check(&format!("{:?}", layer.config()), forward, &inputs)?;
                    }
                }
            }
        }
    }

    /// SeparableConv2D: every padding × (stride, dilation) × multiplier × use_bias.
    #[test]
    fn separable_conv2d_every_option(batch in 1usize..3, h in 3usize..6, c in 1usize..3, f in 1usize..3,
                                     act in 0usize..3, seed in 0u64..1000) {
        let activation = [Activation::Linear, Activation::Tanh, Activation::Swish][act];
        for same in [false, true] {
            for (stride, dilation) in [(1, 1), (2, 1), (1, 2)] {
                for mult in [1, 2] {
                    for use_bias in [false, true] {
                        let mut layer = SeparableConv2D::new(f, (3, 2)).strides((stride, stride))
                            .padding(padding(same)).dilation_rate((dilation, dilation)).depth_multiplier(mult)
                            .activation(activation).use_bias(use_bias);
                        let shape = [h + 1, h, c];
                        if layer.parameter_shapes(&shape).is_err() {
                            continue; // valid padding, dilated kernel larger than the image
                        }
                        layer.build(&shape, &mut rng_from_seed(seed)).unwrap();
                        let inputs = random_inputs(&[batch, h + 1, h, c], &layer, seed + 1);
                        let forward = |v: &[Var]| {
                            let mut l = layer.clone();
                            l.set_weight_vars(v[1].clone(), v[2].clone(), v.get(3).cloned()).map_err(backward_err)?;
                            gc_util::ag(l.forward(&v[0], &mut ForwardContext::inference()))
                        };
                        check(&format!("{:?}", layer.config()), forward, &inputs)?;
                    }
                }
            }
        }
    }
}

/// Every option set survives `config()` -> `layer_from_config` -> `config()`,
/// and the rebuilt layer has the same parameter shapes.
#[test]
fn configs_round_trip() {
    use neurite_nn::initializers::Initializer;
    use neurite_nn::regularizers::Regularizer;
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Conv2DTranspose::new(3, (3, 2))),
        Box::new(
            Conv2DTranspose::new(4, (3, 3))
                .strides((2, 3))
                .padding(Padding::Same)
                .output_padding((1, 2))
                .activation(Activation::Relu)
                .use_bias(false)
                .kernel_initializer(Initializer::HeNormal)
                .kernel_regularizer(Regularizer::l2(0.01))
                .activity_regularizer(Regularizer::l1(0.1))
                .with_name("up")
                .input_shape([5, 5, 2]),
        ),
        Box::new(DepthwiseConv2D::new((3, 3))),
        Box::new(
            DepthwiseConv2D::new((5, 3))
                .strides((2, 2))
                .dilation_rate((2, 1))
                .padding(Padding::Same)
                .depth_multiplier(3)
                .activation(Activation::Sigmoid)
                .depthwise_initializer(Initializer::Ones)
                .bias_initializer(Initializer::Ones)
                .depthwise_regularizer(Regularizer::l1(0.5))
                .bias_regularizer(Regularizer::l2(0.5))
                .with_name("dw"),
        ),
        Box::new(SeparableConv2D::new(8, (3, 3))),
        Box::new(
            SeparableConv2D::new(8, (3, 3))
                .strides((1, 2))
                .padding(Padding::Same)
                .depth_multiplier(2)
                .use_bias(false)
                .pointwise_initializer(Initializer::LecunUniform)
                .pointwise_regularizer(Regularizer::l2(0.1))
                .with_name("sep"),
        ),
    ];
    for layer in &layers {
        let again = layer_from_config(layer.class_name(), &layer.config()).unwrap();
        assert_eq!(again.config(), layer.config());
        assert_eq!(again.class_name(), layer.class_name());
        assert_eq!(
            again.parameter_shapes(&[9, 9, 2]).unwrap(),
            layer.parameter_shapes(&[9, 9, 2]).unwrap()
        );
    }
}

/// Keras' parameter names and layouts, and its default names.
#[test]
fn parameter_names_and_shapes() {
    let t = Conv2DTranspose::new(4, (3, 2));
    assert_eq!(
        t.parameter_shapes(&[5, 5, 3]).unwrap().unwrap(),
        vec![
            ("conv2d_transpose.kernel".into(), vec![3, 2, 4, 3]),
            ("conv2d_transpose.bias".into(), vec![4])
        ]
    );
    let d = DepthwiseConv2D::new((3, 3)).depth_multiplier(2);
    assert_eq!(
        d.parameter_shapes(&[5, 5, 3]).unwrap().unwrap(),
        vec![
            ("depthwise_conv2d.depthwise_kernel".into(), vec![3, 3, 3, 2]),
            ("depthwise_conv2d.bias".into(), vec![6])
        ]
    );
    let s = SeparableConv2D::new(7, (3, 3)).depth_multiplier(2);
    assert_eq!(
        s.parameter_shapes(&[5, 5, 3]).unwrap().unwrap(),
        vec![
            ("separable_conv2d.depthwise_kernel".into(), vec![3, 3, 3, 2]),
            ("separable_conv2d.pointwise_kernel".into(), vec![1, 1, 6, 7]),
            ("separable_conv2d.bias".into(), vec![7])
        ]
    );
}

/// Configs that can never work are errors naming the layer and the field;
/// absurd sizes are errors from `parameter_shapes`/`build`, not aborts.
#[test]
fn hostile_configs_are_errors() {
    let cases = [
        (
            "Conv2DTranspose",
            json!({"name": "t", "filters": 0, "kernel_size": [3, 3]}),
            "filters",
        ),
        (
            "Conv2DTranspose",
            json!({"name": "t", "filters": 2, "kernel_size": [0, 3]}),
            "kernel_size",
        ),
        (
            "Conv2DTranspose",
            json!({"name": "t", "filters": 2, "kernel_size": [3, 3], "strides": [0, 1]}),
            "strides",
        ),
        (
            "Conv2DTranspose",
            json!({"name": "t", "filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "output_padding": [2, 0]}),
            "output_padding",
        ),
        (
            "Conv2DTranspose",
            json!({"name": "t", "filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "dilation_rate": [2, 2]}),
            "dilation_rate",
        ),
        (
            "DepthwiseConv2D",
            json!({"name": "d", "kernel_size": [3, 3], "depth_multiplier": 0}),
            "depth_multiplier",
        ),
        (
            "DepthwiseConv2D",
            json!({"name": "d", "kernel_size": [3, 3], "strides": [1, 0]}),
            "strides",
        ),
        (
            "DepthwiseConv2D",
            json!({"name": "d", "kernel_size": [3, 3], "dilation_rate": [0, 1]}),
            "dilation_rate",
        ),
        (
            "SeparableConv2D",
            json!({"name": "s", "filters": 0, "kernel_size": [3, 3]}),
            "filters",
        ),
        (
            "SeparableConv2D",
            json!({"name": "s", "filters": 2, "kernel_size": [3, 3], "depth_multiplier": 0}),
            "depth_multiplier",
        ),
        (
            "SeparableConv2D",
            json!({"name": "s", "filters": 2, "kernel_size": [3, 3], "padding": "full"}),
            "padding",
        ),
    ];
    for (class, cfg, field) in cases {
        let e = layer_from_config(class, &cfg)
            .err()
            .unwrap_or_else(|| panic!("{class} {cfg}: accepted"));
        let msg = e.to_string();
        let name = cfg["name"].as_str().unwrap();
        assert!(msg.contains(name) && msg.contains(field), "{class} {cfg}: {msg}");
    }
    // Huge sizes: parameter_shapes and build refuse them before allocating.
    let huge = usize::MAX / 2;
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Conv2DTranspose::new(huge, (3, 3)).with_name("t")),
        Box::new(
            Conv2DTranspose::new(2, (huge, 3))
                .padding(Padding::Same)
                .with_name("t"),
        ),
        Box::new(
            Conv2DTranspose::new(2, (3, 3))
                .strides((huge, huge))
                .with_name("t"),
        ),
        Box::new(Conv2DTranspose::new(1 << 40, (1 << 12, 1 << 12)).with_name("t")),
        Box::new(DepthwiseConv2D::new((3, 3)).depth_multiplier(huge).with_name("d")),
        Box::new(
            DepthwiseConv2D::new((huge, 3))
                .padding(Padding::Same)
                .with_name("d"),
        ),
        Box::new(
            DepthwiseConv2D::new((1 << 20, 1 << 20))
                .padding(Padding::Same)
                .depth_multiplier(1 << 20)
                .with_name("d"),
        ),
        Box::new(SeparableConv2D::new(huge, (3, 3)).with_name("s")),
        Box::new(
            SeparableConv2D::new(1 << 40, (3, 3))
                .depth_multiplier(1 << 40)
                .padding(Padding::Same)
                .with_name("s"),
        ),
    ];
    for mut layer in layers {
        let name = layer.name().to_string();
        let shapes = layer.parameter_shapes(&[8, 8, 4]);
        let msg = shapes
            .err()
            .unwrap_or_else(|| panic!("{:?}: parameter_shapes accepted", layer.config()))
            .to_string();
        assert!(msg.contains(&name), "{msg}");
        assert!(layer.output_shape(&[8, 8, 4]).is_err());
        assert!(layer.build(&[8, 8, 4], &mut rng_from_seed(0)).is_err());
        assert!(!layer.is_built());
    }
}

/// Wrong inputs to built layers: errors naming the layer, expected vs found.
#[test]
fn wrong_inputs_are_errors() {
    let mut layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Conv2DTranspose::new(2, (3, 3)).with_name("t")),
        Box::new(DepthwiseConv2D::new((3, 3)).with_name("d")),
        Box::new(SeparableConv2D::new(2, (3, 3)).with_name("s")),
    ];
    for layer in layers.iter_mut() {
        let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 5, 5, 3)));
        let e = layer
            .forward(&x, &mut ForwardContext::inference())
            .unwrap_err()
            .to_string();
        assert!(e.contains(layer.name()), "unbuilt: {e}");
        layer.build(&[5, 5, 3], &mut rng_from_seed(0)).unwrap();
        for shape in [vec![1, 5, 5, 4], vec![5, 5, 3], vec![1, 2, 2, 3]] {
            let x = Var::from_array(ndarray::ArrayD::<f32>::ones(shape.clone()));
            match layer.forward(&x, &mut ForwardContext::inference()) {
                // A 2x2 image is fine for the transposed convolution.
                Ok(_) => assert!(layer.class_name() == "Conv2DTranspose" && shape == [1, 2, 2, 3]),
                Err(e) => assert!(e.to_string().contains(layer.name()), "{shape:?}: {e}"),
            }
        }
    }
}
