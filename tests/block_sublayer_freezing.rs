//! Freezing one layer inside a block or a nested model by its path
//! (`Model::set_layer_trainable("residual_1/dense_1", false)`): its weights
//! stay, the others train, the count of trainable weights follows, the flag
//! survives save/load (a block saves `frozen_layers`), resuming is
//! bit-identical, and bad paths or configs are errors naming the layer.

use neurite::prelude::*;
use neurite::serde::{Deserialize, Serialize};
use neurite::tensor::random::uniform;
use neurite::Network;
use proptest::prelude::*;
use serde_json::{json, Value};

mod common;
use common::compiled_adam as compiled;

/// `x + W2 relu(W1 x)`: sub-layers `dense_1`, `dense_2`, `add_1`.
#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct Residual {
    hidden: usize,
}

impl Block for Residual {
    const CLASS_NAME: &'static str = "FreezeResidual";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        let h = Dense::new(self.hidden).activation(Activation::Relu).call(x)?;
        let h = Dense::new(x.shape()[0]).call(&h)?;
        Add::new().call_many(&[x, &h])
    }
}

/// Two residual blocks and a Dense: blocks inside a block
/// (`freeze_residual_1`, `freeze_residual_2`, `dense_1`).
#[derive(Serialize, Deserialize)]
#[serde(crate = "neurite::serde")]
struct Stage {
    width: usize,
}

impl Block for Stage {
    const CLASS_NAME: &'static str = "FreezeStage";
    fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
        let x = Residual { hidden: self.width }.into_layer().call(x)?;
        let x = Residual { hidden: 2 }.into_layer().call(&x)?;
        Dense::new(self.width).call(&x)
    }
}

fn register() {
    neurite::register_block::<Residual>().unwrap();
    neurite::register_block::<Stage>().unwrap();
}

fn data(n: usize) -> (Tensor, Tensor) {
    let x = uniform(&[n, 4], -1.0, 1.0, &mut rng_from_seed(3));
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| {
        ((x[[i[0], 0]] + x[[i[0], 1]] > 0.0) as usize + (x[[i[0], 2]] > 0.5) as usize) as f32
    });
    (x, y)
}

fn opts() -> FitOptions<'static> {
    FitOptions::new().epochs(2).batch_size(8).verbose(0)
}

/// Dense(4) → Residual(6) → Stage(4) → Dense(3, softmax).
fn sequential(seed: u64) -> Sequential {
    compiled(
        Sequential::new()
            .seed(seed)
            .add(Dense::new(4).input_dim(4))
            .add(Residual { hidden: 6 }.into_layer())
            .add(Stage { width: 4 }.into_layer())
            .add(Dense::new(3).activation(Activation::Softmax)),
    )
}

/// The same layers as a functional model.
fn functional(seed: u64) -> Functional {
    let inputs = Input::new([4]);
    let x = Dense::new(4).call(&inputs).unwrap();
    let x = Residual { hidden: 6 }.into_layer().call(&x).unwrap();
    let x = Stage { width: 4 }.into_layer().call(&x).unwrap();
    let y = Dense::new(3).activation(Activation::Softmax).call(&x).unwrap();
    compiled(Model::functional(&inputs, &y).unwrap().seed(seed))
}

fn weights_under<N: Layer>(m: &Model<N>, prefix: &str) -> Vec<(String, Tensor)> {
    let w: Vec<_> = m
        .get_weights_by_name()
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .collect();
    assert!(!w.is_empty(), "no weights under {prefix}");
    w
}

fn size_under<N: Layer>(m: &Model<N>, prefix: &str) -> usize {
    weights_under(m, prefix).iter().map(|(_, t)| t.len()).sum()
}

const FROZEN: [&str; 2] = [
    "freeze_residual_1/dense_1",
    "freeze_stage_1/freeze_residual_2/dense_2",
];

