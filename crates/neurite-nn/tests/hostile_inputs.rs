//! Hostile inputs to the whole public API of neurite-nn (issue #15): configs
//! that can never work, absurd sizes, degenerate shapes, NaN and
//! out-of-range values. Every case must be an `Err` naming the layer (and
//! the field, for configs) — never a panic, an abort or a silent success.

use ndarray::{ArrayD, IxDyn};
use neurite_autograd::Var;
use neurite_nn::initializers::Initializer;
use neurite_nn::layers::RecurrentOptions;
use neurite_nn::layers::*;
use neurite_nn::losses::{Loss, Reduction};
use neurite_nn::registry::KNOWN_CLASSES;
use neurite_nn::regularizers::Regularizer;
use neurite_nn::{layer_from_config, Activation, ForwardContext, Layer, NnError};
use neurite_tensor::random::rng_from_seed;
use proptest::prelude::*;
use serde_json::json;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The error of `r`, failing the test on `Ok`.
fn err<T: std::fmt::Debug>(what: &str, r: neurite_nn::Result<T>) -> String {
    match r {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e.to_string(),
    }
}

/// Asserts `msg` names every one of `words`.
fn names(msg: &str, words: &[&str]) {
    for w in words {
        assert!(msg.contains(w), "error {msg:?} does not name {w:?}");
    }
}

fn load(class: &str, config: serde_json::Value) -> neurite_nn::Result<Box<dyn Layer>> {
    layer_from_config(class, &config)
}

fn load_err(class: &str, config: serde_json::Value) -> String {
    err(
        &format!("{class} {config}"),
        load(class, config).map(|l| l.config()),
    )
}

fn tensor(shape: &[usize], value: f32) -> Var {
    Var::from_array(ArrayD::from_elem(IxDyn(shape), value))
}

/// A default-configured layer of every known class, named `hostile_<class>`.
fn every_layer() -> Vec<Box<dyn Layer>> {
    let mut out: Vec<Box<dyn Layer>> = vec![
        Box::new(Dense::new(3)),
        Box::new(Conv2D::new(2, (2, 2))),
        Box::new(MaxPooling2D::new((2, 2))),
        Box::new(AveragePooling2D::new((2, 2))),
        Box::new(GlobalAveragePooling2D::new()),
        Box::new(GlobalMaxPooling2D::new()),
        Box::new(Flatten::new()),
        Box::new(Reshape::new([-1])),
        Box::new(Dropout::new(0.5)),
        Box::new(ActivationLayer::new(Activation::Softmax)),
        Box::new(BatchNormalization::new()),
        Box::new(LayerNormalization::new()),
        Box::new(Embedding::new(4, 2)),
        Box::new(SimpleRNN::new(2)),
        Box::new(LSTM::new(2)),
        Box::new(GRU::new(2)),
        // Issue #16 part 1 (merge layers take lists: see forward_never_panics).
        Box::new(Add::new()),
        Box::new(Subtract::new()),
        Box::new(Multiply::new()),
        Box::new(Average::new()),
        Box::new(Maximum::new()),
        Box::new(Minimum::new()),
        Box::new(Concatenate::new()),
        Box::new(Dot::new(DotAxes::One(-1))),
        Box::new(ZeroPadding2D::new(1)),
        Box::new(Cropping2D::new(1)),
        Box::new(UpSampling2D::new(2)),
        Box::new(ReLU::new().max_value(6.0)),
        Box::new(LeakyReLU::new()),
        Box::new(PReLU::new()),
        // Issue #16 part 2.
        Box::new(Conv2DTranspose::new(2, (2, 2))),
        Box::new(DepthwiseConv2D::new((2, 2))),
        Box::new(SeparableConv2D::new(2, (2, 2))),
        Box::new(Conv1D::new(2, 2)),
        Box::new(MaxPooling1D::new(2)),
        Box::new(AveragePooling1D::new(2)),
        Box::new(GlobalMaxPooling1D::new()),
        Box::new(GlobalAveragePooling1D::new()),
        Box::new(TimeDistributed::new(Dense::new(2))),
        Box::new(Bidirectional::new(LSTM::new(2)).unwrap()),
        Box::new(MultiHeadAttention::new(2, 2)),
        Box::new(PositionEmbedding::new(4)),
        Box::new(TokenAndPositionEmbedding::new(10, 4, 2)),
        Box::new(TransformerEncoder::new(4, 2)),
        Box::new(TransformerDecoder::new(4, 2)),
        Box::new(Masking::new(0.0)),
    ];
    for l in out.iter_mut() {
        let name = format!("hostile_{}", l.class_name().to_lowercase());
        l.set_name(name);
    }
    let classes: Vec<&str> = out.iter().map(|l| l.class_name()).collect();
    assert_eq!(classes, KNOWN_CLASSES, "every known class is probed");
    out
}

/// Dimensions that break naive arithmetic. Every one is either small or at
/// least 2^46, so that any shape with a nonzero element count is either tiny
/// or far beyond what can be allocated (2^46 f32 = 256 TiB, more than the
/// address space): the tests never really allocate a huge buffer.
fn hostile_dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..4,
        Just(usize::MAX),
        Just(usize::MAX / 2 + 1),
        Just(1usize << 46),
        Just((1usize << 46) + 1),
        Just(1usize << 62),
    ]
}

/// Shapes (of one sample, or of a batch) from those dimensions, rank 0 to 5.
fn hostile_shape() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(hostile_dim(), 0..6)
}

/// Small real shapes (a tensor of them can be allocated), rank 0 to 5, with zeros.
fn small_shape() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..4, 0..6)
}

fn hostile_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(-1.0f32),
        Just(0.5f32),
        Just(1e30f32),
        -5.0f32..5.0,
    ]
}

/// Runs `f`, failing the test if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what} panicked: {msg}")
        }
    }
}

