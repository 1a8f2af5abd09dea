//! User-written blocks (`Block` + `BlockLayer` + `register_block`) and the
//! PyTorch-style route (a hand-written `Layer` holding sub-layers): the same
//! training as the layers written inline, gradients, names, save/load/resume
//! in Sequential and functional models, nesting, and the errors.

use ndarray::Axis;
use neurite::nn::layer::ParameterShapes;
use neurite::nn::registry::{parse_config, register_layer_class};
use neurite::nn::{NnError, Result as NnResult};
use neurite::prelude::*;
use neurite::serde::{Deserialize, Serialize};
use neurite::tensor::random::{normal, uniform};
use neurite::Network;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::path::Path;

mod common;
use common::compiled_adam as compiled;

/// The issue's residual unit: conv-BN-ReLU, conv-BN, the input (projected by
/// a strided 1x1 conv + BN when the shape changes) added, then ReLU. Written
/// once as a function, so the block and the inline model are the same code.
fn residual(x: &SymbolicTensor, filters: usize, stride: usize, l2: f32) -> neurite::Result<SymbolicTensor> {
    let conv = |k: usize, s: usize| {
        let c = Conv2D::new(filters, (k, k))
            .strides((s, s))
            .padding(Padding::Same)
            .use_bias(false);
        if l2 > 0.0 {
            c.kernel_regularizer(Regularizer::l2(l2))
        } else {
            c
        }
    };
    let y = conv(3, stride).call(x)?;
    let y = ReLU::new().call(&BatchNormalization::new().call(&y)?)?;
    let y = BatchNormalization::new().call(&conv(3, 1).call(&y)?)?;
    let s = if stride == 1 && x.shape()[2] == filters {
        x.clone()
    } else {
        BatchNormalization::new().call(&conv(1, stride).call(x)?)?
    };
    ReLU::new().call(&Add::new().call_many(&[&s, &y])?)
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(crate = "neurite::serde", deny_unknown_fields)]
struct ResidualBlock {
    filters: usize,
    stride: usize,
    l2: f32,
}

impl Block for ResidualBlock {
    const CLASS_NAME: &'static str = "ResidualBlock";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        residual(x, self.filters, self.stride, self.l2)
    }
    fn validate(&self) -> Result<(), String> {
        if self.filters == 0 {
            return Err("field \"filters\": must be at least 1, found 0".into());
        }
        if self.stride == 0 {
            return Err("field \"stride\": must be at least 1, found 0".into());
        }
        Ok(())
    }
}

fn res(filters: usize, stride: usize, l2: f32) -> BlockLayer<ResidualBlock> {
    ResidualBlock { filters, stride, l2 }.into_layer()
}

/// Conv2D(relu) then 2x2 max pooling: a pair the graph runs fused.
fn conv_pool(x: &SymbolicTensor, filters: usize) -> neurite::Result<SymbolicTensor> {
    let h = Conv2D::new(filters, (3, 3))
        .padding(Padding::Same)
        .activation(Activation::Relu)
        .call(x)?;
    MaxPooling2D::new((2, 2)).call(&h)
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct ConvPool {
    filters: usize,
}

impl Block for ConvPool {
    const CLASS_NAME: &'static str = "ConvPool";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        conv_pool(x, self.filters)
    }
}

/// Two residual blocks in a block: nesting.
#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct Stage {
    filters: usize,
}

impl Block for Stage {
    const CLASS_NAME: &'static str = "Stage";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        let x = res(self.filters, 2, 0.0).call(x)?;
        let x = res(self.filters, 1, 0.0).call(&x)?;
        Conv2D::new(self.filters, (1, 1)).call(&x)
    }
}

fn register_all() {
    neurite::register_block::<ResidualBlock>().unwrap();
    neurite::register_block::<ConvPool>().unwrap();
    neurite::register_block::<Stage>().unwrap();
}

fn data(n: usize) -> (Tensor, Tensor) {
    let x = uniform(&[n, 12, 12, 1], 0.0, 1.0, &mut rng_from_seed(4));
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| {
        let s: f32 = x.index_axis(Axis(0), i[0]).iter().take(72).sum();
        ((s / 12.0) as usize % 3) as f32
    });
    (x, y)
}

fn opts() -> FitOptions<'static> {
    FitOptions::new().epochs(2).batch_size(16).verbose(0)
}

