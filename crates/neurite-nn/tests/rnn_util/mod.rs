//! Shared helpers of the recurrent-layer tests: the published cell equations
//! written as plain scalar loops (the reference the fused kernels are
//! compared with), random tensors and gradcheck options.

// The reference is written as index loops on purpose (it mirrors the equations).
#![allow(dead_code, clippy::needless_range_loop)]

use neurite_autograd::{AutogradError, GradcheckOptions, Tensor, Var};
use neurite_nn::NnError;
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
/// order (time reversed first when `go_backwards`).
pub fn reference(
    cell: Cell,
    x: &Tensor,
    w: &Tensor,
    u: &Tensor,
    b: Option<&Tensor>,
    go_backwards: bool,
) -> Vec<Vec<Vec<f64>>> {
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
                    Cell::Simple => hn[j] = (xw[j] + hu[j]).tanh(),
                    Cell::Lstm => {
                        // Keras gate order [i, f, c, o].
                        let i = sig(xw[j] + hu[j]);
                        let f = sig(xw[units + j] + hu[units + j]);
                        let cc = (xw[2 * units + j] + hu[2 * units + j]).tanh();
                        let o = sig(xw[3 * units + j] + hu[3 * units + j]);
                        c[j] = f * c[j] + i * cc;
                        hn[j] = o * c[j].tanh();
                    }
                    Cell::Gru => {
                        // Keras gate order [z, r, h], reset_after=true.
                        let z = sig(xw[j] + hu[j]);
                        let r = sig(xw[units + j] + hu[units + j]);
                        let hh = (xw[2 * units + j] + r * hu[2 * units + j]).tanh();
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

/// Asserts that a layer output equals the reference (all steps or the last).
pub fn assert_matches(y: &Tensor, reference: &[Vec<Vec<f64>>], return_sequences: bool, tol: f64) {
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
                    (v - r).abs() < tol,
                    "batch {bi} step {t} unit {j}: got {v}, reference {r}"
                );
            }
        }
    }
}
