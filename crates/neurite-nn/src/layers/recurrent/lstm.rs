//! `LSTM`: long short-term memory (Hochreiter & Schmidhuber 1997), Keras semantics.
//!
//! With `Z = x_t W + h_{t-1} U + b` split in Keras' gate order `[i, f, c, o]`:
//!
//! ```text
//! i = σ(Z_i)   f = σ(Z_f)   g = act(Z_c)   o = σ(Z_o)
//! c_t = f * c_{t-1} + i * g
//! h_t = o * act(c_t)
//! ```
//!
//! (σ is `recurrent_activation`, sigmoid by default; `act` is `activation`,
//! tanh by default.) The whole sequence is one graph node with a hand-written
//! backward through time; see [`super`] for the layout.

use super::activation::CellActivation;
use super::base::RnnBase;
use super::config::{check_operands, RecurrentOptions, RnnKind, SeqOptions};
use super::driver::{chunked_cell, chunked_op, input_projection, ChunkGrads, Needs, SeqWeights};
use super::layer_macro::recurrent_layer_common;
use super::step_mask::{add_output_grad_masked, SeqMask, StepMask};
use crate::error::Result;
use ndarray::{Array2, ArrayView3};
use neurite_autograd::Var;
use neurite_tensor::small_gemm::{small_gemm, PackedPanels};
use neurite_tensor::Tensor;
use std::ops::Range;

/// Long short-term memory layer, as Keras' `LSTM`.
///
/// Input `(batch, timesteps, features)`; output `(batch, units)`, or
/// `(batch, timesteps, units)` with [`LSTM::return_sequences`]. Weights:
/// `<name>.kernel` `(features, 4 units)`, `<name>.recurrent_kernel`
/// `(units, 4 units)`, `<name>.bias` `(4 units)`, columns in Keras' gate
/// order `[i, f, c, o]`; glorot-uniform kernel, orthogonal recurrent kernel,
/// zero bias with the forget-gate block set to 1 (`unit_forget_bias`).
/// Initial states are zero; `dropout` and `recurrent_dropout` as Keras
/// ([`LSTM::dropout`], [`LSTM::recurrent_dropout`]); `return_state` and
/// `stateful` are not supported.
///
/// ```
/// use neurite_nn::{layers::LSTM, ForwardContext, Layer};
/// let mut lstm = LSTM::new(8).return_sequences(true);
/// lstm.build(&[5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let x = neurite_autograd::Var::constant(ndarray::Array3::<f32>::ones((2, 5, 3)).into_dyn());
/// let y = lstm.forward(&x, &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 5, 8]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone)]
pub struct LSTM {
    base: RnnBase,
}

recurrent_layer_common!(LSTM, RnnKind::Lstm, lstm_masked);

impl LSTM {
    /// Whether the forget-gate bias starts at 1 instead of 0 (Keras' `unit_forget_bias`, default true).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut l = neurite_nn::layers::LSTM::new(2).unit_forget_bias(false);
    /// l.build(&[3, 1], &mut neurite_tensor::random::rng_from_seed(0)).unwrap();
    /// assert!(l.parameters()[2].var.value().iter().all(|&b| b == 0.0));
    /// ```
    pub fn unit_forget_bias(mut self, yes: bool) -> Self {
        self.base.cfg.unit_forget_bias = Some(yes);
        self
    }
}

/// The LSTM recurrence over a whole sequence as one differentiable op
/// (what the [`LSTM`] layer runs): `x (batch, timesteps, features)`,
/// `kernel (features, 4 units)`, `recurrent_kernel (units, 4 units)` in gate order `[i, f, c, o]`,
/// optional `bias (4 units)`. The graph gets a single node whose backward
/// runs through time by hand. Shape mismatches are [`crate::NnError::Shape`] errors.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{fused_lstm, RecurrentOptions};
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 3)));
/// let kernel = Var::parameter(ndarray::Array2::<f32>::from_elem((3, 4 * 2), 0.1).into_dyn());
/// let recurrent = Var::parameter(ndarray::Array2::<f32>::from_elem((2, 4 * 2), 0.1).into_dyn());
/// let bias = Some(&Var::parameter(ndarray::Array1::<f32>::zeros(8).into_dyn()));
/// let opts = RecurrentOptions { return_sequences: true, ..Default::default() };
/// let y = fused_lstm(&x, &kernel, &recurrent, bias, &opts)?;
/// assert_eq!(y.shape(), vec![2, 5, 2]);
/// neurite_autograd::ops::sum_all(&y)?.backward()?;
/// assert_eq!(kernel.grad().unwrap().shape(), &[3, 4 * 2]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn fused_lstm(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
) -> Result<Var> {
    lstm_masked(x, kernel, recurrent_kernel, bias, options, None)
}