/// The tail every test model shares: global pooling and a softmax head.
fn head(x: &SymbolicTensor) -> SymbolicTensor {
    let x = GlobalAveragePooling2D::new().call(x).unwrap();
    Dense::new(3).activation(Activation::Softmax).call(&x).unwrap()
}

/// Blocks: ConvPool(8), Residual(8, 1, l2), Residual(16, 2).
fn block_model(seed: u64) -> Functional {
    let inputs = Input::new([12, 12, 1]);
    let x = ConvPool { filters: 8 }.into_layer().call(&inputs).unwrap();
    let x = res(8, 1, 1e-3).call(&x).unwrap();
    let x = res(16, 2, 0.0).call(&x).unwrap();
    compiled(Model::functional(&inputs, &head(&x)).unwrap().seed(seed))
}

/// The same layers, written inline.
fn inline_model(seed: u64) -> Functional {
    let inputs = Input::new([12, 12, 1]);
    let x = conv_pool(&inputs, 8).unwrap();
    let x = residual(&x, 8, 1, 1e-3).unwrap();
    let x = residual(&x, 16, 2, 0.0).unwrap();
    compiled(Model::functional(&inputs, &head(&x)).unwrap().seed(seed))
}

/// The same blocks in a Sequential.
fn sequential_block_model(seed: u64) -> Sequential {
    let m = Sequential::new()
        .seed(seed)
        .add(ConvPool { filters: 8 }.into_layer().input_shape([12, 12, 1]))
        .add(res(8, 1, 1e-3))
        .add(res(16, 2, 0.0))
        .add(GlobalAveragePooling2D::new())
        .add(Dense::new(3).activation(Activation::Softmax));
    compiled(m)
}

fn values<N: Layer>(m: &Model<N>) -> Vec<Tensor> {
    m.get_weights_by_name().into_iter().map(|(_, t)| t).collect()
}

/// The blocks draw the same initial weights as the inline layers (built in
/// the same order from the same seed) and train to the same weights, bit for
/// bit — which also says the block's regularization loss and fused pair
/// count exactly as the inline ones.
#[test]
fn blocks_train_bit_identically_to_the_same_layers_inline() {
    let (x, y) = data(64);
    let mut blocks = block_model(7);
    let mut inline = inline_model(7);
    let mut seq = sequential_block_model(7);
    blocks.build(&[12, 12, 1]).unwrap();
    inline.build(&[12, 12, 1]).unwrap();
    assert_eq!(values(&blocks), values(&inline));
    assert_eq!(blocks.get_weights_by_name(), seq.get_weights_by_name());
    assert_eq!(blocks.count_params(), inline.count_params());
    for m in [
        &mut blocks as &mut dyn Fit,
        &mut inline as &mut dyn Fit,
        &mut seq as &mut dyn Fit,
    ] {
        m.train(&x, &y);
    }
    assert_eq!(values(&blocks), values(&inline));
    assert_eq!(blocks.get_weights_by_name(), seq.get_weights_by_name());
    assert_eq!(blocks.predict(&x).unwrap(), inline.predict(&x).unwrap());
    assert_eq!(seq.predict(&x).unwrap(), inline.predict(&x).unwrap());
}

trait Fit {
    fn train(&mut self, x: &Tensor, y: &Tensor);
}

impl<N: Layer> Fit for Model<N> {
    fn train(&mut self, x: &Tensor, y: &Tensor) {
        self.fit(x, y, opts()).unwrap();
    }
}

