//! The step loop against the fused kernels (an independent implementation):
//! without dropout they agree; a dropout mask that is the same for every
//! batch row is a per-gate diagonal scaling of the weights, `(x d_g) W_g =
//! x (diag(d_g) W_g)` and `(h m_g) U_g = h (diag(m_g) U_g)`, so the loop with
//! such masks must equal the fused kernel (or the loop) on scaled weights,
//! which checks where each gate's mask is applied; gradients with random
//! per-row masks agree with finite differences.

use super::super::gru::gru_masked;
use super::super::lstm::lstm_masked;
use super::super::simple_rnn::simple_rnn_masked;
use super::*;
use crate::Activation;
use ndarray::{s, Axis};
use neurite_autograd::{gradcheck, AutogradError, GradcheckOptions};
use neurite_tensor::random::{normal, rng_from_seed, uniform};
use proptest::prelude::*;

const CELLS: [LoopCell; 4] = [
    LoopCell::Simple,
    LoopCell::Lstm,
    LoopCell::GruResetAfter,
    LoopCell::GruResetBefore,
];

struct Case {
    cell: LoopCell,
    x: Tensor,
    kernel: Tensor,
    recurrent: Tensor,
    bias: Option<Tensor>,
    options: RecurrentOptions,
    mask: Option<Tensor>,
}

#[allow(clippy::too_many_arguments)]
fn case(
    cell: LoopCell,
    (n, t, f, u): (usize, usize, usize, usize),
    bias: bool,
    return_sequences: bool,
    go_backwards: bool,
    masked: bool,
    seed: u64,
) -> Case {
    let g = cell.gates() * u;
    let mut rng = rng_from_seed(seed);
    let bias_shape = if cell == LoopCell::GruResetAfter {
        vec![2, g]
    } else {
        vec![g]
    };
    let mask = masked.then(|| uniform(&[n, t], 0.0, 1.0, &mut rng).mapv(|v| if v < 0.3 { 0.0 } else { 1.0 }));
    Case {
        cell,
        x: normal(&[n, t, f], 0.0, 1.0, &mut rng),
        kernel: normal(&[f, g], 0.0, 0.5, &mut rng),
        recurrent: normal(&[u, g], 0.0, 0.5, &mut rng),
        bias: bias.then(|| normal(&bias_shape, 0.0, 0.5, &mut rng)),
        options: RecurrentOptions {
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            return_sequences,
            go_backwards,
        },
        mask,
    }
}

fn run_loop(c: &Case, vars: &[Var], dropout: &DropoutMasks) -> Result<Var> {
    StepLoop {
        op: "test",
        cell: c.cell,
        x: &vars[0],
        kernel: &vars[1],
        recurrent: &vars[2],
        bias: vars.get(3),
        options: &c.options,
        mask: c.mask.as_ref().map(|mask| SeqMask {
            mask,
            zero_output: true,
        }),
        dropout,
    }
    .run()
}

/// The fused kernel of the cell (the loop itself for the reset-before GRU, which has none).
fn run_reference(c: &Case, vars: &[Var]) -> Result<Var> {
    let mask = c.mask.as_ref().map(|mask| SeqMask {
        mask,
        zero_output: true,
    });
    let (x, k, r, b) = (&vars[0], &vars[1], &vars[2], vars.get(3));
    match c.cell {
        LoopCell::Simple => simple_rnn_masked(x, k, r, b, &c.options, mask),
        LoopCell::Lstm => lstm_masked(x, k, r, b, &c.options, mask),
        LoopCell::GruResetAfter => gru_masked(x, k, r, b, &c.options, mask),
        LoopCell::GruResetBefore => run_loop(c, vars, &DropoutMasks::default()),
    }
}

fn vars_of(c: &Case, kernel: Tensor, recurrent: Tensor) -> Vec<Var> {
    let mut v = vec![
        Var::parameter(c.x.clone()),
        Var::parameter(kernel),
        Var::parameter(recurrent),
    ];
    v.extend(c.bias.clone().map(Var::parameter));
    v
}

fn assert_close(a: &Tensor, b: &Tensor, what: &str) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(a.shape(), b.shape(), "{}", what);
    for (x, y) in a.iter().zip(b.iter()) {
        prop_assert!(
            (x - y).abs() <= 1e-5 + 1e-4 * y.abs(),
            "{}: {} vs {}\n{:?}\n{:?}",
            what,
            x,
            y,
            a,
            b
        );
    }
    Ok(())
}

/// `w` with each gate block's rows scaled by that gate's vector: `diag(v_g) W_g`.
fn scale_rows(w: &Tensor, vectors: &[Vec<f32>], gates: usize) -> Tensor {
    let u = w.shape()[1] / gates;
    let mut out = w.clone();
    for g in 0..gates {
        let v = &vectors[g.min(vectors.len() - 1)];
        for (row, &s) in v.iter().enumerate() {
            out.slice_mut(s![row, g * u..(g + 1) * u]).mapv_inplace(|w| w * s);
        }
    }
    out
}

