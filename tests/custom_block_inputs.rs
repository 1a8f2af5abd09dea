//! User-written blocks of several inputs (`Block::INPUTS`, `call_many`) and
//! masks flowing through blocks: the same training as the layers inline,
//! save/load/resume, and the errors.

use neurite::prelude::*;
use neurite::serde::{Deserialize, Serialize};
use neurite::tensor::random::uniform;
use proptest::prelude::*;
use serde_json::Value;

/// `relu(W a) * sigmoid(V b)`: a gate of one input by another, written once.
fn gate(a: &SymbolicTensor, b: &SymbolicTensor, units: usize) -> neurite::Result<SymbolicTensor> {
    let h = Dense::new(units).activation(Activation::Relu).call(a)?;
    let g = Dense::new(units).activation(Activation::Sigmoid).call(b)?;
    Multiply::new().call_many(&[&h, &g])
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(crate = "neurite::serde", deny_unknown_fields)]
struct Gate {
    units: usize,
}

impl Block for Gate {
    const CLASS_NAME: &'static str = "Gate";
    const INPUTS: usize = 2;
    fn call_many(&self, xs: &[&SymbolicTensor]) -> neurite::Result<SymbolicTensor> {
        gate(xs[0], xs[1], self.units)
    }
}

/// An LSTM over a sequence, then a Dense: a block of one input that masks must reach.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(crate = "neurite::serde", deny_unknown_fields)]
struct Encoder {
    units: usize,
}

fn encoder(x: &SymbolicTensor, units: usize) -> neurite::Result<SymbolicTensor> {
    let h = LSTM::new(units).call(x)?;
    Dense::new(units).activation(Activation::Tanh).call(&h)
}

impl Block for Encoder {
    const CLASS_NAME: &'static str = "Encoder";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        encoder(x, self.units)
    }
}

