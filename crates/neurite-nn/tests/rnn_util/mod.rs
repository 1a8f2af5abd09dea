//! Shared helpers of the recurrent-layer tests: the published cell equations
//! written as plain scalar loops (the reference the fused kernels are
//! compared with), random tensors and gradcheck options.

// The reference is written as index loops on purpose (it mirrors the equations).
#![allow(dead_code, clippy::needless_range_loop)]

use neurite_autograd::{AutogradError, GradcheckOptions, Tensor, Var};
use neurite_nn::{Activation, NnError};
use neurite_tensor::random::{normal, rng_from_seed};

pub fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn rand(shape: &[usize], std: f32, seed: u64) -> Tensor {
    normal(shape, 0.0, std, &mut rng_from_seed(seed))
}

pub fn ag(r: neurite_nn::Result<Var>) -> neurite_autograd::Result<Var> {
    r.map_err(|e| match e {
        NnError::Autograd(a) => a,
        other => AutogradError::Backward(other.to_string()),
    })
}

pub fn gc_opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 5e-3,
        atol: 1e-2,
        rtol: 1e-2,
        seed: 7,
    }
}

/// The four activations the recurrent kernels support, in f64, written out
/// from their definitions (Keras): the reference's own, not the library's.
pub fn act(a: Activation, x: f64) -> f64 {
    match a {
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => sig(x),
        Activation::Relu => x.max(0.0),
        Activation::Linear => x,
        other => panic!("the recurrent reference has no {other:?}"),
    }
}

/// Every activation a recurrent layer accepts (for `activation` and `recurrent_activation`).
pub const RECURRENT_ACTIVATIONS: [Activation; 4] = [
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Relu,
    Activation::Linear,
];

fn at2(t: &Tensor, i: usize, j: usize) -> f64 {
    t[[i, j]] as f64
}

/// Which cell a reference run computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    Simple,
    Lstm,
    Gru,
}

/// The cell equations as scalar loops over a whole batch of sequences, in
/// f64: `x (B, T, F)`, `w (F, G)`, `u (U, G)`, `b` `(G)` or `(2, G)` for GRU
/// (zeros if `None`). Returns all hidden states `(B, T, U)` in processing
/// order (time reversed first when `go_backwards`). Keras' defaults: tanh
/// activation, sigmoid gates (see [`reference_with`]).
pub fn reference(
    cell: Cell,
    x: &Tensor,
    w: &Tensor,
    u: &Tensor,
    b: Option<&Tensor>,
    go_backwards: bool,
) -> Vec<Vec<Vec<f64>>> {
    reference_with(
        cell,
        x,
        w,
        u,
        b,
        go_backwards,
        Activation::Tanh,
        Activation::Sigmoid,
    )
}

/// [`reference`] with the candidate/output `activation` and the gates'
/// `recurrent_activation` (Keras: SimpleRNN `h = act(..)`; LSTM
/// `i, f, o = ract(..)`, `c = f c + i act(..)`, `h = o act(c)`; GRU
/// `z, r = ract(..)`, `ĥ = act(..)`).
#[allow(clippy::too_many_arguments)]
pub fn reference_with(
    cell: Cell,
    x: &Tensor,
    w: &Tensor,
    u: &Tensor,
    b: Option<&Tensor>,
    go_backwards: bool,
    activation: Activation,
    recurrent_activation: Activation,
) -> Vec<Vec<Vec<f64>>> {
    let a = |v: f64| act(activation, v);
    let ra = |v: f64| act(recurrent_activation, v);
    let (bs, ts, fs) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let units = u.shape()[0];
    let g = w.shape()[1];
    let bias = |row: usize, k: usize| -> f64 {
        match b {
            None => 0.0,
            Some(b) if cell == Cell::Gru => b[[row, k]] as f64,
            Some(b) => b[[k]] as f64,
        }
    };
    let mut out = vec![vec![vec![0.0; units]; ts]; bs];
    for bi in 0..bs {
        let mut h = vec![0.0f64; units];
        let mut c = vec![0.0f64; units];
        for step in 0..ts {
            let t = if go_backwards { ts - 1 - step } else { step };
            // xw[k] = sum_f x[f] W[f, k] + b_in[k];  hu[k] = sum_j h[j] U[j, k] (+ b_rec[k] for GRU)
            let xw: Vec<f64> = (0..g)
                .map(|k| (0..fs).map(|f| x[[bi, t, f]] as f64 * at2(w, f, k)).sum::<f64>() + bias(0, k))
                .collect();
            let hu: Vec<f64> = (0..g)
                .map(|k| {
                    (0..units).map(|j| h[j] * at2(u, j, k)).sum::<f64>()
                        + if cell == Cell::Gru { bias(1, k) } else { 0.0 }
                })
                .collect();
            let mut hn = vec![0.0; units];
            for j in 0..units {
                match cell {
                    Cell::Simple => hn[j] = a(xw[j] + hu[j]),
                    Cell::Lstm => {
                        // Keras gate order [i, f, c, o].
                        let i = ra(xw[j] + hu[j]);
                        let f = ra(xw[units + j] + hu[units + j]);
                        let cc = a(xw[2 * units + j] + hu[2 * units + j]);
                        let o = ra(xw[3 * units + j] + hu[3 * units + j]);
                        c[j] = f * c[j] + i * cc;
                        hn[j] = o * a(c[j]);
                    }
                    Cell::Gru => {
                        // Keras gate order [z, r, h], reset_after=true.
                        let z = ra(xw[j] + hu[j]);
                        let r = ra(xw[units + j] + hu[units + j]);
                        let hh = a(xw[2 * units + j] + r * hu[2 * units + j]);
                        hn[j] = z * h[j] + (1.0 - z) * hh;
                    }
                }
            }
            h = hn;
            out[bi][step] = h.clone();
        }
    }
    out
}