#[test]
fn a_frozen_sub_layer_keeps_its_weights_while_the_rest_of_its_block_trains() {
    let mut m = sequential(1);
    m.build(&[4]).unwrap();
    let (trainable, frozen) = m.count_params();
    for path in FROZEN {
        m.set_layer_trainable(path, false).unwrap();
    }
    let gone: usize = FROZEN.iter().map(|p| size_under(&m, &format!("{p}."))).sum();
    assert_eq!(m.count_params(), (trainable - gone, frozen + gone));
    let before: Vec<_> = FROZEN
        .iter()
        .map(|p| weights_under(&m, &format!("{p}.")))
        .collect();
    let sibling = weights_under(&m, "freeze_residual_1/dense_2.");
    let nested_sibling = weights_under(&m, "freeze_stage_1/freeze_residual_2/dense_1.");
    let (x, y) = data(64);
    m.fit(&x, &y, opts()).unwrap();
    for (path, before) in FROZEN.iter().zip(&before) {
        assert_eq!(&weights_under(&m, &format!("{path}.")), before, "{path} changed");
    }
    assert_ne!(weights_under(&m, "freeze_residual_1/dense_2."), sibling);
    assert_ne!(
        weights_under(&m, "freeze_stage_1/freeze_residual_2/dense_1."),
        nested_sibling
    );
    // Unfreezing makes them train again.
    m.set_layer_trainable(FROZEN[0], true).unwrap();
    m.fit(&x, &y, opts()).unwrap();
    assert_ne!(weights_under(&m, &format!("{}.", FROZEN[0])), before[0]);
    assert_eq!(weights_under(&m, &format!("{}.", FROZEN[1])), before[1]);
}