#[test]
fn sub_layer_weights_are_named_under_their_block_and_blocks_get_default_names() {
    let mut m = block_model(1);
    m.build(&[12, 12, 1]).unwrap();
    let names: Vec<String> = m.parameters().into_iter().map(|p| p.name).collect();
    for expected in [
        "conv_pool_1/conv2d_1.kernel",
        "conv_pool_1/conv2d_1.bias",
        "residual_block_1/conv2d_1.kernel",
        "residual_block_1/batch_normalization_1.moving_mean",
        "residual_block_2/conv2d_1.kernel",
        "residual_block_2/conv2d_3.kernel", // 3 convolutions: with the projection
        "dense_1.kernel",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert_eq!(
        m.network().layer_names(),
        vec![
            "conv_pool_1",
            "residual_block_1",
            "residual_block_2",
            "global_average_pooling2d_1",
            "dense_1"
        ]
    );
    let seq = sequential_block_model(1);
    let seq_names: Vec<&str> = seq.layers().iter().map(|l| l.name()).collect();
    assert_eq!(
        seq_names[..3],
        ["conv_pool_1", "residual_block_1", "residual_block_2"]
    );
    let summary = m.summary();
    assert!(
        summary.contains("residual_block_1 (ResidualBlock)") && summary.contains("conv_pool_1 (ConvPool)"),
        "{summary}"
    );
    // The block's row counts its sub-layers' parameters: 3x3x1x8 + 8.
    assert!(summary.contains("80"), "{summary}");
}

#[test]
fn a_block_fuses_its_pairs_and_adds_its_regularization_losses() {
    let mut pool = ConvPool { filters: 4 }.into_layer();
    pool.build(&[6, 6, 2], &mut rng_from_seed(0)).unwrap();
    let x = Var::constant(uniform(&[2, 6, 6, 2], -1.0, 1.0, &mut rng_from_seed(1)));
    let out = pool.forward(&x, &mut ForwardContext::training(0)).unwrap();
    assert_eq!(out.op_name(), Some("conv2d_relu_max_pool2d"));
    assert_eq!(out.shape(), vec![2, 3, 3, 4]);

    let mut block = res(4, 1, 0.01);
    block.build(&[5, 5, 4], &mut rng_from_seed(0)).unwrap();
    let x = Var::constant(uniform(&[2, 5, 5, 4], -1.0, 1.0, &mut rng_from_seed(2)));
    let mut ctx = ForwardContext::training(0);
    block.forward(&x, &mut ctx).unwrap();
    let losses = ctx.take_losses();
    assert_eq!(losses.len(), 2, "two regularized kernels");
    let expected: f32 = block
        .parameters()
        .iter()
        .filter(|p| p.name.ends_with("kernel"))
        .map(|p| 0.01 * p.var.value().iter().map(|v| v * v).sum::<f32>())
        .sum();
    let got: f32 = losses.iter().map(|l| l.item().unwrap()).sum();
    assert!(
        (got - expected).abs() <= 1e-5 * expected.abs().max(1.0),
        "{got} vs {expected}"
    );
    let mut ctx = ForwardContext::inference();
    block.forward(&x, &mut ctx).unwrap();
    assert!(
        ctx.take_losses().is_empty(),
        "penalties belong to training passes"
    );
}

/// A smooth block (tanh, no kinks), so finite differences are reliable:
/// conv-tanh, BN, conv, added to the input.
#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct Smooth {
    filters: usize,
}

impl Block for Smooth {
    const CLASS_NAME: &'static str = "Smooth";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        let h = Conv2D::new(self.filters, (3, 3))
            .padding(Padding::Same)
            .activation(Activation::Tanh)
            .call(x)?;
        let h = BatchNormalization::new().call(&h)?;
        let h = Conv2D::new(x.shape()[2], (3, 3))
            .padding(Padding::Same)
            .call(&h)?;
        let h = Add::new().call_many(&[x, &h])?;
        let h = Flatten::new().call(&h)?;
        Dense::new(3).activation(Activation::Tanh).call(&h)
    }
}