/// An error that is the layer's own names it.
fn names_layer(e: &NnError, layer: &str) -> bool {
    match e {
        NnError::Autograd(_) => true,
        other => other.to_string().contains(layer),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Shape arithmetic never panics, wraps or allocates on absurd shapes:
    /// `output_shape`, `parameter_shapes` and `build` either succeed or
    /// return an error naming the layer.
    #[test]
    fn shape_queries_never_panic(shape in hostile_shape()) {
        for mut layer in every_layer() {
            let name = layer.name().to_string();
            let what = format!("{name} on {shape:?}");
            let out = no_panic(&what, || layer.output_shape(&shape));
            let shapes = no_panic(&what, || layer.parameter_shapes(&shape));
            let built = no_panic(&what, || layer.build(&shape, &mut rng_from_seed(0)));
            for e in [out.err(), shapes.err(), built.err()].into_iter().flatten() {
                prop_assert!(names_layer(&e, &name), "{what}: {e}");
            }
        }
    }

    /// `forward` on a built layer never panics, whatever the input's shape
    /// (wrong rank, zero dimensions, empty) or values (NaN, inf, huge).
    #[test]
    fn forward_never_panics(shape in small_shape(), value in hostile_value(), training in any::<bool>()) {
        let build_shapes: [&[usize]; 4] = [&[3], &[4, 4, 2], &[3, 2], &[2, 2]];
        for mut layer in every_layer() {
            let name = layer.name().to_string();
            if layer.input_arity() != neurite_nn::layer::InputArity::One {
                // A list-taking layer called on one tensor: an error naming it
                // (their forward_multi is probed in merge_layers.rs).
                let x = tensor(&shape, value);
                let r = no_panic(&name, || layer.forward(&x, &mut ForwardContext::inference()));
                prop_assert!(r.as_ref().is_err_and(|e| names_layer(e, &name)), "{name}: {r:?}");
                continue;
            }
            let Some(bs) = build_shapes.iter().find(|s| layer.parameter_shapes(s).is_ok()) else {
                prop_assert!(false, "{name} builds on none of the probe shapes");
                unreachable!()
            };
            layer.build(bs, &mut rng_from_seed(1)).unwrap();
            let x = tensor(&shape, value);
            let mut ctx = if training { ForwardContext::training(3) } else { ForwardContext::inference() };
            let r = no_panic(&format!("{name} forward on {shape:?} of {value}"), || layer.forward(&x, &mut ctx));
            if let Err(e) = r {
                prop_assert!(names_layer(&e, &name), "{name} on {shape:?}: {e}");
            }
        }
    }

    /// The public fused recurrent ops on operands of any small shapes: an
    /// error or a result, never a panic.
    #[test]
    fn fused_recurrent_ops_never_panic(xs in small_shape(), ks in small_shape(), rs in small_shape(),
                                       bs in proptest::option::of(small_shape()), value in hostile_value(),
                                       return_sequences in any::<bool>(), go_backwards in any::<bool>()) {
        let p = |s: &[usize]| Var::parameter(ArrayD::from_elem(IxDyn(s), value));
        let (x, k, r) = (p(&xs), p(&ks), p(&rs));
        let b = bs.as_deref().map(p);
        let opts = RecurrentOptions { return_sequences, go_backwards, ..RecurrentOptions::default() };
        let what = format!("x {xs:?} kernel {ks:?} recurrent {rs:?} bias {bs:?}");
        for (op, f) in [
            ("fused_lstm", fused_lstm as fn(&Var, &Var, &Var, Option<&Var>, &RecurrentOptions) -> neurite_nn::Result<Var>),
            ("fused_gru", fused_gru),
            ("fused_simple_rnn", fused_simple_rnn),
        ] {
            let y = no_panic(&format!("{op} {what}"), || f(&x, &k, &r, b.as_ref(), &opts));
            if let Ok(y) = y {
                let _ = no_panic(&format!("{op} backward {what}"), || neurite_autograd::ops::sum_all(&y).map(|s| s.backward()));
            }
        }
    }

    /// The fused Conv2D(relu) + MaxPooling2D pass on any input: as the two
    /// forwards, an error or a result, never a panic.
    #[test]
    fn fused_conv_pool_never_panics(shape in small_shape(), value in hostile_value(), training in any::<bool>(),
                                    k in 1usize..4, pool in 1usize..4) {
        let mut conv = Conv2D::new(16, (k, k)).activation(Activation::Relu).with_name("conv_f");
        conv.build(&[4, 4, 1], &mut rng_from_seed(0)).unwrap();
        let next = MaxPooling2D::new((pool, pool)).with_name("pool_f");
        let x = tensor(&shape, value);
        let mut ctx = if training { ForwardContext::training(1) } else { ForwardContext::inference() };
        let fused = no_panic(&format!("fused on {shape:?}"), || conv.forward_fused(&next, &x, &mut ctx));
        if let Some(Err(e)) = fused {
            prop_assert!(names_layer(&e, "conv_f") || names_layer(&e, "pool_f"), "{e}");
        }
    }

    /// Every loss on any pair of small shapes and hostile values: an error or
    /// a value, never a panic.
    #[test]
    fn losses_never_panic(ts in small_shape(), ps in small_shape(), tv in hostile_value(), pv in hostile_value(),
                          weighted in any::<bool>()) {
        let losses = [
            Loss::MeanSquaredError,
            Loss::MeanAbsoluteError,
            Loss::Huber { delta: 1.0 },
            Loss::Huber { delta: f32::NAN },
            Loss::BinaryCrossentropy { from_logits: false },
            Loss::BinaryCrossentropy { from_logits: true },
            Loss::CategoricalCrossentropy { from_logits: false },
            Loss::CategoricalCrossentropy { from_logits: true },
            Loss::SparseCategoricalCrossentropy { from_logits: false },
            Loss::SparseCategoricalCrossentropy { from_logits: true },
            Loss::KLDivergence,
            Loss::Hinge,
        ];
        let t = tensor(&ts, tv);
        let p = Var::parameter(ArrayD::from_elem(IxDyn(&ps), pv));
        let n = ps.first().copied().unwrap_or(0);
        let w = tensor(&[n], 1.0);
        for loss in losses {
            let what = format!("{} on {ts:?} / {ps:?}", loss.name());
            for reduction in [Reduction::Mean, Reduction::Sum] {
                let r = no_panic(&what, || loss.compute(&t, &p, weighted.then_some(&w), reduction));
                if let Ok(v) = r {
                    prop_assert_eq!(v.shape(), Vec::<usize>::new(), "{}: not a scalar", what);
                    let _ = no_panic(&what, || v.backward());
                }
            }
        }
    }

    /// Initializers on absurd shapes: an error naming the size, never an abort.
    #[test]
    fn initializers_never_abort(shape in hostile_shape()) {
        let inits = [
            Initializer::GlorotUniform,
            Initializer::GlorotNormal,
            Initializer::HeUniform,
            Initializer::HeNormal,
            Initializer::LecunUniform,
            Initializer::LecunNormal,
            Initializer::orthogonal(),
            Initializer::Zeros,
            Initializer::Ones,
            Initializer::Constant { value: 2.0 },
            Initializer::random_uniform(),
            Initializer::random_normal(),
            Initializer::TruncatedNormal { mean: 0.0, stddev: 0.05 },
        ];
        // ndarray refuses shapes whose nonzero dimensions multiply past isize::MAX, even with 0 elements.
        let representable = shape
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .is_some_and(|n| n <= isize::MAX as usize);
        let small = representable
            && shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_some_and(|n| n <= 1 << 16);
        for init in inits {
            if matches!(init, Initializer::Orthogonal { .. }) && !small {
                // Orthogonal is O(rows * cols^2): only its size checks are probed.
                let big = no_panic("orthogonal", || init.initialize(&[1 << 46, 1 << 46], &mut rng_from_seed(0)));
                prop_assert!(big.is_err());
                continue;
            }
            let r = no_panic(&format!("{init:?} on {shape:?}"), || init.initialize(&shape, &mut rng_from_seed(0)));
            let works = small && (shape.len() >= 2 || !matches!(init, Initializer::Orthogonal { .. }));
            prop_assert_eq!(r.is_ok(), works, "{:?} on {:?}: {:?}", init, shape, r.as_ref().map(|t| t.shape().to_vec()));
        }
    }

    /// Regularizers on any tensor and factor: no panic.
    #[test]
    fn regularizers_never_panic(shape in small_shape(), value in hostile_value(), f in hostile_value()) {
        let x = tensor(&shape, value);
        for r in [Regularizer::l1(f), Regularizer::l2(f), Regularizer::l1_l2(f, f)] {
            let p = no_panic("penalty", || r.penalty(&x));
            prop_assert!(p.is_ok());
        }
    }
}

// ---------------------------------------------------------------------------
// 2. Configs that can never work: refused by layer_from_config, naming the
//    layer and the field.

#[test]
fn config_values_that_can_never_work_are_refused_at_load() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("Dense", json!({"name": "dense_1", "units": 0}), "units"),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "input_shape": [4, 0]}),
            "input_shape",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "kernel_initializer": {"random_uniform": {"minval": 1.0, "maxval": -1.0}}}),
            "kernel_initializer",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "bias_initializer": {"random_normal": {"mean": 0.0, "stddev": -1.0}}}),
            "bias_initializer",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "kernel_regularizer": {"l2": {"l2": -0.5}}}),
            "kernel_regularizer",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "activity_regularizer": {"l1_l2": {"l1": 0.1, "l2": -1.0}}}),
            "activity_regularizer",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "activation": {"name": "leaky_relu", "alpha": -1.0}}),
            "activation",
        ),
        (
            "Conv2D",
            json!({"name": "conv_1", "filters": 0, "kernel_size": [3, 3]}),
            "filters",
        ),
        (
            "Conv2D",
            json!({"name": "conv_1", "filters": 4, "kernel_size": [0, 3]}),
            "kernel_size",
        ),
        (
            "Conv2D",
            json!({"name": "conv_1", "filters": 4, "kernel_size": [3, 3], "strides": [1, 0]}),
            "strides",
        ),
        (
            "Conv2D",
            json!({"name": "conv_1", "filters": 4, "kernel_size": [3, 3], "dilation_rate": [0, 1]}),
            "dilation_rate",
        ),
        (
            "MaxPooling2D",
            json!({"name": "pool_1", "pool_size": [0, 2]}),
            "pool_size",
        ),
        (
            "AveragePooling2D",
            json!({"name": "pool_2", "pool_size": [2, 2], "strides": [2, 0]}),
            "strides",
        ),
        (
            "GlobalMaxPooling2D",
            json!({"name": "gmp", "input_shape": [0, 4, 3]}),
            "input_shape",
        ),
        (
            "GlobalAveragePooling2D",
            json!({"name": "gap", "input_shape": [4, 4, 0]}),
            "input_shape",
        ),
        (
            "Flatten",
            json!({"name": "flat", "input_shape": [0]}),
            "input_shape",
        ),
        (
            "Reshape",
            json!({"name": "rs", "target_shape": [-1, -1]}),
            "target_shape",
        ),
        (
            "Reshape",
            json!({"name": "rs", "target_shape": [0, 4]}),
            "target_shape",
        ),
        (
            "Reshape",
            json!({"name": "rs", "target_shape": [-2, 4]}),
            "target_shape",
        ),
        (
            "Reshape",
            json!({"name": "rs", "target_shape": [4611686018427387904i64, 8]}),
            "target_shape",
        ),
        ("Dropout", json!({"name": "drop", "rate": 2.5}), "rate"),
        ("Dropout", json!({"name": "drop", "rate": -0.1}), "rate"),
        ("Dropout", json!({"name": "drop", "rate": 1.0}), "rate"),
        (
            "Activation",
            json!({"name": "act", "activation": {"name": "leaky_relu", "alpha": -0.5}}),
            "activation",
        ),
        (
            "BatchNormalization",
            json!({"name": "bn", "epsilon": -1.0}),
            "epsilon",
        ),
        (
            "BatchNormalization",
            json!({"name": "bn", "epsilon": 0.0}),
            "epsilon",
        ),
        // A denormal f32, read as 0 while training flushes denormals:
        // 1 / sqrt(0 + 0) for a constant feature.
        (
            "BatchNormalization",
            json!({"name": "bn", "epsilon": 1e-40}),
            "epsilon",
        ),
        (
            "LayerNormalization",
            json!({"name": "ln", "epsilon": 1e-39}),
            "epsilon",
        ),
        (
            "BatchNormalization",
            json!({"name": "bn", "momentum": 1.5}),
            "momentum",
        ),
        ("BatchNormalization", json!({"name": "bn", "axis": 0}), "axis"),
        (
            "BatchNormalization",
            json!({"name": "bn", "gamma_initializer": {"orthogonal": {"gain": 1.0}}, "beta_regularizer": {"l1": {"l1": -1.0}}}),
            "beta_regularizer",
        ),
        (
            "LayerNormalization",
            json!({"name": "ln", "epsilon": -1e-3}),
            "epsilon",
        ),
        ("LayerNormalization", json!({"name": "ln", "axis": []}), "axis"),
        (
            "LayerNormalization",
            json!({"name": "ln", "axis": [-1, -1]}),
            "axis",
        ),
        ("LayerNormalization", json!({"name": "ln", "axis": 0}), "axis"),
        (
            "Embedding",
            json!({"name": "emb", "input_dim": 0, "output_dim": 4}),
            "input_dim",
        ),
        (
            "Embedding",
            json!({"name": "emb", "input_dim": 10, "output_dim": 0}),
            "output_dim",
        ),
        ("SimpleRNN", json!({"name": "rnn", "units": 0}), "units"),
        (
            "SimpleRNN",
            json!({"name": "rnn", "units": 2, "activation": "softmax"}),
            "activation",
        ),
        (
            "LSTM",
            json!({"name": "lstm_1", "units": 2, "recurrent_activation": "gelu"}),
            "recurrent_activation",
        ),
        (
            "LSTM",
            json!({"name": "lstm_1", "units": 2, "input_shape": [0, 3]}),
            "input_shape",
        ),
        (
            "GRU",
            json!({"name": "gru_1", "units": 2, "recurrent_dropout": 1.5}),
            "recurrent_dropout",
        ),
        (
            "GRU",
            json!({"name": "gru_1", "units": 2, "recurrent_regularizer": {"l2": {"l2": -2.0}}}),
            "recurrent_regularizer",
        ),
    ];
    for (class, config, field) in cases {
        let layer = config["name"].as_str().unwrap().to_string();
        let msg = load_err(class, config);
        names(&msg, &[&layer, &format!("\"{field}")]);
    }
}

