//! BatchNormalization and the element-wise merge layers on masked inputs
//! against Keras 3 (`tests/fixtures/keras_masking_bn_merge.py` wrote
//! `keras_masking_bn_merge.json`, TensorFlow backend): with the same weights,
//! a training call of `Embedding(mask_zero) -> BatchNormalization -> Dense`
//! gives Keras' output, output mask and moving statistics (moments over the
//! unmasked steps only), and Multiply / Maximum / Minimum / Add / Average /
//! Subtract of masked embeddings give Keras' outputs and output masks.

use neurite::prelude::*;
use neurite_nn::mask::Mask;
use serde_json::Value;

mod common;
use common::{assert_close_relative as assert_close, fixture_tensor as tensor, set_keras_weights};

const FIXTURE: &str = include_str!("fixtures/keras_masking_bn_merge.json");

fn assert_mask(what: &str, got: Option<Mask>, want: &Value) {
    match (want, got) {
        (Value::Null, m) => assert!(m.is_none(), "{what}: Keras' output has no mask, got {m:?}"),
        (want, Some(m)) => assert_eq!(m, tensor(want), "{what}: output mask"),
        (_, None) => panic!("{what}: Keras' output has a mask"),
    }
}

fn check_bn_case(name: &str, axis: isize, momentum: f32) {
    let c = case(name);
    let mut model = Sequential::new()
        .add(Embedding::new(10, 4).mask_zero(true).input_shape([6]))
        .add(BatchNormalization::new().axis(axis).momentum(momentum))
        .add(Dense::new(3));
    model.build(&[6]).unwrap();
    set_keras_weights(&mut model, &c["weights"]);
    let x = tensor(&c["x"]);
    let (y, mask) = model
        .network()
        .forward_masked(&Var::constant(x.clone()), None, &mut ForwardContext::training(0))
        .unwrap();
    assert_close(
        &format!("{name} training output"),
        &y.to_tensor(),
        &tensor(&c["train_output"]),
        1e-5,
    );
    assert_mask(name, mask, &c["output_mask"]);
    for (p, w) in model
        .parameters()
        .iter()
        .zip(c["weights_after"].as_array().unwrap())
    {
        assert_close(
            &format!("{name} {} after the call", p.name),
            &p.var.to_tensor(),
            &tensor(w),
            1e-5,
        );
    }
    let (y, _) = no_grad(|| {
        model
            .network()
            .forward_masked(&Var::constant(x.clone()), None, &mut ForwardContext::inference())
    })
    .unwrap();
    assert_close(
        &format!("{name} inference output"),
        &y.to_tensor(),
        &tensor(&c["inference_output"]),
        1e-5,
    );
}

#[test]
fn batch_norm_moments_over_unmasked_steps_match_keras() {
    check_bn_case("bn_last", -1, 0.9);
}

#[test]
fn batch_norm_on_the_time_axis_with_a_mask_matches_keras() {
    check_bn_case("bn_axis1", 1, 0.8);
}

/// The outputs of the fixture's four embeddings (the first three with
/// `mask_zero`) and their masks.
fn embedded() -> Vec<(Var, Option<Mask>)> {
    let f = fixture();
    let ids = f["merge_ids"].as_array().unwrap();
    let ws = f["embeddings"].as_array().unwrap();
    (0..4)
        .map(|i| {
            let mut e = Embedding::new(10, 3).mask_zero(i < 3);
            e.build(&[5], &mut rng_from_seed(0)).unwrap();
            e.set_weights(&[tensor(&ws[i])]).unwrap();
            e.forward_masked(
                &Var::constant(tensor(&ids[i])),
                None,
                &mut ForwardContext::inference(),
            )
            .unwrap()
        })
        .collect()
}

fn merge_layer(class: &str) -> Box<dyn Layer> {
    match class {
        "Multiply" => Box::new(Multiply::new()),
        "Maximum" => Box::new(Maximum::new()),
        "Minimum" => Box::new(Minimum::new()),
        "Add" => Box::new(Add::new()),
        "Average" => Box::new(Average::new()),
        "Subtract" => Box::new(Subtract::new()),
        other => panic!("unknown merge class {other}"),
    }
}

#[test]
fn merges_of_masked_inputs_match_keras() {
    let hs = embedded();
    let f = fixture();
    let mut seen = 0;
    for c in f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("class").is_some())
    {
        let name = c["name"].as_str().unwrap();
        let idx: Vec<usize> = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap() as usize)
            .collect();
        let xs: Vec<Var> = idx.iter().map(|&i| hs[i].0.clone()).collect();
        let ms: Vec<Option<Mask>> = idx.iter().map(|&i| hs[i].1.clone()).collect();
        let layer = merge_layer(c["class"].as_str().unwrap());
        let (y, m) = layer
            .forward_multi_masked(&xs, &ms, &mut ForwardContext::inference())
            .unwrap();
        assert_close(name, &y.to_tensor(), &tensor(&c["output"]), 1e-5);
        assert_mask(name, m, &c["output_mask"]);
        seen += 1;
    }
    assert_eq!(seen, 15);
}

/// Multiply and Maximum really depend on the masks (the fixture is not one
/// where masking changes nothing): the unmasked merges differ from Keras'.
#[test]
fn the_keras_merges_differ_from_unmasked_ones() {
    let hs = embedded();
    for name in ["Multiply_012", "Maximum_01", "Minimum_031"] {
        let c = case(name);
        let idx: Vec<usize> = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap() as usize)
            .collect();
        let xs: Vec<Var> = idx.iter().map(|&i| hs[i].0.clone()).collect();
        let plain = merge_layer(c["class"].as_str().unwrap())
            .forward_multi(&xs, &mut ForwardContext::inference())
            .unwrap()
            .to_tensor();
        let want = tensor(&c["output"]);
        let worst = plain
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst > 1e-3, "{name}: the unmasked merge already equals Keras'");
    }
}

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

/// The fixture's case `name`.
fn case(name: &str) -> Value {
    common::fixture_case(FIXTURE, name)
}