/// Freeze, train, save, load (the paths are in the blocks' configs), and
/// resume: the same weights as an uninterrupted run.
fn save_load_resume<N: Network>(build: impl Fn() -> Model<N>) -> Value {
    register();
    let (x, y) = data(48);
    let frozen_model = || {
        let mut m = build();
        m.build(&[4]).unwrap();
        for path in FROZEN {
            m.set_layer_trainable(path, false).unwrap();
        }
        m
    };
    let mut straight = frozen_model();
    straight.fit(&x, &y, opts()).unwrap();
    straight.fit(&x, &y, opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let mut first = frozen_model();
    first.fit(&x, &y, opts()).unwrap();
    first.save(&path).unwrap();
    let mut loaded = Model::<N>::load(&path).unwrap();
    assert_eq!(loaded.count_params(), first.count_params());
    assert_eq!(loaded.predict(&x).unwrap(), first.predict(&x).unwrap());
    loaded.fit(&x, &y, opts()).unwrap();
    assert_eq!(loaded.get_weights_by_name(), straight.get_weights_by_name());
    serde_json::from_slice(&std::fs::read(path.join("config.json")).unwrap()).unwrap()
}

#[test]
fn frozen_sub_layers_survive_save_and_load_in_a_sequential_model() {
    let config = save_load_resume(|| sequential(5));
    let layers = &config["config"]["layers"];
    assert_eq!(layers[1]["config"]["frozen_layers"], json!(["dense_1"]));
    assert_eq!(
        layers[2]["config"]["frozen_layers"],
        json!(["freeze_residual_2/dense_2"])
    );
    assert!(layers[0]["config"].get("frozen_layers").is_none());
}

#[test]
fn frozen_sub_layers_survive_save_and_load_in_a_functional_model() {
    let config = save_load_resume(|| functional(6));
    let layers = config["config"]["layers"].as_array().unwrap();
    let block = layers.iter().find(|l| l["class_name"] == "FreezeStage").unwrap();
    assert_eq!(
        block["config"]["frozen_layers"],
        json!(["freeze_residual_2/dense_2"])
    );
}

#[test]
fn a_sub_layer_frozen_before_the_block_is_built_is_frozen_by_build() {
    let mut block = Residual { hidden: 3 }.into_layer().with_name("r");
    block.set_sublayer_trainable("dense_2", false).unwrap();
    assert_eq!(block.frozen_sublayers(), vec!["dense_2"]);
    block.build(&[5], &mut rng_from_seed(0)).unwrap();
    let trainable: Vec<(String, bool)> = block
        .parameters()
        .into_iter()
        .map(|p| (p.name, p.trainable))
        .collect();
    assert_eq!(
        trainable,
        vec![
            ("r/dense_1.kernel".to_string(), true),
            ("r/dense_1.bias".to_string(), true),
            ("r/dense_2.kernel".to_string(), false),
            ("r/dense_2.bias".to_string(), false),
        ]
    );
    // A second build traces new sub-layers: the frozen one stays frozen.
    block.build(&[5], &mut rng_from_seed(1)).unwrap();
    assert_eq!(block.frozen_sublayers(), vec!["dense_2"]);

    // A path the traced block does not have fails the build, naming it.
    let mut bad = Residual { hidden: 3 }.into_layer().with_name("r");
    bad.set_sublayer_trainable("dense_7", false).unwrap();
    let err = bad.build(&[5], &mut rng_from_seed(0)).unwrap_err().to_string();
    assert!(
        err.contains("r") && err.contains("dense_7") && err.contains("dense_1"),
        "{err}"
    );
}

#[test]
fn bad_paths_are_errors_naming_the_layer_and_the_names_there_are() {
    let mut m = sequential(2);
    m.build(&[4]).unwrap();
    let before = m.count_params();
    let message =
        |path: &str, m: &mut Sequential| m.set_layer_trainable(path, false).unwrap_err().to_string();
    let err = message("freeze_residual_9", &mut m);
    assert!(
        err.contains("freeze_residual_9") && err.contains("freeze_stage_1"),
        "{err}"
    );
    let err = message("freeze_residual_1/dense_9", &mut m);
    assert!(
        err.contains("freeze_residual_1") && err.contains("dense_9") && err.contains("dense_2"),
        "{err}"
    );
    let err = message("dense_1/kernel", &mut m);
    assert!(err.contains("dense_1") && err.contains("kernel"), "{err}");
    for bad in ["", "/", "freeze_residual_1/", "freeze_residual_1//dense_1"] {
        assert!(m.set_layer_trainable(bad, false).is_err(), "{bad:?} accepted");
    }
    let mut unbuilt = Residual { hidden: 3 }.into_layer();
    assert!(unbuilt.set_sublayer_trainable("a//b", false).is_err());
    assert_eq!(m.count_params(), before, "a failed call changed nothing");
}

#[test]
fn a_hostile_frozen_layers_field_is_a_load_error_naming_the_block() {
    register();
    for bad in [
        json!(3),
        json!("dense_1"),
        json!([1]),
        json!([""]),
        json!(["a//b"]),
    ] {
        let config = json!({"hidden": 2, "name": "r", "frozen_layers": bad});
        let err = neurite::nn::layer_from_config("FreezeResidual", &config)
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"))
            .to_string();
        assert!(err.contains("frozen_layers") && err.contains("r"), "{err}");
    }
    let ok = json!({"hidden": 2, "name": "r", "frozen_layers": ["dense_1"]});
    let layer = neurite::nn::layer_from_config("FreezeResidual", &ok).unwrap();
    assert_eq!(layer.frozen_sublayers(), vec!["dense_1"]);
}

#[test]
fn a_layer_of_a_functional_model_freezes_through_its_shared_handle() {
    let inputs = Input::new([4]);
    let dense = SharedLayer::new(Dense::new(4));
    let y = Dense::new(3)
        .activation(Activation::Softmax)
        .call(&dense.call(&inputs).unwrap())
        .unwrap();
    let mut m = compiled(Model::functional(&inputs, &y).unwrap());
    m.build(&[4]).unwrap();
    dense.set_trainable(false).unwrap();
    assert_eq!(m.count_params(), (15, 20));
    m.set_layer_trainable("dense_1", true).unwrap();
    assert!(dense.trainable());
    assert_eq!(m.count_params(), (35, 0));
}

/// Paths of a model's blocks' sub-layers, with their weight counts.
const PATHS: [&str; 8] = [
    "freeze_residual_1/dense_1",
    "freeze_residual_1/dense_2",
    "freeze_stage_1/freeze_residual_1",
    "freeze_stage_1/freeze_residual_1/dense_1",
    "freeze_stage_1/freeze_residual_2/dense_1",
    "freeze_stage_1/freeze_residual_2/dense_2",
    "freeze_stage_1/dense_1",
    "freeze_stage_1",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any set of frozen paths: the trainable count is the total less the
    /// weights under them (a weight under two frozen paths counted once),
    /// and the config lists them per block and loads back to the same flags.
    #[test]
    fn any_set_of_frozen_paths_counts_and_round_trips(mask in 0u32..256, seed in 0u64..4) {
        register();
        let mut m = sequential(seed);
        m.build(&[4]).unwrap();
        let total = m.count_params().0 + m.count_params().1;
        let chosen: Vec<&str> = PATHS.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1).map(|(_, p)| *p).collect();
        for path in &chosen {
            m.set_layer_trainable(path, false).unwrap();
        }
        let frozen_weights: usize = m
            .get_weights_by_name()
            .iter()
            .filter(|(n, _)| chosen.iter().any(|p| n.starts_with(&format!("{p}/")) || n.starts_with(&format!("{p}."))))
            .map(|(_, t)| t.len())
            .sum();
        prop_assert_eq!(m.count_params(), (total - frozen_weights, frozen_weights));
        let flags = |m: &Sequential| -> Vec<(String, bool)> {
            m.parameters().into_iter().map(|p| (p.name, p.trainable)).collect()
        };
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path().join("m")).unwrap();
        let loaded = Sequential::load(dir.path().join("m")).unwrap();
        prop_assert_eq!(flags(&loaded), flags(&m));
    }
}