#[test]
fn parse_errors_name_the_field_path() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "Dense",
            json!({"name": "dense_1", "units": "eight"}),
            "field \"units\": invalid type: string \"eight\", expected usize",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": -3}),
            "field \"units\"",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "activation": "nope"}),
            "field \"activation\"",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "use_bias": "yes"}),
            "field \"use_bias\"",
        ),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "kernel_initializer": {"random_uniform": {"minval": "a", "maxval": 1.0}}}),
            "field \"kernel_initializer",
        ),
        (
            "Conv2D",
            json!({"name": "conv_1", "filters": 2, "kernel_size": [3, "3"]}),
            "field \"kernel_size",
        ),
        (
            "Conv2D",
            json!({"name": "conv_1", "filters": 2, "kernel_size": [3, 3], "padding": "full"}),
            "field \"padding\"",
        ),
        (
            "Dropout",
            json!({"name": "drop", "rate": "half"}),
            "field \"rate\"",
        ),
        (
            "Embedding",
            json!({"name": "emb", "input_dim": 1.5, "output_dim": 2}),
            "field \"input_dim\"",
        ),
        ("LSTM", json!({"name": "lstm_1", "units": [4]}), "field \"units\""),
        (
            "Dense",
            json!({"name": "dense_1", "units": 3, "input_shape": [4, -1]}),
            "field \"input_shape[1]\"",
        ),
    ];
    for (class, config, expected) in cases {
        let msg = load_err(class, config);
        names(&msg, &[expected]);
        assert!(
            msg.contains("dense_1") || !expected.contains("units\": invalid type"),
            "{msg}"
        );
    }
    // A config that is not an object at all, or lacks a required field, still names the layer class.
    names(&load_err("Dense", json!([1, 2])), &["Dense"]);
    names(
        &load_err("Dense", json!({"name": "dense_9"})),
        &["dense_9", "units"],
    );
}