#[test]
fn gradients_through_a_block_match_finite_differences() {
    let mut block = Smooth { filters: 3 }.into_layer();
    block.build(&[4, 4, 2], &mut rng_from_seed(3)).unwrap();
    let x = normal(&[3, 4, 4, 2], 0.0, 1.0, &mut rng_from_seed(5));
    // With respect to the input.
    let forward = |v: &[Var]| {
        block
            .forward(&v[0], &mut ForwardContext::training(0))
            .map_err(|e| match e {
                NnError::Autograd(a) => a,
                other => neurite::autograd::AutogradError::Backward(other.to_string()),
            })
    };
    neurite::autograd::gradcheck(forward, std::slice::from_ref(&x), &Default::default()).unwrap();
    // With respect to every trainable parameter: L = sum(out * R).
    let r = uniform(&[3, 3], -1.0, 1.0, &mut rng_from_seed(6));
    let xv = Var::constant(x);
    let loss = |block: &BlockLayer<Smooth>| -> f64 {
        let out = no_grad(|| block.forward(&xv, &mut ForwardContext::training(0))).unwrap();
        let out = out.value();
        out.iter().zip(r.iter()).map(|(a, b)| *a as f64 * *b as f64).sum()
    };
    // (gradcheck's own backward left gradients in the block's parameters.)
    block.parameters().iter().for_each(|p| p.var.zero_grad());
    let out = block.forward(&xv, &mut ForwardContext::training(0)).unwrap();
    ops::sum_all(&ops::mul(&out, &Var::constant(r.clone())).unwrap())
        .unwrap()
        .backward()
        .unwrap();
    let params: Vec<Parameter> = block.parameters().into_iter().filter(|p| p.trainable).collect();
    assert_eq!(
        params.len(),
        8,
        "2 conv kernels + biases, gamma, beta, dense kernel + bias"
    );
    let eps = 1e-3f32;
    for p in &params {
        let analytic = p
            .var
            .grad()
            .unwrap_or_else(|| panic!("{} has no gradient", p.name));
        let original = p.var.to_tensor();
        for i in 0..original.len() {
            let probe = |delta: f32| {
                let mut v = original.clone();
                *v.iter_mut().nth(i).unwrap() += delta;
                p.var.set_value(v);
                loss(&block)
            };
            let numeric = (probe(eps) - probe(-eps)) / (2.0 * eps as f64);
            p.var.set_value(original.clone());
            let a = *analytic.iter().nth(i).unwrap() as f64;
            assert!(
                (a - numeric).abs() <= 1e-2 + 1e-2 * numeric.abs(),
                "{}[{i}]: analytic {a} vs numeric {numeric}",
                p.name
            );
        }
    }
}

fn saved_config(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap()
}

