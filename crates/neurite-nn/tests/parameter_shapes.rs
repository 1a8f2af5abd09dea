//! `Layer::parameter_shapes` against `build`: for random configurations
//! (valid and not) and input shapes of every built-in layer class, it errors
//! exactly when `build` errors (with the same error), and otherwise lists
//! exactly the names and shapes `parameters()` lists after `build`.

use neurite_nn::layers::*;
use neurite_nn::registry::KNOWN_CLASSES;
use neurite_nn::{Activation, Layer};
use neurite_tensor::random::rng_from_seed;
use neurite_tensor::Padding;
use proptest::prelude::*;

/// Random knobs from which [`make`] configures a layer: small numbers
/// (0 included, so that invalid values occur), flags and a float.
#[derive(Debug, Clone)]
struct Knobs {
    n: [usize; 6],
    flags: [bool; 4],
    signed: [isize; 3],
    rate: f32,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        proptest::array::uniform6(0usize..5),
        proptest::array::uniform4(any::<bool>()),
        proptest::array::uniform3(-4isize..4),
        -0.5f32..1.5,
    )
        .prop_map(|(n, flags, signed, rate)| Knobs {
            n,
            flags,
            signed,
            rate,
        })
}

fn padding(same: bool) -> Padding {
    if same {
        Padding::Same
    } else {
        Padding::Valid
    }
}