#[test]
fn valid_configs_still_load_and_round_trip() {
    for layer in every_layer() {
        let again = load(layer.class_name(), layer.config()).unwrap();
        assert_eq!(again.config(), layer.config());
    }
}

// ---------------------------------------------------------------------------
// 2b. The same checks run in build for layers made with the builder API.

#[test]
fn builder_layers_with_impossible_values_fail_at_build() {
    let cases: Vec<(Box<dyn Layer>, &[usize], &str)> = vec![
        (Box::new(Dropout::new(2.5).with_name("drop")), &[3], "rate"),
        (Box::new(Dropout::new(f32::NAN).with_name("drop")), &[3], "rate"),
        (Box::new(Dense::new(0).with_name("dense_1")), &[3], "units"),
        (
            Box::new(Dense::new(2).with_name("dense_1").input_shape([0])),
            &[3],
            "input_shape",
        ),
        (
            Box::new(
                Dense::new(2)
                    .with_name("dense_1")
                    .kernel_regularizer(Regularizer::l2(f32::NAN)),
            ),
            &[3],
            "kernel_regularizer",
        ),
        (
            Box::new(
                Dense::new(2)
                    .with_name("dense_1")
                    .kernel_initializer(Initializer::RandomNormal {
                        mean: 0.0,
                        stddev: -1.0,
                    }),
            ),
            &[3],
            "kernel_initializer",
        ),
        (
            Box::new(
                Dense::new(2)
                    .with_name("dense_1")
                    .bias_initializer(Initializer::Constant { value: f32::NAN }),
            ),
            &[3],
            "bias_initializer",
        ),
        (
            Box::new(
                Dense::new(2)
                    .with_name("dense_1")
                    .activation(Activation::elu(f32::INFINITY)),
            ),
            &[3],
            "activation",
        ),
        (
            Box::new(Conv2D::new(2, (3, 3)).with_name("conv_1").strides((0, 1))),
            &[5, 5, 1],
            "strides",
        ),
        (
            Box::new(Conv2D::new(2, (0, 3)).with_name("conv_1")),
            &[5, 5, 1],
            "kernel_size",
        ),
        (
            Box::new(MaxPooling2D::new((0, 2)).with_name("pool_1")),
            &[4, 4, 1],
            "pool_size",
        ),
        (
            Box::new(AveragePooling2D::new((2, 2)).with_name("pool_1").strides((2, 0))),
            &[4, 4, 1],
            "strides",
        ),
        (
            Box::new(BatchNormalization::new().with_name("bn").epsilon(f32::NAN)),
            &[3],
            "epsilon",
        ),
        (
            Box::new(BatchNormalization::new().with_name("bn").momentum(-0.5)),
            &[3],
            "momentum",
        ),
        (
            Box::new(LayerNormalization::new().with_name("ln").epsilon(-1.0)),
            &[3],
            "epsilon",
        ),
        (
            Box::new(BatchNormalization::new().with_name("bn").epsilon(1e-40)),
            &[3],
            "epsilon",
        ),
        (
            Box::new(
                LayerNormalization::new()
                    .with_name("ln")
                    .epsilon(f32::MIN_POSITIVE / 2.0),
            ),
            &[3],
            "epsilon",
        ),
        (Box::new(Embedding::new(0, 3).with_name("emb")), &[2], "input_dim"),
        (
            Box::new(Embedding::new(3, 0).with_name("emb")),
            &[2],
            "output_dim",
        ),
        (
            Box::new(Reshape::new([-1, -1]).with_name("rs")),
            &[4],
            "target_shape",
        ),
        (
            Box::new(ActivationLayer::new(Activation::leaky_relu(f32::NAN)).with_name("act")),
            &[3],
            "activation",
        ),
        (Box::new(SimpleRNN::new(0).with_name("rnn")), &[2, 3], "units"),
        (
            Box::new(LSTM::new(2).with_name("lstm_1").activation(Activation::Softmax)),
            &[2, 3],
            "activation",
        ),
        (
            Box::new(
                GRU::new(2)
                    .with_name("gru_1")
                    .bias_initializer(Initializer::random_uniform())
                    .kernel_initializer(Initializer::RandomUniform {
                        minval: f32::NAN,
                        maxval: 1.0,
                    }),
            ),
            &[2, 3],
            "kernel_initializer",
        ),
    ];
    for (mut layer, shape, field) in cases {
        let name = layer.name().to_string();
        let predicted = err(&format!("{name} parameter_shapes"), layer.parameter_shapes(shape));
        let msg = err(
            &format!("{name} build"),
            layer.build(shape, &mut rng_from_seed(0)),
        );
        names(&msg, &[&name, field]);
        assert_eq!(predicted, msg, "parameter_shapes and build agree");
        assert!(
            !layer.is_built() || layer.parameters().is_empty(),
            "{name}: nothing created"
        );
    }
}

