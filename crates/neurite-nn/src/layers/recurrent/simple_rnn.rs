//! `SimpleRNN`: the fully-connected recurrence `h_t = act(x_t W + h_{t-1} U + b)`, Keras semantics.
//! One graph node per sequence, hand-written backward through time.

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

/// Fully-connected recurrent layer, as Keras' `SimpleRNN`:
/// `h_t = act(x_t W + h_{t-1} U + b)` (tanh by default).
///
/// Input `(batch, timesteps, features)`; output `(batch, units)`, or
/// `(batch, timesteps, units)` with [`SimpleRNN::return_sequences`].
/// Weights `<name>.kernel` `(features, units)` (glorot uniform),
/// `<name>.recurrent_kernel` `(units, units)` (orthogonal), `<name>.bias` `(units)` (zeros).
///
/// ```
/// use neurite_nn::{layers::SimpleRNN, ForwardContext, Layer};
/// let mut rnn = SimpleRNN::new(3);
/// rnn.build(&[4, 2], &mut neurite_tensor::random::rng_from_seed(1))?;
/// let x = neurite_autograd::Var::constant(ndarray::Array3::<f32>::ones((5, 4, 2)).into_dyn());
/// let y = rnn.forward(&x, &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![5, 3]);
/// assert!(y.value().iter().all(|v| v.abs() < 1.0));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone)]
pub struct SimpleRNN {
    base: RnnBase,
}

recurrent_layer_common!(SimpleRNN, RnnKind::Simple, simple_rnn_masked);

/// The SimpleRNN recurrence over a whole sequence as one differentiable op
/// (what the [`SimpleRNN`] layer runs): `x (batch, timesteps, features)`,
/// `kernel (features, 1 units)`, `recurrent_kernel (units, 1 units)`,
/// optional `bias (units)`. The graph gets a single node whose backward
/// runs through time by hand. Shape mismatches are [`crate::NnError::Shape`] errors.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{fused_simple_rnn, RecurrentOptions};
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 3)));
/// let kernel = Var::parameter(ndarray::Array2::<f32>::from_elem((3, 1 * 2), 0.1).into_dyn());
/// let recurrent = Var::parameter(ndarray::Array2::<f32>::from_elem((2, 1 * 2), 0.1).into_dyn());
/// let bias = None;
/// let opts = RecurrentOptions { return_sequences: true, ..Default::default() };
/// let y = fused_simple_rnn(&x, &kernel, &recurrent, bias, &opts)?;
/// assert_eq!(y.shape(), vec![2, 5, 2]);
/// neurite_autograd::ops::sum_all(&y)?.backward()?;
/// assert_eq!(kernel.grad().unwrap().shape(), &[3, 1 * 2]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn fused_simple_rnn(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
) -> Result<Var> {
    check_operands(
        "fused_simple_rnn",
        RnnKind::Simple,
        x,
        kernel,
        recurrent_kernel,
        bias,
    )?;
    let opts = SeqOptions::from_options("fused_simple_rnn", options)?;
    simple_rnn_op(x, kernel, recurrent_kernel, bias, opts, None)
}

/// [`fused_simple_rnn`] with a step mask (what the layer runs; `mask` is checked by the layer).
pub(crate) fn simple_rnn_masked(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    check_operands(
        "fused_simple_rnn",
        RnnKind::Simple,
        x,
        kernel,
        recurrent_kernel,
        bias,
    )?;
    let opts = SeqOptions::from_options("fused_simple_rnn", options)?;
    simple_rnn_op(x, kernel, recurrent_kernel, bias, opts, mask)
}

/// The fused SimpleRNN over a whole sequence: one graph node with parents
/// `[x, kernel, recurrent_kernel, (bias)]`, run in batch chunks ([`chunked_op`]).
fn simple_rnn_op(
    x: &Var,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
    opts: SeqOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    let cell = SimpleCell(SeqWeights::read(kernel, recurrent, bias));
    chunked_op("simple_rnn", cell, [x, kernel, recurrent], bias, opts, mask)
}

chunked_cell!(
    /// The SimpleRNN's weights as a [`ChunkedCell`](super::driver::ChunkedCell).
    SimpleCell(SeqWeights),
    SimpleChunk,
    simple_chunk_forward,
    simple_chunk_backward
);