/// [`fused_lstm`] with a step mask (what the layer runs; `mask` is checked by the layer).
pub(crate) fn lstm_masked(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    check_operands("fused_lstm", RnnKind::Lstm, x, kernel, recurrent_kernel, bias)?;
    let opts = SeqOptions::from_options("fused_lstm", options)?;
    lstm_op(x, kernel, recurrent_kernel, bias, opts, mask)
}

/// The fused LSTM over a whole sequence: one graph node with parents
/// `[x, kernel, recurrent_kernel, (bias)]`, run in batch chunks ([`chunked_op`]).
fn lstm_op(
    x: &Var,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
    opts: SeqOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    let cell = LstmCell(SeqWeights::read(kernel, recurrent, bias));
    chunked_op("lstm", cell, [x, kernel, recurrent], bias, opts, mask)
}

chunked_cell!(
    /// The LSTM's weights as a [`ChunkedCell`](super::driver::ChunkedCell).
    LstmCell(SeqWeights),
    LstmChunk,
    lstm_chunk_forward,
    lstm_chunk_backward
);

/// One chunk's forward pass, kept for its backward: the batch rows it
/// covers, its time-major input, the gate values `z` (`[T*rows, 4 units]`),
/// the states `hs`, `cs` (`[(T+1)*rows, units]`, block 0 the zero initial
/// state) and `tc = act(c_t)` (`[T*rows, units]`).
struct LstmChunk {
    rows: Range<usize>,
    steps: usize,
    x_tm: Array2<f32>,
    z: Array2<f32>,
    hs: Array2<f32>,
    cs: Array2<f32>,
    tc: Array2<f32>,
}

/// The forward recurrence of the batch rows `rows` of `x` (`(B, T, F)`).
fn lstm_chunk_forward(
    x: ArrayView3<f32>,
    rows: Range<usize>,
    weights: &SeqWeights,
    opts: SeqOptions,
    single_thread: bool,
    mask: Option<&StepMask>,
) -> neurite_autograd::Result<LstmChunk> {
    let (b, t) = (rows.len(), x.dim().1);
    let units = weights.u.nrows();
    let g = 4 * units;
    let (act, ract) = (opts.activation, opts.recurrent_activation);
    // Input projection of every timestep at once: Z = X W + b.
    let (x_tm, mut z) = input_projection(
        x,
        rows.clone(),
        &weights.w,
        weights.bias.as_ref(),
        opts.go_backwards,
        single_thread,
    )?;

    let mut hs = Array2::<f32>::zeros(((t + 1) * b, units));
    let mut cs = Array2::<f32>::zeros(((t + 1) * b, units));
    let mut tc = Array2::<f32>::zeros((t * b, units));
    {
        let zall = z.as_slice_mut().expect("standard layout");
        let hall = hs.as_slice_mut().expect("standard layout");
        let call = cs.as_slice_mut().expect("standard layout");
        let tall = tc.as_slice_mut().expect("standard layout");
        for step in 0..t {
            let r0 = step * b;
            let zs = &mut zall[r0 * g..(r0 + b) * g];
            let (h_before, h_after) = hall.split_at_mut((r0 + b) * units);
            if step > 0 {
                small_gemm(b, &h_before[r0 * units..], units, &weights.u_packed, zs, g, true)?;
            }
            let (c_before, c_after) = call.split_at_mut((r0 + b) * units);
            lstm_forward_gates(
                zs,
                &c_before[r0 * units..],
                &mut c_after[..b * units],
                &mut h_after[..b * units],
                &mut tall[r0 * units..(r0 + b) * units],
                units,
                act,
                ract,
            );
            if let Some(m) = mask {
                // Masked rows carry the previous state over this step.
                m.keep_previous(step, &c_before[r0 * units..], &mut c_after[..b * units], units);
                m.keep_previous(step, &h_before[r0 * units..], &mut h_after[..b * units], units);
            }
        }
    }
    Ok(LstmChunk {
        rows,
        steps: t,
        x_tm,
        z,
        hs,
        cs,
        tc,
    })
}