/// Asserts that a layer output equals the reference (all steps or the last),
/// within `tol * (1 + |reference|)` (relu and linear cells are unbounded).
pub fn assert_matches(y: &Tensor, reference: &[Vec<Vec<f64>>], return_sequences: bool, tol: f64) {
    assert_matches_in("", y, reference, return_sequences, tol)
}

/// [`assert_matches`] with `ctx` (the case) in the failure message.
pub fn assert_matches_in(
    ctx: &str,
    y: &Tensor,
    reference: &[Vec<Vec<f64>>],
    return_sequences: bool,
    tol: f64,
) {
    let bs = reference.len();
    let ts = reference[0].len();
    for bi in 0..bs {
        for t in 0..ts {
            if !return_sequences && t + 1 != ts {
                continue;
            }
            for (j, &r) in reference[bi][t].iter().enumerate() {
                let v = if return_sequences {
                    y[[bi, t, j]]
                } else {
                    y[[bi, j]]
                } as f64;
                assert!(
                    (v - r).abs() < tol * (1.0 + r.abs()),
                    "{ctx} batch {bi} step {t} unit {j}: got {v}, reference {r}"
                );
            }
        }
    }
}

/// The layer `cell` (built from a Keras config through the registry, weights
/// installed) against [`reference_with`] for every `activation` ×
/// `recurrent_activation` (gates: LSTM and GRU only) × `return_sequences` ×
/// `go_backwards`, with random weights and bias.
pub fn check_every_activation(cell: Cell) {
    use neurite_nn::{layer_from_config, ForwardContext};
    let (b, t, f, u) = (3, 5, 4, 3);
    let (class, gates) = match cell {
        Cell::Simple => ("SimpleRNN", 1),
        Cell::Lstm => ("LSTM", 4),
        Cell::Gru => ("GRU", 3),
    };
    let bias_shape = if cell == Cell::Gru {
        vec![2, 3 * u]
    } else {
        vec![gates * u]
    };
    let x = rand(&[b, t, f], 1.0, 41);
    let w = rand(&[f, gates * u], 0.5, 42);
    let rk = rand(&[u, gates * u], 0.5, 43);
    let bias = rand(&bias_shape, 0.5, 44);
    let gate_choices: &[Activation] = if cell == Cell::Simple {
        &[Activation::Sigmoid]
    } else {
        &RECURRENT_ACTIVATIONS
    };
    let mut cases = 0;
    for activation in RECURRENT_ACTIVATIONS {
        for &recurrent_activation in gate_choices {
            for (return_sequences, go_backwards) in
                [(false, false), (true, false), (false, true), (true, true)]
            {
                let cfg = serde_json::json!({"name": "r", "units": u, "activation": activation.name(),
                    "recurrent_activation": recurrent_activation.name(),
                    "return_sequences": return_sequences, "go_backwards": go_backwards});
                let mut layer = layer_from_config(class, &cfg).unwrap();
                layer.build(&[t, f], &mut rng_from_seed(0)).unwrap();
                let p = layer.parameters();
                assert_eq!(p.len(), 3, "{class} parameters");
                p[0].var.set_value(w.clone());
                p[1].var.set_value(rk.clone());
                p[2].var.set_value(bias.clone());
                let y = layer
                    .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
                    .unwrap();
                let r = reference_with(
                    cell,
                    &x,
                    &w,
                    &rk,
                    Some(&bias),
                    go_backwards,
                    activation,
                    recurrent_activation,
                );
                let ctx = format!(
                    "{class} activation {activation:?} recurrent_activation {recurrent_activation:?} \
                     return_sequences {return_sequences} go_backwards {go_backwards}:"
                );
                assert_matches_in(&ctx, &y.to_tensor(), &r, return_sequences, 5e-5);
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 4 * gate_choices.len() * 4);
}
