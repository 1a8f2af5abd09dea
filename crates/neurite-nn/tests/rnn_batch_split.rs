//! The fused LSTM, GRU and SimpleRNN with their batch cut into chunks that run on separate threads
//! (batches of at least 16 on a 2-thread pool): the output matches the f64
//! scalar reference of the published equations, and the output and every
//! gradient equal those of a 1-thread run (one chunk, threaded GEMMs), up to
//! f32 summation order in the weight gradients. Units that are not a multiple
//! of the 16-column register tile, odd batch splits and long sequences included.

mod rnn_util;

use neurite_autograd::{ops, Var};
use neurite_nn::layers::{fused_gru, fused_lstm, fused_simple_rnn, RecurrentOptions};
use proptest::prelude::*;
use rnn_util::*;

/// Input, kernel, recurrent kernel and bias of one case.
struct Operands {
    x: ndarray::ArrayD<f32>,
    w: ndarray::ArrayD<f32>,
    u: ndarray::ArrayD<f32>,
    b: ndarray::ArrayD<f32>,
}

/// Output and gradients (x, kernel, recurrent kernel, bias) of `sum(y * r)`
/// on a rayon pool of `threads` threads.
fn run(cell: Cell, d: &Operands, opts: &RecurrentOptions, threads: usize) -> Vec<ndarray::ArrayD<f32>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let xv = Var::parameter(d.x.clone());
        let k = Var::parameter(d.w.clone());
        let rk = Var::parameter(d.u.clone());
        let b = Var::parameter(d.b.clone());
        let y = match cell {
            Cell::Gru => fused_gru(&xv, &k, &rk, Some(&b), opts),
            Cell::Lstm => fused_lstm(&xv, &k, &rk, Some(&b), opts),
            Cell::Simple => fused_simple_rnn(&xv, &k, &rk, Some(&b), opts),
        }
        .unwrap();
        let r = Var::constant(rand(&y.shape(), 1.0, 99));
        ops::sum_all(&ops::mul(&y, &r).unwrap())
            .unwrap()
            .backward()
            .unwrap();
        let mut out = vec![y.to_tensor()];
        out.extend([xv, k, rk, b].iter().map(|v| v.grad().expect("gradient")));
        out
    })
}

#[allow(clippy::too_many_arguments)]
fn check(
    cell: Cell,
    bs: usize,
    t: usize,
    f: usize,
    u: usize,
    return_sequences: bool,
    go_backwards: bool,
    seed: u64,
) {
    let gates = match cell {
        Cell::Simple => 1,
        Cell::Gru => 3,
        Cell::Lstm => 4,
    };
    let bias_shape = if cell == Cell::Gru {
        vec![2, 3 * u]
    } else {
        vec![gates * u]
    };
    let d = Operands {
        x: rand(&[bs, t, f], 1.0, seed),
        w: rand(&[f, gates * u], 0.3, seed + 1),
        u: rand(&[u, gates * u], 0.3, seed + 2),
        b: rand(&bias_shape, 0.3, seed + 3),
    };
    let opts = RecurrentOptions {
        return_sequences,
        go_backwards,
        ..Default::default()
    };
    let split = run(cell, &d, &opts, 2);
    let r = reference(cell, &d.x, &d.w, &d.u, Some(&d.b), go_backwards);
    assert_matches(&split[0], &r, return_sequences, 1e-4);
    let single = run(cell, &d, &opts, 1);
    for (i, (a, s)) in split.iter().zip(&single).enumerate() {
        assert_eq!(a.shape(), s.shape());
        let scale = s.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (p, q) in a.iter().zip(s) {
            assert!(
                (p - q).abs() <= 1e-5 * scale,
                "{cell:?} {bs}x{t}x{f} u{u} rs {return_sequences} gb {go_backwards} output/grad {i}: {p} vs {q}"
            );
        }
    }
}

#[test]
fn fixed_cases_with_long_sequences() {
    for (bs, t, f, u) in [(16, 12, 7, 64), (33, 40, 5, 36), (17, 200, 3, 20)] {
        for cell in [Cell::Lstm, Cell::Gru, Cell::Simple] {
            check(cell, bs, t, f, u, false, false, 1);
            check(cell, bs, t, f, u, true, true, 5);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn split_batch_matches_reference_and_one_thread(
        bs in 16usize..41, t in 1usize..9, f in 1usize..6, u in 1usize..40,
        return_sequences: bool, go_backwards: bool, seed in 0u64..1000, which in 0usize..3,
    ) {
        let cell = [Cell::Lstm, Cell::Gru, Cell::Simple][which];
        check(cell, bs, t, f, u, return_sequences, go_backwards, seed);
    }
}