/// The layer of `class` configured from `k` (through its config struct, so
/// that values its builder would not take, such as 0 units, occur too).
fn make(class: &str, k: &Knobs) -> Box<dyn Layer> {
    let [a, b, c, d, e, f] = k.n;
    let [p, q, r, s] = k.flags;
    match class {
        "Dense" => {
            let mut cfg = Dense::new(1).config_struct().clone();
            cfg.units = a;
            cfg.use_bias = p;
            Box::new(Dense::from_config(cfg))
        }
        "Conv2D" => {
            let mut cfg = Conv2D::new(1, (1, 1)).config_struct().clone();
            cfg.filters = a;
            cfg.kernel_size = (b, c);
            cfg.strides = (d.min(2), e.min(2));
            cfg.dilation_rate = if q { (1, 1) } else { (1 + f % 2, 1) };
            cfg.padding = padding(r);
            cfg.use_bias = p;
            Box::new(Conv2D::from_config(cfg))
        }
        "MaxPooling2D" | "AveragePooling2D" => {
            let mut cfg = MaxPooling2D::new((1, 1)).config_struct().clone();
            cfg.name = class.to_lowercase();
            cfg.pool_size = (a, b);
            cfg.strides = p.then_some((c, d));
            cfg.padding = padding(q);
            if class == "MaxPooling2D" {
                Box::new(MaxPooling2D::from_config(cfg))
            } else {
                Box::new(AveragePooling2D::from_config(cfg))
            }
        }
        "GlobalAveragePooling2D" => Box::new(GlobalAveragePooling2D::new().keepdims(p)),
        "GlobalMaxPooling2D" => Box::new(GlobalMaxPooling2D::new().keepdims(p)),
        "Flatten" => Box::new(Flatten::new()),
        "Reshape" => {
            let target: Vec<i64> = k.signed[..1 + a % 3].iter().map(|&v| v as i64).collect();
            Box::new(Reshape::new(target))
        }
        "Dropout" => Box::new(Dropout::new(k.rate)),
        "Activation" => {
            let acts = [
                Activation::Relu,
                Activation::Softmax,
                Activation::leaky_relu(-1.0),
            ];
            Box::new(ActivationLayer::new(acts[a % 3]))
        }
        "BatchNormalization" => Box::new(
            BatchNormalization::new()
                .axis(k.signed[0])
                .center(p)
                .scale(q)
                .momentum(if r { 0.9 } else { k.rate }),
        ),
        "LayerNormalization" => {
            let mut cfg = LayerNormalization::new().config_struct().clone();
            cfg.axis = k.signed[..1 + a % 2].to_vec();
            cfg.center = p;
            cfg.scale = q;
            Box::new(LayerNormalization::from_config(cfg))
        }
        "Embedding" => Box::new(Embedding::new(a, b)),
        "SimpleRNN" => Box::new(SimpleRNN::new(a).use_bias(p).return_sequences(q)),
        "LSTM" => Box::new(LSTM::new(a).use_bias(p).return_sequences(q)),
        "GRU" => Box::new(GRU::new(a).use_bias(p).return_sequences(q).go_backwards(s)),
        // Issue #16 part 1: merge layers (their single-input parameter_shapes
        // and build give the same arity error) and the simple CNN layers.
        "Add" => Box::new(Add::new()),
        "Subtract" => Box::new(Subtract::new()),
        "Multiply" => Box::new(Multiply::new()),
        "Average" => Box::new(Average::new()),
        "Maximum" => Box::new(Maximum::new()),
        "Minimum" => Box::new(Minimum::new()),
        "Concatenate" => Box::new(Concatenate::new().axis(k.signed[0] as i64)),
        "Dot" => Box::new(Dot::new(DotAxes::One(k.signed[0] as i64)).normalize(p)),
        "ZeroPadding2D" => Box::new(ZeroPadding2D::new(((a, b), (c, d)))),
        "Cropping2D" => Box::new(Cropping2D::new(((a, b), (c, d)))),
        "UpSampling2D" => Box::new(UpSampling2D::new((a, b))),
        "ReLU" => Box::new(
            ReLU::new()
                .max_value(k.rate)
                .negative_slope(k.rate - 0.5)
                .threshold(e as f32),
        ),
        "LeakyReLU" => Box::new(LeakyReLU::new().negative_slope(k.rate - 0.5)),
        "PReLU" => Box::new(
            PReLU::new()
                .shared_axes(vec![a, b][..1 + c % 2].to_vec())
                .alpha_regularizer(neurite_nn::Regularizer::l2(k.rate - 0.5)),
        ),
        // Issue #16 part 2: every field that sizes a weight or the output.
        "Conv2DTranspose" => {
            let mut cfg = Conv2DTranspose::new(1, (1, 1)).config_struct().clone();
            cfg.filters = a;
            cfg.kernel_size = (b, c);
            cfg.strides = (d.min(3), e.min(3));
            cfg.output_padding = s.then_some((f % cfg.strides.0.max(1), 0));
            cfg.dilation_rate = if q { (1, 1) } else { (1 + f % 2, 1) };
            cfg.padding = padding(r);
            cfg.use_bias = p;
            Box::new(Conv2DTranspose::from_config(cfg))
        }
        "DepthwiseConv2D" => {
            let mut cfg = DepthwiseConv2D::new((1, 1)).config_struct().clone();
            cfg.kernel_size = (b, c);
            cfg.depth_multiplier = a;
            cfg.strides = (d.min(2), e.min(2));
            cfg.dilation_rate = if q { (1, 1) } else { (1 + f % 2, 1) };
            cfg.padding = padding(r);
            cfg.use_bias = p;
            Box::new(DepthwiseConv2D::from_config(cfg))
        }
        "SeparableConv2D" => {
            let mut cfg = SeparableConv2D::new(1, (1, 1)).config_struct().clone();
            cfg.filters = a;
            cfg.kernel_size = (b, c);
            cfg.depth_multiplier = 1 + f % 3;
            cfg.strides = (d.min(2), e.min(2));
            cfg.padding = padding(r);
            cfg.use_bias = p;
            Box::new(SeparableConv2D::from_config(cfg))
        }
        "Conv1D" => {
            let mut cfg = Conv1D::new(1, 1).config_struct().clone();
            cfg.filters = a;
            cfg.kernel_size = b;
            cfg.strides = c.min(2);
            cfg.dilation_rate = if q { 1 } else { 1 + f % 2 };
            cfg.padding = [
                neurite_autograd::ops::Conv1dPadding::Valid,
                neurite_autograd::ops::Conv1dPadding::Same,
                neurite_autograd::ops::Conv1dPadding::Causal,
            ][d % 3];
            cfg.use_bias = p;
            Box::new(Conv1D::from_config(cfg))
        }
        "MaxPooling1D" | "AveragePooling1D" => {
            let mut cfg = MaxPooling1D::new(1).config_struct().clone();
            cfg.name = class.to_lowercase();
            cfg.pool_size = a;
            cfg.strides = p.then_some(b);
            cfg.padding = padding(q);
            if class == "MaxPooling1D" {
                Box::new(MaxPooling1D::from_config(cfg))
            } else {
                Box::new(AveragePooling1D::from_config(cfg))
            }
        }
        "GlobalMaxPooling1D" => Box::new(GlobalMaxPooling1D::new().keepdims(p)),
        "GlobalAveragePooling1D" => Box::new(GlobalAveragePooling1D::new().keepdims(p)),
        "TimeDistributed" => Box::new(TimeDistributed::new(Dense::new(a.max(1)).use_bias(p))),
        "Bidirectional" => {
            let inner: Box<dyn Layer> = match b % 3 {
                0 => Box::new(SimpleRNN::new(a.max(1)).return_sequences(q)),
                1 => Box::new(LSTM::new(a.max(1)).use_bias(p).return_sequences(q)),
                _ => Box::new(GRU::new(a.max(1)).use_bias(p).return_sequences(q)),
            };
            let modes = [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Ave];
            Box::new(Bidirectional::from_boxed(inner).unwrap().merge_mode(modes[c % 4]))
        }
        "MultiHeadAttention" => Box::new(MultiHeadAttention::new(a, b).value_dim(c).use_bias(p)),
        "PositionEmbedding" => Box::new(PositionEmbedding::new(a)),
        "TokenAndPositionEmbedding" => Box::new(TokenAndPositionEmbedding::new(a, b, c)),
        "TransformerEncoder" => Box::new(TransformerEncoder::new(a, b).normalize_first(q)),
        "TransformerDecoder" => Box::new(TransformerDecoder::new(a, b).normalize_first(q)),
        "Masking" => Box::new(Masking::new(k.rate - 0.5)),
        other => panic!("no generator for layer class {other}"),
    }
}

