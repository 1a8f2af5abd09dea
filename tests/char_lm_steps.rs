//! The character language model of `examples/text_generation.rs` at a small size
//! (Embedding(40, 8) -> LSTM(16, return_sequences) -> Dense(40, softmax), windows of 12
//! ids, batch 4, Adam) trained from Keras' initial weights on Keras' batches, step by step
//! against Keras 3 (`tests/fixtures/keras_char_lm_steps.py` wrote
//! `keras_char_lm_steps.json` with keras 3.15.1 on the JAX and TensorFlow backends).
//! Issue #17: neurite was behind Keras (TensorFlow backend) at equal epochs.
//!
//! - JAX backend (dense gradients, plain Adam): step 1's output, loss and gradients, and
//!   20 Adam steps (every loss, the weights after some steps) at learning rates 1e-3 and
//!   0.05 match neurite.
//! - TensorFlow backend: step 1's loss and gradients match too, and after one Adam step
//!   every weight matches except the embedding rows of ids seen more than once in the
//!   batch: TensorFlow's Embedding gradient is a `tf.IndexedSlices` (a row per
//!   occurrence) and Keras' Adam adds the squares of those rows to the second moment, not
//!   the square of their sum. The test checks that Keras-TF's step is exactly Adam with that
//!   second moment, and neurite's is plain Adam.
//!
//! `CHAR_LM_FIXTURE=FILE` reads another file written by the script (`--every` keeps the
//! weights after every step) and `--nocapture` prints the differences of every kept step.

use neurite::prelude::*;
use serde_json::Value;

mod common;
use common::{fixture_tensor as tensor, worst_relative as worst};

const FIXTURE: &str = include_str!("fixtures/keras_char_lm_steps.json");
const VOCABULARY: usize = 40;
const EMBEDDING: usize = 8;

fn fixture(backend: &str) -> Value {
    let all: Value = match std::env::var("CHAR_LM_FIXTURE") {
        Ok(path) => serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap(),
        Err(_) => serde_json::from_str(FIXTURE).unwrap(),
    };
    all[backend].clone()
}

fn tensor_of(shape: &[usize], data: &Value) -> Tensor {
    let data: Vec<f32> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(shape), data).unwrap()
}

/// The example's LSTM model at the fixture's size with Keras' initial weights.
fn model(c: &Value, learning_rate: f32) -> Sequential {
    let t = tensor(&c["x"]).shape()[2];
    let mut m = Sequential::new()
        .add(Embedding::new(VOCABULARY, EMBEDDING).input_shape([t]))
        .add(LSTM::new(16).return_sequences(true))
        .add(Dense::new(VOCABULARY).activation(Activation::Softmax));
    m.compile(
        Adam::new(learning_rate),
        Loss::sparse_categorical_crossentropy(),
        &[],
    )
    .unwrap();
    m.build(&[t]).unwrap();
    let names: Vec<String> = m.parameters().into_iter().map(|p| p.name).collect();
    let ws = c["initial_weights"].as_array().unwrap();
    assert_eq!(names.len(), ws.len(), "{names:?}");
    let pairs: Vec<(String, Tensor)> = names.into_iter().zip(ws.iter().map(tensor)).collect();
    m.set_weights_by_name(&pairs).unwrap();
    m
}

fn batch(t: &Tensor, s: usize) -> Tensor {
    t.index_axis(ndarray::Axis(0), s).to_owned()
}

/// Step 1 alone: the loss and every weight's gradient (and the output when recorded).
fn check_first_step(backend: &str, tol: f32) {
    let c = fixture(backend);
    let m = model(&c, 1e-3);
    let (x, y) = (batch(&tensor(&c["x"]), 0), batch(&tensor(&c["y"]), 0));
    let pred = m
        .network()
        .forward_masked(&Var::constant(x), None, &mut ForwardContext::training(0))
        .unwrap()
        .0;
    if !c["step1_output"].is_null() {
        let d = worst(&pred.to_tensor(), &tensor(&c["step1_output"]));
        println!("{backend} step 1 output: max difference {d:e}");
        assert!(d <= tol, "{backend}: step-1 output differs by {d}");
    }
    let loss = Loss::sparse_categorical_crossentropy()
        .compute(&Var::constant(y), &pred, None, Reduction::Mean)
        .unwrap();
    loss.backward().unwrap();
    let (got, want) = (loss.item().unwrap(), c["step1_loss"].as_f64().unwrap() as f32);
    println!("{backend} step 1 loss {got} vs Keras {want}");
    assert!(
        (got - want).abs() <= tol,
        "{backend}: step-1 loss {got} vs Keras {want}"
    );
    for (p, g) in m.parameters().iter().zip(c["step1_grads"].as_array().unwrap()) {
        let want = tensor(g);
        let got = p.var.grad().unwrap();
        // Relative to the gradient's own scale: the gradients are small.
        let scale = want.iter().fold(0.0f32, |a, b| a.max(b.abs()));
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max)
            / scale;
        println!("  gradient of {}: max |difference| / max |g| = {diff:e}", p.name);
        assert!(
            diff <= tol,
            "{backend}: gradient of {} differs by {diff} of its scale",
            p.name
        );
    }
}