#[test]
fn dropout_with_an_impossible_rate_fails_at_forward_too() {
    let d = Dropout::new(2.5).with_name("drop");
    let msg = err(
        "forward",
        d.forward(&tensor(&[2, 3], 1.0), &mut ForwardContext::training(0))
            .map(|v| v.shape()),
    );
    names(&msg, &["drop", "rate", "2.5"]);
}

// ---------------------------------------------------------------------------
// 3. Sizes never overflow or abort.

#[test]
fn absurd_weight_sizes_are_errors_not_aborts() {
    // The cases: Dense units 4e9 on 1e12 features: the kernel's byte size does not fit in isize.
    let cfg = json!({"name": "dense_1", "units": 4_000_000_000u64, "input_shape": [1_000_000_000_000u64]});
    let mut d = load("Dense", cfg).unwrap();
    let shape = d.declared_input_shape().unwrap();
    let msg = err("parameter_shapes", d.parameter_shapes(&shape));
    names(&msg, &["dense_1.kernel", "isize"]);
    names(
        &err("build", d.build(&shape, &mut rng_from_seed(0))),
        &["dense_1.kernel"],
    );
    assert!(!d.is_built());

    // Sizes that fit in isize but can never be allocated (2^46 f32 = 256 TiB): allocation errors.
    let huge = 1usize << 46;
    let cases: Vec<(Box<dyn Layer>, Vec<usize>, &str)> = vec![
        (
            Box::new(Dense::new(1).with_name("dense_2")),
            vec![huge],
            "dense_2.kernel",
        ),
        (
            Box::new(Dense::new(huge).with_name("dense_3")),
            vec![1],
            "dense_3.kernel",
        ),
        (
            Box::new(Embedding::new(huge, 1).with_name("emb")),
            vec![4],
            "emb.embeddings",
        ),
        (
            Box::new(Conv2D::new(huge, (1, 1)).with_name("conv_1")),
            vec![2, 2, 1],
            "conv_1.kernel",
        ),
        (
            Box::new(BatchNormalization::new().with_name("bn")),
            vec![huge],
            "bn.gamma",
        ),
        (
            Box::new(LayerNormalization::new().with_name("ln")),
            vec![huge],
            "ln.gamma",
        ),
        (
            Box::new(SimpleRNN::new(1).with_name("rnn")),
            vec![2, huge],
            "rnn.kernel",
        ),
        (
            Box::new(LSTM::new(1).with_name("lstm_1")),
            vec![2, huge],
            "lstm_1.kernel",
        ),
        (
            Box::new(
                GRU::new(1)
                    .with_name("gru_1")
                    .kernel_initializer(Initializer::Zeros),
            ),
            vec![2, huge],
            "gru_1.kernel",
        ),
        (
            Box::new(
                Dense::new(1)
                    .with_name("dense_4")
                    .kernel_initializer(Initializer::orthogonal()),
            ),
            vec![huge],
            "dense_4.kernel",
        ),
    ];
    for (mut layer, shape, var) in cases {
        let shapes = layer.parameter_shapes(&shape).unwrap().unwrap();
        assert!(shapes.iter().any(|(n, _)| n == var), "{shapes:?}");
        let msg = err(var, layer.build(&shape, &mut rng_from_seed(0)));
        names(&msg, &["cannot allocate", "bytes", var]);
        assert!(
            !layer.is_built(),
            "{var}: a failed build leaves the layer unbuilt"
        );
    }
    // A recurrent kernel (units, 3 units) beyond isize bytes.
    let gru = GRU::new(huge).with_name("gru_2");
    names(
        &err("gru units", gru.parameter_shapes(&[2, 3])),
        &["gru_2.recurrent_kernel", "isize"],
    );
    // Recurrent gates (4 * units) overflow usize.
    let lstm = LSTM::new(1usize << 62).with_name("lstm_2");
    names(&err("lstm gates", lstm.parameter_shapes(&[2, 3])), &["lstm_2"]);
    // Orthogonal workspaces are checked too.
    let msg = err(
        "orthogonal",
        Initializer::orthogonal().initialize(&[huge, 2], &mut rng_from_seed(0)),
    );
    names(&msg, &["cannot allocate"]);
}