/// Save after one `fit`, load, predict identically, and resume to exactly
/// the weights of an uninterrupted run.
fn save_load_resume<N: Network>(build: impl Fn() -> Model<N>) -> Value {
    register_all();
    let (x, y) = data(48);
    let mut straight = build();
    straight.fit(&x, &y, opts()).unwrap();
    straight.fit(&x, &y, opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let mut first = build();
    first.fit(&x, &y, opts()).unwrap();
    first.save(&path).unwrap();
    let mut loaded = Model::<N>::load(&path).unwrap();
    assert_eq!(loaded.get_weights_by_name(), first.get_weights_by_name());
    assert_eq!(loaded.predict(&x).unwrap(), first.predict(&x).unwrap());
    loaded.fit(&x, &y, opts()).unwrap();
    assert_eq!(loaded.get_weights_by_name(), straight.get_weights_by_name());
    saved_config(&path)
}

#[test]
fn sequential_with_blocks_saves_loads_and_resumes_exactly() {
    let config = save_load_resume(|| sequential_block_model(11));
    let layer = &config["config"]["layers"][1];
    assert_eq!(layer["class_name"], "ResidualBlock");
    assert_eq!(
        layer["config"],
        json!({"filters": 8, "stride": 1, "l2": 1e-3f32, "name": "residual_block_1", "trainable": true})
    );
    assert_eq!(
        config["config"]["layers"][0]["config"]["input_shape"],
        json!([12, 12, 1])
    );
}

#[test]
fn functional_with_blocks_saves_loads_and_resumes_exactly() {
    let config = save_load_resume(|| block_model(12));
    let layers = config["config"]["layers"].as_array().unwrap();
    assert_eq!(layers[2]["class_name"], "ResidualBlock");
    assert_eq!(layers[2]["inbound_nodes"][0][0][0], "conv_pool_1");
}

fn nested_model(seed: u64) -> Functional {
    let inputs = Input::new([12, 12, 1]);
    let x = ConvPool { filters: 4 }.into_layer().call(&inputs).unwrap();
    let x = Stage { filters: 8 }.into_layer().call(&x).unwrap();
    compiled(Model::functional(&inputs, &head(&x)).unwrap().seed(seed))
}

#[test]
fn blocks_nested_in_blocks_are_named_under_both_and_save_load_resume_exactly() {
    let mut m = nested_model(2);
    m.build(&[12, 12, 1]).unwrap();
    let names: Vec<String> = m.parameters().into_iter().map(|p| p.name).collect();
    for expected in [
        "stage_1/residual_block_1/conv2d_1.kernel",
        "stage_1/residual_block_2/conv2d_2.kernel",
        "stage_1/conv2d_1.kernel",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
    // The same weights as the nested layers written inline.
    let inputs = Input::new([12, 12, 1]);
    let x = conv_pool(&inputs, 4).unwrap();
    let x = residual(&x, 8, 2, 0.0).unwrap();
    let x = residual(&x, 8, 1, 0.0).unwrap();
    let x = Conv2D::new(8, (1, 1)).call(&x).unwrap();
    let mut inline = Model::functional(&inputs, &head(&x)).unwrap().seed(2);
    inline.build(&[12, 12, 1]).unwrap();
    assert_eq!(values(&m), values(&inline));
    save_load_resume(|| nested_model(3));
}

#[test]
fn a_shared_block_has_one_set_of_weights() {
    let inputs = Input::new([5, 5, 4]);
    let block = SharedLayer::new(res(4, 1, 0.0));
    let y = block.call(&block.call(&inputs).unwrap()).unwrap();
    let mut twice = Model::functional(&inputs, &y).unwrap().seed(1);
    twice.build(&[5, 5, 4]).unwrap();
    let mut once = Model::functional(&inputs, &res(4, 1, 0.0).call(&inputs).unwrap())
        .unwrap()
        .seed(1);
    once.build(&[5, 5, 4]).unwrap();
    assert_eq!(twice.get_weights_by_name(), once.get_weights_by_name());
    let x = uniform(&[2, 5, 5, 4], -1.0, 1.0, &mut rng_from_seed(1));
    let after_once = once.predict(&x).unwrap();
    assert_eq!(twice.predict(&x).unwrap(), once.predict(&after_once).unwrap());
}

#[test]
fn a_frozen_block_keeps_its_weights_and_counts_them_as_non_trainable() {
    let mut m = sequential_block_model(4);
    let (trainable, frozen) = m.count_params();
    let block: usize = m.layers()[2]
        .parameters()
        .iter()
        .filter(|p| p.trainable)
        .map(|p| p.var.len())
        .sum();
    m.layers_mut()[2].set_trainable(false);
    let (t, f) = m.count_params();
    assert!(
        block > 0 && t == trainable - block && f == frozen + block,
        "{t} {f} {block}"
    );
    // (Moving statistics are state, not trained weights.)
    let block_weights = |m: &Sequential| -> Vec<(String, Tensor)> {
        m.get_weights_by_name()
            .into_iter()
            .filter(|(n, _)| n.starts_with("residual_block_2/") && !n.contains(".moving_"))
            .collect()
    };
    let before = block_weights(&m);
    let (x, y) = data(32);
    let others_before = m.get_weights_by_name()[0].1.clone();
    m.fit(&x, &y, opts()).unwrap();
    assert_eq!(block_weights(&m), before);
    assert_ne!(
        m.get_weights_by_name()[0].1,
        others_before,
        "the other layers train"
    );
    // The flag is saved and loaded.
    register_all();
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path().join("m")).unwrap();
    let loaded = Sequential::load(dir.path().join("m")).unwrap();
    assert!(!loaded.layers()[2].trainable());
    assert_eq!(loaded.count_params(), (t, f));
}

// ---------------------------------------------------------------- errors

#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct NeverRegistered {
    units: usize,
}

impl Block for NeverRegistered {
    const CLASS_NAME: &'static str = "NeverRegistered";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        Dense::new(self.units).call(x)
    }
}

#[test]
fn loading_an_unregistered_block_is_an_error_saying_to_register_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut seq = Sequential::new()
        .add(Dense::new(3).input_dim(4))
        .add(NeverRegistered { units: 2 }.into_layer());
    seq.build(&[4]).unwrap();
    seq.save(dir.path().join("s")).unwrap();
    let e = Sequential::load(dir.path().join("s")).err().unwrap().to_string();
    assert!(
        e.contains("NeverRegistered") && e.contains("register_block"),
        "{e}"
    );
    let inputs = Input::new([4]);
    let y = NeverRegistered { units: 2 }.into_layer().call(&inputs).unwrap();
    let mut f = Model::functional(&inputs, &y).unwrap();
    f.build(&[4]).unwrap();
    f.save(dir.path().join("f")).unwrap();
    let e = Functional::load(dir.path().join("f")).err().unwrap().to_string();
    assert!(
        e.contains("NeverRegistered") && e.contains("register_block"),
        "{e}"
    );
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct Shadow {}