/// One chunk's forward pass, kept for its backward: the batch rows it
/// covers, its time-major input, the pre-activations `z` (`[T*rows, units]`)
/// and the states `hs` (`[(T+1)*rows, units]`, block 0 the zero initial state).
struct SimpleChunk {
    rows: Range<usize>,
    steps: usize,
    x_tm: Array2<f32>,
    z: Array2<f32>,
    hs: Array2<f32>,
}

/// The forward recurrence of the batch rows `rows` of `x` (`(B, T, F)`).
fn simple_chunk_forward(
    x: ArrayView3<f32>,
    rows: Range<usize>,
    weights: &SeqWeights,
    opts: SeqOptions,
    single_thread: bool,
    mask: Option<&StepMask>,
) -> neurite_autograd::Result<SimpleChunk> {
    let (b, t) = (rows.len(), x.dim().1);
    let units = weights.u.nrows();
    let act = opts.activation;
    let (x_tm, mut z) = input_projection(
        x,
        rows.clone(),
        &weights.w,
        weights.bias.as_ref(),
        opts.go_backwards,
        single_thread,
    )?;
    let mut hs = Array2::<f32>::zeros(((t + 1) * b, units));
    for step in 0..t {
        let r0 = step * b;
        if step > 0 {
            let h_prev = &hs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            let zt = &mut z.as_slice_mut().expect("standard layout")[r0 * units..(r0 + b) * units];
            small_gemm(b, h_prev, units, &weights.u_packed, zt, units, true)?;
        }
        let zs = &z.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
        let (h_before, h_after) = hs
            .as_slice_mut()
            .expect("standard layout")
            .split_at_mut((r0 + b) * units);
        let hn = &mut h_after[..b * units];
        hn.copy_from_slice(zs);
        act.apply_slice(hn);
        if let Some(m) = mask {
            // Masked rows carry the previous state over this step.
            m.keep_previous(step, &h_before[r0 * units..], hn, units);
        }
    }
    Ok(SimpleChunk {
        rows,
        steps: t,
        x_tm,
        z,
        hs,
    })
}

/// One chunk's backward through time, from `grad` (its rows of the output
/// gradient): its rows of `dX` and its partial weight gradients.
#[allow(clippy::too_many_arguments)]
fn simple_chunk_backward(
    chunk: SimpleChunk,
    grad: &Tensor,
    weights: &SeqWeights,
    ut_packed: &PackedPanels,
    needs: Needs,
    opts: SeqOptions,
    single_thread: bool,
    mask: Option<&StepMask>,
) -> neurite_autograd::Result<ChunkGrads> {
    let SimpleChunk {
        rows,
        steps: t,
        x_tm,
        z,
        hs,
    } = chunk;
    let b = rows.len();
    let units = weights.u.nrows();
    let act = opts.activation;
    let mut dz = z; // pre-activations no longer needed: reused for dZ
    let mut dh = Array2::<f32>::zeros((b, units));
    for step in (0..t).rev() {
        let r0 = step * b;
        add_output_grad_masked(&mut dh, grad, step, t, opts.return_sequences, mask);
        let carried = mask.filter(|m| m.any_masked(step)).map(|m| (m, dh.clone()));
        {
            let h = &hs.as_slice().expect("standard layout")[(r0 + b) * units..(r0 + 2 * b) * units];
            let dzs = &mut dz.as_slice_mut().expect("standard layout")[r0 * units..(r0 + b) * units];
            let dhs = dh.as_slice().expect("standard layout");
            for ((d, &hv), &dv) in dzs.iter_mut().zip(h).zip(dhs) {
                *d = dv * act.derivative_from_output(hv);
            }
            if let Some((m, _)) = &carried {
                m.zero_rows(step, dzs, units);
            }
        }
        if step > 0 {
            let dz_t = &dz.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            small_gemm(
                b,
                dz_t,
                units,
                ut_packed,
                dh.as_slice_mut().expect("standard layout"),
                units,
                false,
            )?;
        }
        if let Some((m, dh_in)) = &carried {
            let dh_in = dh_in.as_slice().expect("standard layout");
            m.keep_previous(step, dh_in, dh.as_slice_mut().expect("standard layout"), units);
        }
    }
    ChunkGrads::from_shared_gate_grads(&x_tm, &hs, &dz, (b, t), weights, needs, opts, single_thread)
}