/// Every recorded step of a run: the loss and the kept weights; returns the model.
fn run_steps(backend: &str, run: usize, loss_tol: f32, weight_tol: f32) {
    let c = fixture(backend);
    let r = &c["runs"][run];
    let lr = r["learning_rate"].as_f64().unwrap() as f32;
    let mut m = model(&c, lr);
    let (xs, ys) = (tensor(&c["x"]), tensor(&c["y"]));
    let after = r["weights_after"].as_object().unwrap();
    for (s, want) in r["losses"].as_array().unwrap().iter().enumerate() {
        let want = want.as_f64().unwrap() as f32;
        let (got, _) = m.train_on_batch(batch(&xs, s), batch(&ys, s)).unwrap();
        let mut line = format!(
            "{backend} lr {lr} step {}: loss {got:.6} vs Keras {want:.6}",
            s + 1
        );
        if let Some(ws) = after.get(&(s + 1).to_string()) {
            let diffs: Vec<(String, f32)> = m
                .parameters()
                .iter()
                .zip(ws.as_array().unwrap())
                .map(|(p, w)| {
                    let now = p.var.to_tensor();
                    (p.name.clone(), worst(&now, &tensor_of(now.shape(), w)))
                })
                .collect();
            line += &format!(", weights {diffs:?}");
            println!("{line}");
            for (p, d) in diffs {
                assert!(
                    d <= weight_tol,
                    "{backend} lr {lr}: {p} after step {} differs by {d}",
                    s + 1
                );
            }
        } else {
            println!("{line}");
        }
        assert!(
            (got - want).abs() <= loss_tol,
            "{backend} lr {lr}: loss of step {} {got} vs Keras {want}",
            s + 1
        );
    }
}

#[test]
fn first_step_loss_and_gradients_match_keras_jax() {
    check_first_step("jax", 1e-5);
}

#[test]
fn twenty_adam_steps_match_keras_jax() {
    run_steps("jax", 0, 1e-5, 1e-6);
}

#[test]
fn twenty_adam_steps_at_learning_rate_0_05_match_keras_jax() {
    // The larger steps make the two trajectories drift at float rounding's pace:
    // 5e-5 after 20 steps (the loss has fallen from 3.69 to 2.87).
    run_steps("jax", 1, 1e-4, 2e-4);
}

#[test]
fn first_step_loss_and_gradients_match_keras_tensorflow() {
    check_first_step("tensorflow", 1e-5);
}

/// One Adam step from TensorFlow's weights: the same as Keras-TF except the embedding
/// rows of ids seen more than once, where Keras-TF's second moment is the sum of the
/// per-occurrence squares (recorded as `step1_embedding_grad_sq`) instead of `g^2`.
#[test]
fn one_adam_step_differs_from_keras_tensorflow_only_in_sparse_embedding_rows() {
    let c = fixture("tensorflow");
    let r = &c["runs"][0];
    let lr = r["learning_rate"].as_f64().unwrap();
    let mut m = model(&c, lr as f32);
    let (x, y) = (batch(&tensor(&c["x"]), 0), batch(&tensor(&c["y"]), 0));
    let w0 = tensor(&c["initial_weights"][0]);
    m.train_on_batch(&x, &y).unwrap();
    let keras: Vec<&Value> = r["weights_after"]["1"].as_array().unwrap().iter().collect();
    let params = m.parameters();
    for (p, w) in params.iter().zip(&keras).skip(1) {
        let now = p.var.to_tensor();
        let d = worst(&now, &tensor_of(now.shape(), w));
        assert!(
            d <= 1e-6,
            "{} after one step differs from Keras-TF by {d}",
            p.name
        );
    }
    let ours = params[0].var.to_tensor();
    let theirs = tensor_of(ours.shape(), keras[0]);
    let g = tensor(&c["step1_grads"][0]);
    let sq = tensor(&c["step1_embedding_grad_sq"]);
    let mut seen = [0usize; VOCABULARY];
    for &id in x.iter() {
        seen[id as usize] += 1;
    }
    // Adam's first step: w - alpha * m / (sqrt(v) + eps), m = 0.1 g, alpha = lr sqrt(1 - 0.999) / 0.1.
    let alpha = lr * (1.0f64 - 0.999).sqrt() / (1.0 - 0.9);
    let step = |w: f32, g: f32, v: f64| (w as f64 - alpha * 0.1 * g as f64 / (v.sqrt() + 1e-7)) as f32;
    let (mut repeated, mut differing) = (0, 0);
    for i in 0..VOCABULARY {
        for j in 0..EMBEDDING {
            let (gi, wi) = (g[[i, j]], w0[[i, j]]);
            let plain = step(wi, gi, 0.001 * (gi as f64).powi(2));
            let sparse = step(wi, gi, 0.001 * sq[[i, j]] as f64);
            assert!(
                (ours[[i, j]] - plain).abs() <= 1e-7,
                "neurite's row {i} is not plain Adam's"
            );
            assert!(
                (theirs[[i, j]] - sparse).abs() <= 1e-7,
                "Keras-TF's row {i} is not the sparse step"
            );
            if seen[i] <= 1 {
                assert!(
                    (ours[[i, j]] - theirs[[i, j]]).abs() <= 1e-7,
                    "row {i} seen once differs"
                );
            } else if (ours[[i, j]] - theirs[[i, j]]).abs() > 1e-5 {
                differing += 1;
            }
        }
        repeated += usize::from(seen[i] > 1);
    }
    println!(
        "{repeated} ids seen more than once; {differing} of their embedding values differ by more than 1e-5"
    );
    assert!(repeated > 0 && differing > 0);
}

/// Not a check: prints neurite against Keras-TF over the 20 steps (`cargo test --release
/// --test char_lm_steps -- --ignored --nocapture`; with `CHAR_LM_FIXTURE` of a `--every`
/// file, the weights after every step): the embedding's sparse update moves them apart.
#[test]
#[ignore]
fn print_twenty_adam_steps_against_keras_tensorflow() {
    run_steps("tensorflow", 0, f32::INFINITY, f32::INFINITY);
}