impl Block for Shadow {
    const CLASS_NAME: &'static str = "Dense";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        Ok(x.clone())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct TwinA {}

impl Block for TwinA {
    const CLASS_NAME: &'static str = "Twin";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        Ok(x.clone())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct TwinB {}

impl Block for TwinB {
    const CLASS_NAME: &'static str = "Twin";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        Ok(x.clone())
    }
}

#[test]
fn a_block_cannot_take_a_built_in_or_another_blocks_class_name() {
    let e = neurite::register_block::<Shadow>().unwrap_err().to_string();
    assert!(e.contains("Dense") && e.contains("built-in"), "{e}");
    // Nor be used under it: its saved config would load as a Dense.
    let e = Shadow {}
        .into_layer()
        .call(&Input::new([3]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("built-in"), "{e}");
    neurite::register_block::<TwinA>().unwrap();
    let e = neurite::register_block::<TwinB>().unwrap_err().to_string();
    assert!(
        e.contains("Twin") && e.contains("TwinA") && e.contains("TwinB"),
        "{e}"
    );
    neurite::register_block::<TwinA>().unwrap();
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct Mismatched {
    units: usize,
}

impl Block for Mismatched {
    const CLASS_NAME: &'static str = "Mismatched";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        let h = Dense::new(self.units).call(x)?;
        Add::new().call_many(&[x, &h])
    }
}

#[test]
fn a_block_whose_call_fails_is_an_error_naming_the_block() {
    let e = Mismatched { units: 3 }
        .into_layer()
        .with_name("shortcut")
        .call(&Input::new([4]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shortcut") && e.contains("Mismatched::call") && e.contains("[4]"),
        "{e}"
    );
    let mut m = Sequential::new()
        .add(Dense::new(4).input_dim(2))
        .add(Mismatched { units: 3 }.into_layer());
    let e = m.build(&[2]).unwrap_err().to_string();
    assert!(
        e.contains("mismatched_1") && e.contains("Mismatched::call"),
        "{e}"
    );
    // Works on the shape it fits.
    assert_eq!(
        Mismatched { units: 4 }
            .into_layer()
            .call(&Input::new([4]))
            .unwrap()
            .shape(),
        &[4]
    );
    // A forward before build names the block.
    let x = Var::constant(Tensor::zeros(ndarray::IxDyn(&[1, 4])));
    let e = Mismatched { units: 4 }
        .into_layer()
        .forward(&x, &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(e.contains("mismatched") && e.contains("built"), "{e}");
    // Data of the wrong shape names the sub-layer under the block.
    let mut b = Mismatched { units: 4 }.into_layer().with_name("blk");
    b.build(&[4], &mut rng_from_seed(0)).unwrap();
    let x = Var::constant(Tensor::zeros(ndarray::IxDyn(&[1, 5])));
    let e = b
        .forward(&x, &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(e.contains("blk/dense_1"), "{e}");
}

#[test]
fn hostile_block_configs_are_errors_naming_the_field() {
    register_all();
    let good = json!({"filters": 4, "stride": 1, "l2": 0.0, "name": "r", "trainable": true});
    let layer = neurite::nn::layer_from_config("ResidualBlock", &good).unwrap();
    assert_eq!(layer.config(), good);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/filters", json!("many"), "field \"filters\""),
        ("/filters", json!(-1), "field \"filters\""),
        ("/filters", json!(0), "field \"filters\""),
        ("/stride", json!(0), "field \"stride\""),
        ("/stride", json!(null), "field \"stride\""),
        ("/l2", json!([1]), "field \"l2\""),
        ("/name", json!(5), "field \"name\""),
        ("/trainable", json!("yes"), "field \"trainable\""),
        ("/input_shape", json!([0, 3]), "field \"input_shape\""),
        ("/input_shape", json!("big"), "field \"input_shape\""),
        (
            "/input_shape",
            json!([4_000_000_000u64, 4_000_000_000u64, 4_000_000_000u64]),
            "field \"input_shape\"",
        ),
        ("/extra", json!(1), "unknown field `extra`"),
    ];
    for (pointer, value, expected) in cases {
        let mut config = good.clone();
        let key = &pointer[1..];
        config[key] = value.clone();
        let e = neurite::nn::layer_from_config("ResidualBlock", &config)
            .err()
            .unwrap_or_else(|| panic!("{pointer} = {value} was accepted"))
            .to_string();
        assert!(e.contains(expected), "{pointer} = {value}: {e}");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("stride");
    let e = neurite::nn::layer_from_config("ResidualBlock", &missing)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing field `stride`") && e.contains("r:"), "{e}");
    for not_an_object in [json!(null), json!([1]), json!("r")] {
        assert!(neurite::nn::layer_from_config("ResidualBlock", &not_an_object).is_err());
    }
}

#[test]
fn hostile_edits_of_a_saved_block_config_are_refused_on_load() {
    register_all();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let mut m = sequential_block_model(5);
    m.build(&[12, 12, 1]).unwrap();
    m.save(&path).unwrap();
    let original = saved_config(&path);
    let edits: Vec<(&str, Value, &str)> = vec![
        (
            "/config/layers/1/config/filters",
            json!(4_000_000_000_000u64),
            "residual_block_1",
        ),
        (
            "/config/layers/1/config/filters",
            json!(16),
            "residual_block_1/conv2d_1.kernel",
        ),
        ("/config/layers/1/config/stride", json!(0), "field \"stride\""),
        (
            "/config/layers/1/config/filters",
            json!("eight"),
            "field \"filters\"",
        ),
        (
            "/config/layers/0/config/input_shape",
            json!([12, 12, 3]),
            "input_shape",
        ),
    ];
    for (pointer, value, expected) in edits {
        let mut config = original.clone();
        *config.pointer_mut(pointer).unwrap() = value.clone();
        std::fs::write(path.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
        let e = match Sequential::load(&path) {
            Ok(_) => panic!("{pointer} = {value} loaded"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(expected), "{pointer} = {value}: {e}");
    }
}

// ------------------------------------------------- the PyTorch-style route

/// A hand-written layer whose fields are sub-layers: `out(hidden(x))`, its
/// parameters the concatenation of theirs, named under its own name.
struct TwoDense {
    name: String,
    trainable: bool,
    hidden: Dense,
    out: Dense,
}

#[derive(Deserialize)]
#[serde(crate = "neurite::serde")]
struct TwoDenseConfig {
    name: String,
    trainable: bool,
    hidden: usize,
    units: usize,
}

impl TwoDense {
    fn new(hidden: usize, units: usize) -> Self {
        TwoDense {
            name: "two_dense".into(),
            trainable: true,
            hidden: Dense::new(hidden)
                .activation(Activation::Relu)
                .with_name("hidden"),
            out: Dense::new(units).with_name("out"),
        }
    }

    fn rebuild(config: &Value) -> NnResult<Box<dyn Layer>> {
        let c: TwoDenseConfig = parse_config("two_dense", "TwoDense", config)?;
        let mut layer = TwoDense::new(c.hidden, c.units);
        (layer.name, layer.trainable) = (c.name, c.trainable);
        Ok(Box::new(layer))
    }
}

impl Layer for TwoDense {
    fn class_name(&self) -> &'static str {
        "TwoDense"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> NnResult<()> {
        self.hidden.build(input_shape, rng)?;
        self.out.build(&self.hidden.output_shape(input_shape)?, rng)
    }
    fn parameter_shapes(&self, input_shape: &[usize]) -> NnResult<Option<ParameterShapes>> {
        let mut shapes = self.hidden.parameter_shapes(input_shape)?.unwrap_or_default();
        shapes.extend(
            self.out
                .parameter_shapes(&self.hidden.output_shape(input_shape)?)?
                .unwrap_or_default(),
        );
        Ok(Some(
            shapes
                .into_iter()
                .map(|(n, s)| (format!("{}/{n}", self.name), s))
                .collect(),
        ))
    }
    fn is_built(&self) -> bool {
        self.hidden.is_built() && self.out.is_built()
    }
    fn output_shape(&self, input_shape: &[usize]) -> NnResult<Vec<usize>> {
        self.out.output_shape(&self.hidden.output_shape(input_shape)?)
    }
    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> NnResult<Var> {
        self.out.forward(&self.hidden.forward(x, ctx)?, ctx)
    }
    fn parameters(&self) -> Vec<Parameter> {
        let mut all = self.hidden.parameters();
        all.extend(self.out.parameters());
        for p in &mut all {
            p.name = format!("{}/{}", self.name, p.name);
            p.trainable &= self.trainable;
        }
        all
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
    fn config(&self) -> Value {
        json!({
            "name": self.name,
            "trainable": self.trainable,
            "hidden": self.hidden.config_struct().units,
            "units": self.out.config_struct().units,
        })
    }
}

#[test]
fn a_hand_written_layer_holding_sub_layers_trains_saves_and_loads() {
    register_layer_class("TwoDense", TwoDense::rebuild).unwrap();
    let digits = neurite::data::digits::load_flat();
    let x = digits
        .x
        .slice_axis(Axis(0), ndarray::Slice::from(0..256))
        .to_owned();
    let y = digits
        .y
        .slice_axis(Axis(0), ndarray::Slice::from(0..256))
        .to_owned();
    let mut m = compiled(
        Sequential::new()
            .seed(3)
            .add(Dense::new(16).activation(Activation::Relu).input_dim(64))
            .add(TwoDense::new(12, 10))
            .add(ActivationLayer::new(Activation::Softmax)),
    );
    m.build(&[64]).unwrap();
    let names: Vec<String> = m.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "dense_1.kernel",
            "dense_1.bias",
            "two_dense_1/hidden.kernel",
            "two_dense_1/hidden.bias",
            "two_dense_1/out.kernel",
            "two_dense_1/out.bias"
        ]
    );
    assert_eq!(m.count_params(), (64 * 16 + 16 + 16 * 12 + 12 + 12 * 10 + 10, 0));
    let history = m
        .fit(&x, &y, FitOptions::new().epochs(3).batch_size(32).verbose(0))
        .unwrap();
    let loss = history.get("loss").unwrap();
    assert!(loss[2] < loss[0], "{loss:?}");
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path().join("m")).unwrap();
    let loaded = Sequential::load(dir.path().join("m")).unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), m.predict(&x).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// A residual block is the graph of its layers written inline, for any
    /// shapes: output shape, parameter shapes, initial weights, and the
    /// training and inference forward passes, bit for bit.
    #[test]
    fn a_block_is_its_inline_graph(
        filters in 1usize..6, stride in 1usize..3, h in 1usize..7, w in 1usize..7, c in 1usize..5, seed in 0u64..1000,
    ) {
        let inputs = Input::new([h, w, c]);
        let y = res(filters, stride, 0.0).call(&inputs).unwrap();
        let mut blocks = Model::functional(&inputs, &y).unwrap().seed(seed);
        let shapes = blocks.network().parameter_shapes(&[h, w, c]).unwrap().unwrap();
        let inline_inputs = Input::new([h, w, c]);
        let y_inline = residual(&inline_inputs, filters, stride, 0.0).unwrap();
        let mut inline = Model::functional(&inline_inputs, &y_inline).unwrap().seed(seed);
        prop_assert_eq!(y.shape(), y_inline.shape());
        prop_assert_eq!(y.shape(), &[h.div_ceil(stride), w.div_ceil(stride), filters][..]);
        blocks.build(&[h, w, c]).unwrap();
        inline.build(&[h, w, c]).unwrap();
        let got: Vec<(String, Vec<usize>)> =
            blocks.parameters().iter().map(|p| (p.name.clone(), p.var.shape())).collect();
        prop_assert_eq!(&got, &shapes);
        let want: Vec<(String, Vec<usize>)> = inline
            .parameters()
            .iter()
            .map(|p| (format!("residual_block_1/{}", p.name), p.var.shape()))
            .collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(values(&blocks), values(&inline));
        let x = normal(&[3, h, w, c], 0.0, 1.0, &mut rng_from_seed(seed + 1));
        prop_assert_eq!(blocks.predict(&x).unwrap(), inline.predict(&x).unwrap());
        let xv = Var::constant(x);
        let a = blocks.forward(&xv, &mut ForwardContext::training(seed)).unwrap();
        let b = inline.forward(&xv, &mut ForwardContext::training(seed)).unwrap();
        prop_assert_eq!(a.to_tensor(), b.to_tensor());
    }
}
