//! Norm-based gradient checks (see `gc_util`) of the fused SimpleRNN, LSTM
//! and GRU ops over EVERY discrete choice — activation × gate activation ×
//! return_sequences × go_backwards × bias — on random small shapes; at
//! widths that fill and overrun the kernels' 16-column tiles (units 16 and
//! 17) with batches of 16+ sequences on a 2-thread pool, so the chunked
//! multi-thread path (`layers/recurrent/driver.rs`) is gradient-checked too; and a test
//! that the check fails when a gradient is zeroed.

mod gc_util;
mod rnn_util;

use gc_util::*;
use neurite_autograd::{Tensor, Var};
use neurite_nn::layers::{fused_gru, fused_lstm, fused_simple_rnn, RecurrentOptions};
use neurite_nn::Activation;
use proptest::prelude::*;
use rnn_util::{rand, Cell, RECURRENT_ACTIVATIONS};

const CELLS: [Cell; 3] = [Cell::Simple, Cell::Lstm, Cell::Gru];

fn gates(cell: Cell) -> usize {
    match cell {
        Cell::Simple => 1,
        Cell::Lstm => 4,
        Cell::Gru => 3,
    }
}

/// x, kernel, recurrent kernel and (if `use_bias`) bias of one case.
fn operands(
    cell: Cell,
    (b, t, f, u): (usize, usize, usize, usize),
    use_bias: bool,
    seed: u64,
) -> Vec<Tensor> {
    let g = gates(cell) * u;
    let mut v = vec![
        rand(&[b, t, f], 1.0, seed),
        rand(&[f, g], 0.5, seed + 1),
        rand(&[u, g], 0.5, seed + 2),
    ];
    if use_bias {
        let shape = if cell == Cell::Gru { vec![2, g] } else { vec![g] };
        v.push(rand(&shape, 0.5, seed + 3));
    }
    v
}

fn fused(cell: Cell, v: &[Var], opts: &RecurrentOptions) -> neurite_autograd::Result<Var> {
    let bias = v.get(3);
    ag(match cell {
        Cell::Simple => fused_simple_rnn(&v[0], &v[1], &v[2], bias, opts),
        Cell::Lstm => fused_lstm(&v[0], &v[1], &v[2], bias, opts),
        Cell::Gru => fused_gru(&v[0], &v[1], &v[2], bias, opts),
    })
}

fn check_opts(_opts: &RecurrentOptions) -> NormCheck {
    NormCheck::default()
}

/// The norm check; with relu (a kink can fall inside a finite-difference
/// step) at up to three step sizes, see `norm_gradcheck_kinked`.
fn check(cell: Cell, inputs: &[Tensor], opts: &RecurrentOptions) -> Result<(), String> {
    let relu = opts.activation == Activation::Relu || opts.recurrent_activation == Activation::Relu;
    let f = |v: &[Var]| fused(cell, v, opts);
    if relu {
        norm_gradcheck_kinked(f, inputs, &check_opts(opts))
    } else {
        norm_gradcheck(f, inputs, &check_opts(opts))
    }
}