#[test]
fn shape_arithmetic_is_checked() {
    let big = 1usize << 62;
    names(
        &err(
            "flatten",
            Flatten::new().with_name("flat").output_shape(&[big, 8]),
        ),
        &["flat", "overflow"],
    );
    names(
        &err(
            "reshape",
            Reshape::new([-1]).with_name("rs").output_shape(&[big, big]),
        ),
        &["rs", "overflow"],
    );
    names(
        &err(
            "conv",
            Conv2D::new(1, (usize::MAX, 1))
                .with_name("conv_1")
                .dilation_rate((2, 1))
                .output_shape(&[4, 4, 1]),
        ),
        &["conv_1"],
    );
    // Pooling and convolution shapes of huge (but representable) inputs are computed, not allocated.
    assert_eq!(
        MaxPooling2D::new((2, 2)).output_shape(&[big, big, 3]).unwrap(),
        vec![big / 2, big / 2, 3]
    );
    assert_eq!(
        Conv2D::new(2, (3, 3))
            .padding(neurite_tensor::Padding::Same)
            .output_shape(&[big, 5, 1])
            .unwrap(),
        vec![big, 5, 2]
    );
    assert_eq!(
        AveragePooling2D::new((2, 2))
            .padding(neurite_tensor::Padding::Same)
            .output_shape(&[big + 1, 3, 1])
            .unwrap(),
        vec![big / 2 + 1, 2, 1]
    );
}

// ---------------------------------------------------------------------------
// 4. Degenerate inputs.

#[test]
fn recurrent_layers_refuse_zero_timesteps() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(SimpleRNN::new(2).with_name("rnn_0")),
        Box::new(LSTM::new(2).with_name("lstm_0")),
        Box::new(GRU::new(2).with_name("gru_0").return_sequences(true)),
    ];
    for mut layer in layers {
        let name = layer.name().to_string();
        names(
            &err("output_shape", layer.output_shape(&[0, 3])),
            &[&name, "timesteps >= 1"],
        );
        names(
            &err("parameter_shapes", layer.parameter_shapes(&[0, 3])),
            &[&name, "timesteps >= 1"],
        );
        names(
            &err("build", layer.build(&[0, 3], &mut rng_from_seed(0))),
            &[&name, "timesteps >= 1"],
        );
        names(
            &err("build", layer.build(&[4, 0], &mut rng_from_seed(0))),
            &[&name],
        );
        layer.build(&[4, 3], &mut rng_from_seed(0)).unwrap();
        for training in [false, true] {
            let mut ctx = if training {
                ForwardContext::training(0)
            } else {
                ForwardContext::inference()
            };
            let msg = err(
                "forward",
                layer
                    .forward(&tensor(&[2, 0, 3], 1.0), &mut ctx)
                    .map(|v| v.shape()),
            );
            names(&msg, &[&name, "timesteps >= 1", "[2, 0, 3]"]);
        }
    }
    // The public fused ops refuse it too.
    let p = |s: &[usize]| Var::parameter(ArrayD::zeros(IxDyn(s)));
    let x = tensor(&[2, 0, 3], 1.0);
    let opts = RecurrentOptions::default();
    names(
        &err(
            "fused_lstm",
            fused_lstm(&x, &p(&[3, 8]), &p(&[2, 8]), None, &opts).map(|v| v.shape()),
        ),
        &["timesteps >= 1"],
    );
    names(
        &err(
            "fused_gru",
            fused_gru(&x, &p(&[3, 6]), &p(&[2, 6]), None, &opts).map(|v| v.shape()),
        ),
        &["timesteps >= 1"],
    );
    names(
        &err(
            "fused_simple_rnn",
            fused_simple_rnn(&x, &p(&[3, 2]), &p(&[2, 2]), None, &opts).map(|v| v.shape()),
        ),
        &["timesteps >= 1"],
    );
}