fn compiled(mut m: Functional) -> Functional {
    m.compile(
        Adam::new(0.01),
        Loss::sparse_categorical_crossentropy(),
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

fn gate_model(seed: u64, as_block: bool) -> Functional {
    let (a, b) = (Input::named("a", [6]), Input::named("b", [4]));
    let y = if as_block {
        Gate { units: 8 }.into_layer().call_many(&[&a, &b]).unwrap()
    } else {
        gate(&a, &b, 8).unwrap()
    };
    let out = Dense::new(3).activation(Activation::Softmax).call(&y).unwrap();
    compiled(Model::functional_many(&[&a, &b], &[&out]).unwrap().seed(seed))
}

fn gate_data(n: usize, seed: u64) -> (Tensor, Tensor, Tensor) {
    let mut rng = rng_from_seed(seed);
    let a = uniform(&[n, 6], -1.0, 1.0, &mut rng);
    let b = uniform(&[n, 4], -1.0, 1.0, &mut rng);
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| {
        let s = a[[i[0], 0]] + b[[i[0], 1]];
        if s < -0.3 {
            0.0
        } else if s < 0.3 {
            1.0
        } else {
            2.0
        }
    });
    (a, b, y)
}

fn opts<'a>() -> FitOptions<'a> {
    FitOptions::new().epochs(2).batch_size(8).verbose(0)
}

fn values(m: &Functional) -> Vec<Tensor> {
    m.get_weights_by_name().into_iter().map(|(_, t)| t).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// A two-input block draws the same weights and trains to the same
    /// weights and predictions, bit for bit, as its layers written inline.
    #[test]
    fn a_two_input_block_trains_bit_identically_to_its_layers_inline(seed in 0u64..1000, n in 9usize..40) {
        let (a, b, y) = gate_data(n, seed);
        let mut block = gate_model(seed, true);
        let mut inline = gate_model(seed, false);
        block.fit([&a, &b], &y, opts()).unwrap();
        inline.fit([&a, &b], &y, opts()).unwrap();
        prop_assert_eq!(values(&block), values(&inline));
        prop_assert_eq!(block.predict([&a, &b]).unwrap(), inline.predict([&a, &b]).unwrap());
    }
}

#[test]
fn a_two_input_block_saves_loads_and_resumes_exactly() {
    neurite::register_block::<Gate>().unwrap();
    let (a, b, y) = gate_data(32, 3);
    let mut straight = gate_model(5, true);
    straight.fit([&a, &b], &y, opts()).unwrap();
    straight.fit([&a, &b], &y, opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gated");
    let mut first = gate_model(5, true);
    first.fit([&a, &b], &y, opts()).unwrap();
    first.save(&path).unwrap();
    let mut loaded = Functional::load(&path).unwrap();
    assert_eq!(loaded.get_weights_by_name(), first.get_weights_by_name());
    assert_eq!(
        loaded.predict([&a, &b]).unwrap(),
        first.predict([&a, &b]).unwrap()
    );
    loaded.fit([&a, &b], &y, opts()).unwrap();
    assert_eq!(loaded.get_weights_by_name(), straight.get_weights_by_name());
    // The block's node lists both inputs, as Keras' inbound nodes of a merge.
    let config: Value = serde_json::from_slice(&std::fs::read(path.join("config.json")).unwrap()).unwrap();
    let layers = config["config"]["layers"].as_array().unwrap();
    let node = layers.iter().find(|l| l["class_name"] == "Gate").unwrap();
    let inbound = node["inbound_nodes"][0].as_array().unwrap();
    assert_eq!(inbound.len(), 2, "{node}");
    assert_eq!(
        (inbound[0][0].as_str(), inbound[1][0].as_str()),
        (Some("a"), Some("b"))
    );
    let names: Vec<String> = loaded.parameters().into_iter().map(|p| p.name).collect();
    assert!(
        names.iter().any(|n| n.starts_with("gate_1/dense_1.")),
        "{names:?}"
    );
}

#[test]
fn calling_a_block_on_the_wrong_number_of_inputs_is_an_error_naming_it() {
    let (a, b) = (Input::new([6]), Input::new([4]));
    let e = Gate { units: 2 }.into_layer().call(&a).unwrap_err().to_string();
    assert!(e.contains("gate") && e.contains('2'), "{e}");
    let e = Gate { units: 2 }
        .into_layer()
        .call_many(&[&a, &b, &a])
        .unwrap_err()
        .to_string();
    assert!(e.contains("gate") && e.contains('3'), "{e}");
    let e = Encoder { units: 2 }
        .into_layer()
        .call_many(&[&a, &b])
        .unwrap_err()
        .to_string();
    assert!(e.contains("encoder"), "{e}");
    // A block that implements neither call nor call_many says what to write.
    #[derive(Serialize, Deserialize)]
    #[serde(crate = "neurite::serde")]
    struct Empty {}
    impl Block for Empty {
        const CLASS_NAME: &'static str = "Empty";
    }
    let e = Empty {}.into_layer().call(&a).unwrap_err().to_string();
    assert!(e.contains("Block::call"), "{e}");
}

fn sequence_model(seed: u64, as_block: bool) -> Functional {
    let ids = Input::new([5]);
    let h = Embedding::new(12, 4).mask_zero(true).call(&ids).unwrap();
    let h = if as_block {
        Encoder { units: 3 }.into_layer().call(&h).unwrap()
    } else {
        encoder(&h, 3).unwrap()
    };
    let out = Dense::new(2).activation(Activation::Softmax).call(&h).unwrap();
    compiled(Model::functional(&ids, &out).unwrap().seed(seed))
}

/// The mask of `Embedding(mask_zero)` reaches the LSTM inside the block:
/// padded sequences give the inline model's predictions and training, bit
/// for bit, and the same weights without the mask predict otherwise.
#[test]
fn masks_flow_through_a_block() {
    let ids = Tensor::from_shape_vec(
        ndarray::IxDyn(&[3, 5]),
        vec![
            3., 7., 0., 0., 0., //
            3., 7., 1., 0., 0., //
            5., 0., 0., 0., 0.,
        ],
    )
    .unwrap();
    let y = Tensor::from_shape_vec(ndarray::IxDyn(&[3]), vec![0., 1., 0.]).unwrap();
    let mut block = sequence_model(9, true);
    let mut inline = sequence_model(9, false);
    block.build(&[5]).unwrap();
    inline.build(&[5]).unwrap();
    assert_eq!(block.predict(&ids).unwrap(), inline.predict(&ids).unwrap());
    block.fit(&ids, &y, opts()).unwrap();
    inline.fit(&ids, &y, opts()).unwrap();
    assert_eq!(values(&block), values(&inline));
    let short = Tensor::from_shape_vec(ndarray::IxDyn(&[1, 5]), vec![3., 7., 0., 0., 0.]).unwrap();
    let p = block.predict(&short).unwrap();
    let unmasked = {
        // The same weights without the mask: the LSTM then reads the padding and differs.
        let ids = Input::new([5]);
        let h = Embedding::new(12, 4).call(&ids).unwrap();
        let h = Encoder { units: 3 }.into_layer().call(&h).unwrap();
        let out = Dense::new(2).activation(Activation::Softmax).call(&h).unwrap();
        let mut m = Model::functional(&ids, &out).unwrap();
        m.build(&[5]).unwrap();
        m.set_weights(&block.get_weights()).unwrap();
        m.predict(&short).unwrap()
    };
    assert_ne!(p, unmasked, "the block ignored the mask");
}