/// Every discrete choice of `cell` whose activations satisfy `pick(activation,
/// recurrent_activation)`: returns the number of cases checked.
fn every_option(
    cell: Cell,
    dims: (usize, usize, usize, usize),
    seed: u64,
    pick: impl Fn(Activation, Activation) -> bool,
) -> usize {
    let gate_choices: &[Activation] = if cell == Cell::Simple {
        &[Activation::Sigmoid]
    } else {
        &RECURRENT_ACTIVATIONS
    };
    let mut n = 0;
    for activation in RECURRENT_ACTIVATIONS {
        for &recurrent_activation in gate_choices {
            if !pick(activation, recurrent_activation) {
                continue;
            }
            for return_sequences in [false, true] {
                for go_backwards in [false, true] {
                    for use_bias in [false, true] {
                        let opts = RecurrentOptions {
                            activation,
                            recurrent_activation,
                            return_sequences,
                            go_backwards,
                        };
                        let inputs = operands(cell, dims, use_bias, seed);
                        check(cell, &inputs, &opts).unwrap_or_else(|e| {
                            panic!("{cell:?} {dims:?} seed {seed} {opts:?} use_bias {use_bias}: {e}")
                        });
                        n += 1;
                    }
                }
            }
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every option combination without relu (24 SimpleRNN, 72 LSTM and 72
    /// GRU) per case, on random shapes and values.
    #[test]
    fn every_smooth_option_of_every_cell(b in 1usize..4, t in 1usize..4, f in 1usize..4, u in 1usize..4,
                                         seed in 0u64..10_000) {
        let smooth = |a: Activation, r: Activation| a != Activation::Relu && r != Activation::Relu;
        let counts: Vec<usize> = CELLS.iter().map(|&c| every_option(c, (b, t, f, u), seed, smooth)).collect();
        prop_assert_eq!(counts, vec![24, 72, 72]);
    }
}

/// The option combinations with relu (as activation or gate activation: 8
/// SimpleRNN, 56 LSTM and 56 GRU) on fixed shapes and seeds. Relu's kink
/// makes the finite difference meaningless wherever a pre-activation lies
/// within a step of 0, and over thousands of random pre-activations that
/// happens (a proptest found one at 1.7e-5 from 0); fixed draws keep this
/// test deterministic while every relu combination is still checked.
#[test]
fn every_relu_option_of_every_cell() {
    let relu = |a: Activation, r: Activation| a == Activation::Relu || r == Activation::Relu;
    for (dims, seed) in [((2, 3, 3, 2), 1u64), ((1, 2, 2, 3), 2), ((3, 3, 1, 1), 3)] {
        let counts: Vec<usize> = CELLS.iter().map(|&c| every_option(c, dims, seed, relu)).collect();
        assert_eq!(counts, vec![8, 56, 56]);
    }
}

/// Units 16 and 17 (gate widths up to 68 for LSTM) and 16 or 17 sequences on
/// a 2-thread pool: the batch is cut into two chunks of at least 8 rows, so
/// the forward and backward of `layers/recurrent/driver.rs` and the tiled GEMM panels run.
#[test]
fn tiled_widths_and_chunked_batches() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    pool.install(|| {
        assert_eq!(rayon::current_num_threads(), 2);
        for (k, (b, u)) in [(16usize, 16usize), (17, 17)].into_iter().enumerate() {
            for cell in CELLS {
                for (return_sequences, go_backwards) in [(false, false), (true, true)] {
                    let opts = RecurrentOptions {
                        return_sequences,
                        go_backwards,
                        ..Default::default()
                    };
                    let inputs = operands(cell, (b, 2, 2, u), true, 100 + k as u64);
                    check(cell, &inputs, &opts)
                        .unwrap_or_else(|e| panic!("{cell:?} batch {b} units {u} {opts:?}: {e}"));
                }
            }
        }
    });
}

/// The check bites: with any one input's analytic gradient zeroed (or
/// halved) the check fails, for every cell and every input, at a tiled width
/// on the chunked path.
#[test]
fn zeroed_or_scaled_gradients_fail_the_check() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    pool.install(|| {
        for cell in CELLS {
            let opts = RecurrentOptions::default();
            let inputs = operands(cell, (16, 2, 2, 3), true, 7);
            let f = |v: &[Var]| fused(cell, v, &opts);
            let o = check_opts(&opts);
            norm_gradcheck(f, &inputs, &o).unwrap();
            assert_eq!(
                zeroed_inputs_that_pass(f, &inputs, &o),
                Vec::<usize>::new(),
                "{cell:?}"
            );
            for k in 0..inputs.len() {
                let scaled = norm_gradcheck_tampered(f, &inputs, &o, |i, g| {
                    if i == k {
                        g.mapv_inplace(|v| 0.95 * v)
                    }
                });
                assert!(
                    scaled.is_err(),
                    "{cell:?}: input {k} with a gradient 5% short passed"
                );
            }
        }
    });
}