#[test]
fn normalizations_refuse_zero_features() {
    for (mut layer, shape) in [
        (
            Box::new(BatchNormalization::new().with_name("bn_0")) as Box<dyn Layer>,
            vec![0],
        ),
        (Box::new(BatchNormalization::new().with_name("bn_0")), vec![4, 0]),
        (
            Box::new(BatchNormalization::new().with_name("bn_0").axis(1)),
            vec![0, 3],
        ),
        (Box::new(LayerNormalization::new().with_name("ln_0")), vec![0]),
        (Box::new(LayerNormalization::new().with_name("ln_0")), vec![5, 0]),
    ] {
        let name = layer.name().to_string();
        names(
            &err("output_shape", layer.output_shape(&shape)),
            &[&name, "at least 1 feature"],
        );
        names(
            &err("build", layer.build(&shape, &mut rng_from_seed(0))),
            &[&name, "at least 1 feature"],
        );
        assert!(!layer.is_built());
    }
    // An axis out of range names the field.
    let bn = BatchNormalization::new().with_name("bn_1").axis(5);
    names(&err("axis", bn.parameter_shapes(&[3])), &["bn_1", "\"axis\""]);
}

#[test]
fn flatten_and_reshape_size_mismatches_are_errors() {
    let r = Reshape::new([4, 2]).with_name("rs_1");
    names(
        &err("output_shape", r.output_shape(&[3, 3])),
        &["rs_1", "8 elements"],
    );
    names(
        &err(
            "forward",
            r.forward(&tensor(&[2, 3, 3], 1.0), &mut ForwardContext::inference())
                .map(|v| v.shape()),
        ),
        &["rs_1"],
    );
    let r = Reshape::new([-1, 4]).with_name("rs_2");
    names(&err("output_shape", r.output_shape(&[6])), &["rs_2"]);
    names(
        &err(
            "forward",
            r.forward(&Var::scalar(1.0), &mut ForwardContext::inference())
                .map(|v| v.shape()),
        ),
        &["rs_2"],
    );
    let f = Flatten::new().with_name("flat_1");
    names(
        &err(
            "forward",
            f.forward(&Var::scalar(1.0), &mut ForwardContext::inference())
                .map(|v| v.shape()),
        ),
        &["flat_1"],
    );
}

#[test]
fn embedding_refuses_bad_indices() {
    let mut e = Embedding::new(4, 2).with_name("emb_1");
    e.build(&[3], &mut rng_from_seed(0)).unwrap();
    for bad in [
        -1.0f32,
        0.5,
        f32::NAN,
        4.0,
        1e20,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.5,
    ] {
        let x = Var::from_array(ndarray::arr2(&[[0.0f32, bad]]));
        let msg = err(
            &format!("index {bad}"),
            e.forward(&x, &mut ForwardContext::inference()).map(|v| v.shape()),
        );
        names(&msg, &["emb_1", "input_dim=4"]);
    }
    names(
        &err(
            "scalar input",
            e.forward(&Var::scalar(1.0), &mut ForwardContext::inference())
                .map(|v| v.shape()),
        ),
        &["emb_1"],
    );
}

#[test]
fn layers_refuse_inputs_they_cannot_take() {
    let mut ctx = ForwardContext::inference();
    let mut d = Dense::new(2).with_name("dense_z");
    names(
        &err(
            "unbuilt",
            d.forward(&tensor(&[2, 3], 1.0), &mut ctx).map(|v| v.shape()),
        ),
        &["dense_z"],
    );
    names(
        &err("features 0", d.build(&[0], &mut rng_from_seed(0))),
        &["dense_z"],
    );
    names(&err("rank 0", d.build(&[], &mut rng_from_seed(0))), &["dense_z"]);
    d.build(&[3], &mut rng_from_seed(0)).unwrap();
    for shape in [vec![3], vec![2, 4], vec![2, 0], vec![]] {
        names(
            &err(
                "dense",
                d.forward(&tensor(&shape, 1.0), &mut ctx).map(|v| v.shape()),
            ),
            &["dense_z"],
        );
    }
    let mut c = Conv2D::new(2, (3, 3)).with_name("conv_z");
    for shape in [vec![2, 2, 1], vec![5, 5, 0], vec![0, 5, 1], vec![5, 5]] {
        names(
            &err("conv build", c.build(&shape, &mut rng_from_seed(0))),
            &["conv_z"],
        );
    }
    c.build(&[5, 5, 1], &mut rng_from_seed(0)).unwrap();
    for shape in [
        vec![1, 2, 2, 1],
        vec![1, 5, 5, 2],
        vec![5, 5, 1],
        vec![1, 0, 5, 1],
    ] {
        names(
            &err(
                "conv forward",
                c.forward(&tensor(&shape, 1.0), &mut ctx).map(|v| v.shape()),
            ),
            &["conv_z"],
        );
    }
    let p = MaxPooling2D::new((2, 2)).with_name("pool_z");
    for shape in [vec![1, 1, 4, 1], vec![1, 4, 4], vec![1, 0, 4, 1]] {
        names(
            &err(
                "pool forward",
                p.forward(&tensor(&shape, 1.0), &mut ctx).map(|v| v.shape()),
            ),
            &["pool_z"],
        );
    }
    let g = GlobalAveragePooling2D::new().with_name("gap_z");
    names(&err("gap", g.output_shape(&[0, 3, 2])), &["gap_z"]);
    names(
        &err(
            "gap",
            g.forward(&tensor(&[2, 3, 0, 2], 1.0), &mut ctx)
                .map(|v| v.shape()),
        ),
        &["gap_z"],
    );
    let a = ActivationLayer::new(Activation::softmax_axis(5)).with_name("act_z");
    names(
        &err(
            "softmax axis",
            a.forward(&tensor(&[2, 3], 1.0), &mut ctx).map(|v| v.shape()),
        ),
        &["act_z", "axis 5"],
    );
    // Unbuilt layers' output_shape gives the errors build would.
    names(
        &err(
            "dense output_shape",
            Dense::new(2).with_name("dense_y").output_shape(&[4, 0]),
        ),
        &["dense_y"],
    );
    names(
        &err(
            "conv output_shape",
            Conv2D::new(2, (3, 3))
                .with_name("conv_y")
                .output_shape(&[5, 5, 0]),
        ),
        &["conv_y"],
    );
}