/// One chunk's backward through time, from `grad` (its rows of the output
/// gradient): its rows of `dX` and its partial weight gradients.
#[allow(clippy::too_many_arguments)]
fn lstm_chunk_backward(
    chunk: LstmChunk,
    grad: &Tensor,
    weights: &SeqWeights,
    ut_packed: &PackedPanels,
    needs: Needs,
    opts: SeqOptions,
    single_thread: bool,
    mask: Option<&StepMask>,
) -> neurite_autograd::Result<ChunkGrads> {
    let LstmChunk {
        rows,
        steps: t,
        x_tm,
        z,
        hs,
        cs,
        tc,
    } = chunk;
    let b = rows.len();
    let units = weights.u.nrows();
    let g = 4 * units;
    let (act, ract) = (opts.activation, opts.recurrent_activation);
    let mut dz = z; // gate activations, overwritten step by step with the gate gradients
    let mut dh = Array2::<f32>::zeros((b, units));
    let mut dc = vec![0.0f32; b * units];
    let mut scratch = vec![0.0f32; 5 * units];
    for step in (0..t).rev() {
        let r0 = step * b;
        add_output_grad_masked(&mut dh, grad, step, t, opts.return_sequences, mask);
        // At a masked step the state gradients pass through unchanged.
        let carried = mask
            .filter(|m| m.any_masked(step))
            .map(|m| (m, dh.clone(), dc.clone()));
        let zs = &mut dz.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
        lstm_backward_gates(
            zs,
            &cs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units],
            &tc.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units],
            dh.as_slice().expect("standard layout"),
            &mut dc,
            &mut scratch,
            units,
            act,
            ract,
        );
        if let Some((m, _, dc_in)) = &carried {
            m.zero_rows(step, zs, g);
            m.keep_previous(step, dc_in, &mut dc, units);
        }
        if step > 0 {
            small_gemm(
                b,
                zs,
                g,
                ut_packed,
                dh.as_slice_mut().expect("standard layout"),
                units,
                false,
            )?;
        }
        if let Some((m, dh_in, _)) = &carried {
            let dh_in = dh_in.as_slice().expect("standard layout");
            m.keep_previous(step, dh_in, dh.as_slice_mut().expect("standard layout"), units);
        }
    }
    ChunkGrads::from_shared_gate_grads(&x_tm, &hs, &dz, (b, t), weights, needs, opts, single_thread)
}