/// Masks whose rows are all `v_g`, as the loop takes them.
fn row_constant(vectors: &[Vec<f32>], n: usize) -> Vec<Tensor> {
    vectors
        .iter()
        .map(|v| {
            ndarray::Array1::from(v.clone())
                .insert_axis(Axis(0))
                .broadcast((n, v.len()))
                .expect("rows")
                .to_owned()
                .into_dyn()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn without_dropout_the_loop_is_the_fused_kernel(
        cell in 0usize..3, n in 1usize..4, t in 1usize..6, f in 1usize..4, u in 1usize..4,
        bias in any::<bool>(), seqs in any::<bool>(), backwards in any::<bool>(), masked in any::<bool>(),
        seed in 0u64..10_000,
    ) {
        let c = case(CELLS[cell], (n, t, f, u), bias, seqs, backwards, masked, seed);
        let (a, b) = (vars_of(&c, c.kernel.clone(), c.recurrent.clone()), vars_of(&c, c.kernel.clone(), c.recurrent.clone()));
        let ya = run_loop(&c, &a, &DropoutMasks::default()).unwrap();
        let yb = run_reference(&c, &b).unwrap();
        assert_close(&ya.to_tensor(), &yb.to_tensor(), "output")?;
        let projection = normal(&ya.shape(), 0.0, 1.0, &mut rng_from_seed(seed + 1));
        ya.backward_with(projection.clone()).unwrap();
        yb.backward_with(projection).unwrap();
        for (i, (va, vb)) in a.iter().zip(&b).enumerate() {
            assert_close(&va.grad().unwrap(), &vb.grad().unwrap(), &format!("gradient of input {i}"))?;
        }
    }

    #[test]
    fn a_row_constant_mask_scales_its_gates_weights(
        cell in 0usize..4, n in 1usize..4, t in 1usize..5, f in 1usize..4, u in 1usize..4,
        shared_input in any::<bool>(), with_input in any::<bool>(), with_recurrent in any::<bool>(),
        bias in any::<bool>(), masked in any::<bool>(), seed in 0u64..10_000,
    ) {
        let c = case(CELLS[cell], (n, t, f, u), bias, true, false, masked, seed);
        let gates = c.cell.gates();
        let mut rng = rng_from_seed(seed + 7);
        let mut draw = |len: usize, count: usize| -> Vec<Vec<f32>> {
            (0..count).map(|_| uniform(&[len], 0.0, 2.0, &mut rng).iter().copied().collect()).collect()
        };
        let input = with_input.then(|| draw(f, if shared_input { 1 } else { gates }));
        let recurrent = with_recurrent.then(|| draw(u, gates));
        let dropout = DropoutMasks {
            input: input.as_ref().map(|v| row_constant(v, n)),
            recurrent: recurrent.as_ref().map(|v| row_constant(v, n)),
        };
        let kernel = input.as_ref().map_or(c.kernel.clone(), |v| scale_rows(&c.kernel, v, gates));
        let recurrent_kernel = recurrent.as_ref().map_or(c.recurrent.clone(), |v| scale_rows(&c.recurrent, v, gates));
        let y = run_loop(&c, &vars_of(&c, c.kernel.clone(), c.recurrent.clone()), &dropout).unwrap();
        let want = run_reference(&c, &vars_of(&c, kernel, recurrent_kernel)).unwrap();
        assert_close(&y.to_tensor(), &want.to_tensor(), "output")?;
    }

    #[test]
    fn gradients_with_dropout_match_finite_differences(
        cell in 0usize..4, n in 1usize..3, t in 1usize..4, f in 1usize..3, u in 1usize..3,
        bias in any::<bool>(), masked in any::<bool>(), seed in 0u64..10_000,
    ) {
        let c = case(CELLS[cell], (n, t, f, u), bias, true, true, masked, seed);
        let mut rng = rng_from_seed(seed + 3);
        let gates = c.cell.gates();
        let dropout = DropoutMasks {
            input: Some(draw_masks(n, f, 0.3, gates, &mut rng)),
            recurrent: Some(draw_masks(n, u, 0.3, gates, &mut rng)),
        };
        let mut inputs = vec![c.x.clone(), c.kernel.clone(), c.recurrent.clone()];
        inputs.extend(c.bias.clone());
        let options = GradcheckOptions { eps: 1e-3, atol: 2e-3, rtol: 2e-2, seed };
        gradcheck(|v| run_loop(&c, v, &dropout).map_err(|e| AutogradError::Backward(e.to_string())), &inputs, &options)
            .unwrap();
    }

    #[test]
    fn masks_hold_zeros_and_the_inverse_keep_rate(rate in 0.05f32..0.95, seed in 0u64..1000) {
        let masks = draw_masks(40, 50, rate, 2, &mut rng_from_seed(seed));
        prop_assert_eq!(masks.len(), 2);
        let scale = 1.0 / (1.0 - rate);
        let dropped = masks.iter().flat_map(|m| m.iter()).filter(|&&v| v == 0.0).count();
        prop_assert!(masks.iter().flat_map(|m| m.iter()).all(|&v| v == 0.0 || v == scale));
        // 4000 draws: the dropped fraction is within 5 standard deviations of the rate.
        let sd = (rate * (1.0 - rate) / 4000.0).sqrt();
        prop_assert!((dropped as f32 / 4000.0 - rate).abs() < 5.0 * sd + 1e-3, "{} dropped at rate {}", dropped, rate);
        prop_assert_ne!(&masks[0], &masks[1], "each gate draws its own mask");
    }
}

#[test]
fn masks_of_the_wrong_shape_are_errors() {
    let c = case(LoopCell::Lstm, (2, 3, 2, 2), true, false, false, false, 1);
    let vars = vars_of(&c, c.kernel.clone(), c.recurrent.clone());
    for dropout in [
        DropoutMasks {
            input: Some(draw_masks(2, 3, 0.5, 4, &mut rng_from_seed(0))),
            recurrent: None,
        },
        DropoutMasks {
            input: None,
            recurrent: Some(draw_masks(2, 2, 0.5, 3, &mut rng_from_seed(0))),
        },
        DropoutMasks {
            input: Some(Vec::new()),
            recurrent: None,
        },
    ] {
        let e = run_loop(&c, &vars, &dropout).unwrap_err().to_string();
        assert!(e.contains("test") && e.contains("dropout mask"), "{e}");
    }
}

/// A `{"shape", "data"}` array of a fixture.
fn fixture_tensor(v: &serde_json::Value) -> Tensor {
    let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).expect("shape");
    let data: Vec<f32> = serde_json::from_value(v["data"].clone()).expect("data");
    Tensor::from_shape_vec(shape, data).expect("shape matches data")
}

/// Keras 3's training-mode outputs and gradients with the same fixed masks
/// (`tests/fixtures/keras_recurrent_dropout.py`): SimpleRNN, LSTM, GRU with
/// reset_after true and false; dropout, recurrent_dropout and both; with and
/// without a step mask, `go_backwards` and `return_sequences`.
#[test]
fn dropout_matches_keras_with_the_same_masks() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keras_recurrent_dropout.json"
    );
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).unwrap();
    let cases = fixture["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 24);
    for (i, k) in cases.iter().enumerate() {
        let cfg = &k["config"];
        let cell = match k["class_name"].as_str().unwrap() {
            "SimpleRNN" => LoopCell::Simple,
            "LSTM" => LoopCell::Lstm,
            "GRU" if cfg["reset_after"] == serde_json::json!(false) => LoopCell::GruResetBefore,
            "GRU" => LoopCell::GruResetAfter,
            other => panic!("unexpected class {other}"),
        };
        let options = RecurrentOptions {
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            return_sequences: cfg["return_sequences"].as_bool().unwrap(),
            go_backwards: cfg["go_backwards"].as_bool().unwrap(),
        };
        let masks = |key: &str| {
            k[key]
                .as_array()
                .map(|ms| ms.iter().map(fixture_tensor).collect::<Vec<_>>())
        };
        let dropout = DropoutMasks {
            input: masks("input_masks"),
            recurrent: masks("recurrent_masks"),
        };
        assert!(
            dropout.input.is_some() || dropout.recurrent.is_some(),
            "case {i} drops something"
        );
        let step_mask = (!k["step_mask"].is_null()).then(|| fixture_tensor(&k["step_mask"]));
        let mut vars = vec![Var::parameter(fixture_tensor(&k["input"]))];
        vars.extend(
            k["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| Var::parameter(fixture_tensor(w))),
        );
        let y = StepLoop {
            op: "keras_case",
            cell,
            x: &vars[0],
            kernel: &vars[1],
            recurrent: &vars[2],
            bias: vars.get(3),
            options: &options,
            mask: step_mask.as_ref().map(|mask| SeqMask {
                mask,
                zero_output: cfg["zero_output_for_mask"].as_bool().unwrap_or(false),
            }),
            dropout: &dropout,
        }
        .run()
        .unwrap();
        let want = fixture_tensor(&k["output"]);
        let near = |a: &Tensor, b: &Tensor, tol: f32, what: &str| {
            assert_eq!(a.shape(), b.shape(), "case {i} {what}");
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(
                    (x - y).abs() <= tol * (1.0 + y.abs()),
                    "case {i} ({}) {what}: {x} vs {y}",
                    k["class_name"]
                );
            }
        };
        near(&y.to_tensor(), &want, 1e-5, "output");
        let proj: Vec<f32> = serde_json::from_value(k["proj"].clone()).unwrap();
        y.backward_with(Tensor::from_shape_vec(y.shape(), proj).unwrap())
            .unwrap();
        let grads = k["grads"].as_array().unwrap();
        assert_eq!(
            grads.len(),
            vars.len(),
            "case {i}: a gradient per input and weight"
        );
        for (j, (v, g)) in vars.iter().zip(grads).enumerate() {
            near(
                &v.grad().unwrap(),
                &fixture_tensor(g),
                1e-4,
                &format!("gradient {j}"),
            );
        }
    }
}