#[test]
fn every_known_class_has_a_generator() {
    let k = Knobs {
        n: [1; 6],
        flags: [true; 4],
        signed: [-1; 3],
        rate: 0.5,
    };
    for class in KNOWN_CLASSES {
        assert_eq!(make(class, &k).class_name(), *class);
    }
}

fn listed(layer: &dyn Layer) -> Vec<(String, Vec<usize>)> {
    layer
        .parameters()
        .into_iter()
        .map(|p| (p.name, p.var.shape()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parameter_shapes_match_build(
        class in proptest::sample::select(KNOWN_CLASSES.to_vec()),
        k in knobs(),
        shape in proptest::collection::vec(0usize..6, 0..4),
        seed in any::<u64>(),
    ) {
        let mut layer = make(class, &k);
        let predicted = layer.parameter_shapes(&shape);
        let built = layer.build(&shape, &mut rng_from_seed(seed));
        match (&predicted, &built) {
            (Ok(Some(shapes)), Ok(())) => {
                prop_assert_eq!(shapes, &listed(layer.as_ref()));
                // A built layer still says what a new build would create.
                prop_assert_eq!(&layer.parameter_shapes(&shape).unwrap(), &Some(shapes.clone()));
            }
            (Err(p), Err(b)) => prop_assert_eq!(p.to_string(), b.to_string()),
            _ => prop_assert!(false, "{class} on {shape:?}: parameter_shapes {predicted:?} but build {built:?}"),
        }
    }
}