neurite_tensor::simd_dispatch! {
    /// The gate math of one forward step for the `rows` rows of a timestep:
    /// `zs` (`[rows, 4 units]`, pre-activations `[i, f, c, o]`, replaced by the
    /// gate values), `c_prev` (`[rows, units]`) in, `c_new`, `h_new` and
    /// `tcs = act(c_new)` out. Compiled for AVX2+FMA and for the baseline
    /// target, the former chosen when the CPU has it.
    fn lstm_forward_gates(
        zs: &mut [f32],
        c_prev: &[f32],
        c_new: &mut [f32],
        h_new: &mut [f32],
        tcs: &mut [f32],
        units: usize,
        act: CellActivation,
        ract: CellActivation,
    );
    /// [`lstm_forward_gates`] with the variant of `level` (the tests compare them).
    fn lstm_forward_gates_at(level);
    avx2 => lstm_forward_gates_body(zs, c_prev, c_new, h_new, tcs, units, act, ract),
    portable => lstm_forward_gates_body(zs, c_prev, c_new, h_new, tcs, units, act, ract),
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_forward_gates_body(
    zs: &mut [f32],
    c_prev: &[f32],
    c_new: &mut [f32],
    h_new: &mut [f32],
    tcs: &mut [f32],
    units: usize,
    act: CellActivation,
    ract: CellActivation,
) {
    let g = 4 * units;
    let rows = zs.len() / g;
    for bi in 0..rows {
        let row = &mut zs[bi * g..(bi + 1) * g];
        let (zif, rest) = row.split_at_mut(2 * units);
        let (zc, zo) = rest.split_at_mut(units);
        ract.apply_slice(zif);
        act.apply_slice(zc);
        ract.apply_slice(zo);
        let (zi, zf) = zif.split_at(units);
        let o_range = bi * units..(bi + 1) * units;
        let cp = &c_prev[o_range.clone()];
        let cn = &mut c_new[o_range.clone()];
        let th = &mut tcs[o_range.clone()];
        for j in 0..units {
            cn[j] = zf[j] * cp[j] + zi[j] * zc[j];
        }
        th.copy_from_slice(cn);
        act.apply_slice(th);
        let hn = &mut h_new[o_range];
        for j in 0..units {
            hn[j] = zo[j] * th[j];
        }
    }
}

neurite_tensor::simd_dispatch! {
    /// The gate math of one backward step: `zs` (`[rows, 4 units]`, the gate
    /// values of the forward) is replaced by the pre-activation gradients
    /// `dZ`; `c_prev`, `tcs = act(c_t)` and `dhs = dL/dh_t` are read and `dc`
    /// (`dL/dc_t` in, `dL/dc_{t-1}` out) is updated. `scratch` holds
    /// `5 units` floats. Dispatched as [`lstm_forward_gates`].
    fn lstm_backward_gates(
        zs: &mut [f32],
        c_prev: &[f32],
        tcs: &[f32],
        dhs: &[f32],
        dc: &mut [f32],
        scratch: &mut [f32],
        units: usize,
        act: CellActivation,
        ract: CellActivation,
    );
    /// [`lstm_backward_gates`] with the variant of `level` (the tests compare them).
    fn lstm_backward_gates_at(level);
    avx2 => lstm_backward_gates_body(zs, c_prev, tcs, dhs, dc, scratch, units, act, ract),
    portable => lstm_backward_gates_body(zs, c_prev, tcs, dhs, dc, scratch, units, act, ract),
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_backward_gates_body(
    zs: &mut [f32],
    c_prev: &[f32],
    tcs: &[f32],
    dhs: &[f32],
    dc: &mut [f32],
    scratch: &mut [f32],
    units: usize,
    act: CellActivation,
    ract: CellActivation,
) {
    let g = 4 * units;
    let rows = zs.len() / g;
    let (d_if, rest) = scratch[..5 * units].split_at_mut(2 * units);
    let (d_g, rest) = rest.split_at_mut(units);
    let (d_o, d_th) = rest.split_at_mut(units);
    for bi in 0..rows {
        let row = &mut zs[bi * g..(bi + 1) * g];
        let o_range = bi * units..(bi + 1) * units;
        let th = &tcs[o_range.clone()];
        ract.derivative_slice(&row[..2 * units], d_if);
        act.derivative_slice(&row[2 * units..3 * units], d_g);
        ract.derivative_slice(&row[3 * units..], d_o);
        act.derivative_slice(th, d_th);
        let (zi, rest) = row.split_at_mut(units);
        let (zf, rest) = rest.split_at_mut(units);
        let (zc, zo) = rest.split_at_mut(units);
        let (d_i, d_f) = d_if.split_at(units);
        let cp = &c_prev[o_range.clone()];
        let dhr = &dhs[o_range.clone()];
        let dcr = &mut dc[o_range];
        for j in 0..units {
            let (i, f, gg, o) = (zi[j], zf[j], zc[j], zo[j]);
            let dcc = dcr[j] + dhr[j] * o * d_th[j];
            zi[j] = dcc * gg * d_i[j];
            zf[j] = dcc * cp[j] * d_f[j];
            zc[j] = dcc * i * d_g[j];
            zo[j] = dhr[j] * th[j] * d_o[j];
            dcr[j] = dcc * f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{lstm_backward_gates_at, lstm_forward_gates_at, CellActivation};
    use neurite_tensor::simd::SimdLevel;
    use proptest::prelude::*;

    const ACTIVATIONS: [CellActivation; 4] = [
        CellActivation::Tanh,
        CellActivation::Sigmoid,
        CellActivation::Relu,
        CellActivation::Linear,
    ];

    /// One scalar forward step of a row, straight from the LSTM equations:
    /// `(gates [i, f, g, o], c_new, h_new)`.
    fn reference_row(
        z: &[f32],
        c_prev: &[f32],
        act: CellActivation,
        ract: CellActivation,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let u = c_prev.len();
        let f = |a: CellActivation, x: f32| {
            let mut v = [x];
            a.apply_slice(&mut v);
            v[0]
        };
        let gates: Vec<f32> = (0..4 * u)
            .map(|j| {
                if (2 * u..3 * u).contains(&j) {
                    f(act, z[j])
                } else {
                    f(ract, z[j])
                }
            })
            .collect();
        let c: Vec<f32> = (0..u)
            .map(|j| gates[u + j] * c_prev[j] + gates[j] * gates[2 * u + j])
            .collect();
        let h: Vec<f32> = (0..u).map(|j| gates[3 * u + j] * f(act, c[j])).collect();
        (gates, c, h)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every variant the CPU has computes the same bits as the portable one
        /// (element-wise math, no reassociation), forward and backward, and the
        /// forward matches the scalar equations.
        #[test]
        fn gate_variants_agree_and_match_the_equations(
            rows in 1usize..4, units in 1usize..21, act in 0usize..4, ract in 0usize..4,
            values in proptest::collection::vec(-3.0f32..3.0, 4 * 20 * 3 * 2 + 20 * 3 * 3),
        ) {
            let (act, ract) = (ACTIVATIONS[act], ACTIVATIONS[ract]);
            let (g, n) = (4 * units, rows * units);
            let mut it = values.iter().copied();
            let z: Vec<f32> = it.by_ref().take(rows * g).collect();
            let c_prev: Vec<f32> = it.by_ref().take(n).collect();
            let dhs: Vec<f32> = it.by_ref().take(n).collect();
            let dc0: Vec<f32> = it.by_ref().take(n).collect();
            let run = |level: SimdLevel| {
                let (mut zs, mut c_new, mut h_new, mut tcs) = (z.clone(), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                lstm_forward_gates_at(level, &mut zs, &c_prev, &mut c_new, &mut h_new, &mut tcs, units, act, ract);
                let forward = (zs.clone(), c_new, h_new, tcs.clone());
                let (mut dc, mut scratch) = (dc0.clone(), vec![0.0; 5 * units]);
                lstm_backward_gates_at(level, &mut zs, &c_prev, &tcs, &dhs, &mut dc, &mut scratch, units, act, ract);
                (forward, zs, dc)
            };
            let portable = run(SimdLevel::Portable);
            for level in SimdLevel::available() {
                let got = run(level);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&got.0 .0), bits(&portable.0 .0), "{:?} gates", level);
                prop_assert_eq!(bits(&got.0 .1), bits(&portable.0 .1), "{:?} c", level);
                prop_assert_eq!(bits(&got.0 .2), bits(&portable.0 .2), "{:?} h", level);
                prop_assert_eq!(bits(&got.1), bits(&portable.1), "{:?} dZ", level);
                prop_assert_eq!(bits(&got.2), bits(&portable.2), "{:?} dc", level);
            }
            let ((gates, c_new, h_new, _), _, _) = portable;
            for r in 0..rows {
                let (wg, wc, wh) = reference_row(&z[r * g..(r + 1) * g], &c_prev[r * units..(r + 1) * units], act, ract);
                let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
                prop_assert!(close(&gates[r * g..(r + 1) * g], &wg));
                prop_assert!(close(&c_new[r * units..(r + 1) * units], &wc));
                prop_assert!(close(&h_new[r * units..(r + 1) * units], &wh));
            }
        }
    }
}