#[test]
fn losses_refuse_mismatched_shapes_and_bad_labels() {
    let p = tensor(&[2, 3], 0.5);
    for loss in [
        Loss::MeanSquaredError,
        Loss::binary_crossentropy(),
        Loss::categorical_crossentropy(),
        Loss::Hinge,
    ] {
        let msg = err(
            loss.name(),
            loss.compute(&tensor(&[2, 4], 1.0), &p, None, Reduction::Mean)
                .map(|v| v.shape()),
        );
        names(&msg, &[loss.name(), "[2, 4]"]);
        let w = tensor(&[3], 1.0);
        let msg = err(
            "weights",
            loss.compute(&p, &p, Some(&w), Reduction::Mean).map(|v| v.shape()),
        );
        names(&msg, &[loss.name(), "sample_weight"]);
    }
    let sparse = Loss::sparse_categorical_crossentropy();
    for bad in [3.0f32, -1.0, 0.5, f32::NAN, f32::INFINITY, 1e10] {
        let labels = Var::from_array(ndarray::arr1(&[0.0f32, bad]));
        for l in [sparse, Loss::SparseCategoricalCrossentropy { from_logits: true }] {
            let msg = err(
                &format!("label {bad}"),
                l.compute(&labels, &p, None, Reduction::Mean).map(|v| v.shape()),
            );
            names(&msg, &["sparse_categorical_crossentropy", "3 classes"]);
        }
    }
    names(
        &err(
            "labels shape",
            sparse
                .compute(&tensor(&[3], 0.0), &p, None, Reduction::Mean)
                .map(|v| v.shape()),
        ),
        &["sparse_categorical_crossentropy"],
    );
    names(
        &err(
            "rank 1",
            Loss::categorical_crossentropy()
                .compute(&tensor(&[3], 0.0), &tensor(&[3], 0.5), None, Reduction::Mean)
                .map(|v| v.shape()),
        ),
        &["categorical_crossentropy"],
    );
    names(
        &err(
            "huber delta",
            Loss::Huber { delta: f32::NAN }
                .compute(&p, &p, None, Reduction::Mean)
                .map(|v| v.shape()),
        ),
        &["huber", "delta"],
    );
    names(
        &err(
            "scalar",
            Loss::mse()
                .compute(&Var::scalar(1.0), &Var::scalar(1.0), None, Reduction::Mean)
                .map(|v| v.shape()),
        ),
        &["mean_squared_error"],
    );
}

/// Initializer values did not change with the fallible allocation: the same
/// draws as `neurite_tensor::random` for the same seed.
#[test]
fn initializer_values_are_unchanged() {
    use neurite_tensor::random::{normal, truncated_normal, uniform};
    let shape = [7, 5];
    let k = (3.0f64 / 6.0).sqrt() as f32; // glorot_uniform limit for fans 7 and 5
    assert_eq!(
        Initializer::GlorotUniform
            .initialize(&shape, &mut rng_from_seed(3))
            .unwrap(),
        uniform(&shape, -k, k, &mut rng_from_seed(3))
    );
    assert_eq!(
        Initializer::random_uniform()
            .initialize(&shape, &mut rng_from_seed(4))
            .unwrap(),
        uniform(&shape, -0.05, 0.05, &mut rng_from_seed(4))
    );
    assert_eq!(
        Initializer::random_normal()
            .initialize(&shape, &mut rng_from_seed(5))
            .unwrap(),
        normal(&shape, 0.0, 0.05, &mut rng_from_seed(5))
    );
    assert_eq!(
        Initializer::TruncatedNormal {
            mean: 1.0,
            stddev: 0.5
        }
        .initialize(&shape, &mut rng_from_seed(6))
        .unwrap(),
        truncated_normal(&shape, 1.0, 0.5, &mut rng_from_seed(6))
    );
    let he = ((2.0f64 / 7.0).sqrt() / 0.879_625_661_034_239_8) as f32;
    assert_eq!(
        Initializer::HeNormal
            .initialize(&shape, &mut rng_from_seed(7))
            .unwrap(),
        truncated_normal(&shape, 0.0, he, &mut rng_from_seed(7))
    );
    assert_eq!(
        Initializer::RandomUniform {
            minval: 0.5,
            maxval: 0.5
        }
        .initialize(&shape, &mut rng_from_seed(8))
        .unwrap(),
        uniform(&shape, 0.5, 0.5, &mut rng_from_seed(8))
    );
}

#[test]
fn fans_of_absurd_shapes_do_not_overflow() {
    use neurite_nn::initializers::compute_fans;
    let (fan_in, fan_out) = compute_fans(&[usize::MAX, usize::MAX, 3, 4]);
    assert!(fan_in.is_finite() && fan_in > 1e38, "{fan_in}");
    assert!(fan_out > fan_in);
    assert_eq!(
        compute_fans(&[1 << 40, 1 << 30, 2, 2]),
        (2f64.powi(71), 2f64.powi(71))
    );
}
