//! `GRU`: gated recurrent unit (Cho et al. 2014), Keras 3 semantics
//! (`reset_after=true`, the cuDNN-compatible variant).
//!
//! With the input part `X = x_t W + b_in` and the recurrent part
//! `R = h_{t-1} U + b_rec`, each split in Keras' gate order `[z, r, h]`:
//!
//! ```text
//! z = σ(X_z + R_z)    r = σ(X_r + R_r)
//! ĥ = act(X_h + r * R_h)
//! h_t = z * h_{t-1} + (1 - z) * ĥ
//! ```
//!
//! The bias has shape `(2, 3 units)`: row 0 is `b_in`, row 1 `b_rec`.
//! One graph node per sequence, hand-written backward through time.

use super::base::RnnBase;
use super::config::{check_operands, RecurrentOptions, RnnKind, SeqOptions};
use super::driver::{chunked_cell, chunked_op, input_projection, ChunkBackward, ChunkGrads, Needs};
use super::layer_macro::recurrent_layer_common;
use super::layout::column_sums;
use super::step_mask::{add_output_grad_masked, SeqMask, StepMask};
use crate::error::Result;
use ndarray::{Array1, Array2, ArrayView3, Axis, Ix2};
use neurite_autograd::Var;
use neurite_tensor::small_gemm::{small_gemm, PackedPanels};
use neurite_tensor::Tensor;
use std::ops::Range;

/// Gated recurrent unit layer, as Keras 3's `GRU` (`reset_after=true`).
///
/// Input `(batch, timesteps, features)`; output `(batch, units)`, or
/// `(batch, timesteps, units)` with [`GRU::return_sequences`]. Weights:
/// `<name>.kernel` `(features, 3 units)`, `<name>.recurrent_kernel`
/// `(units, 3 units)`, `<name>.bias` `(2, 3 units)` (input bias, recurrent
/// bias), columns in Keras' gate order `[z, r, h]`. Initial state zero;
/// `reset_after=false` ([`GRU::reset_after`]) takes a `(3 units,)` bias and runs
/// step by step on autograd ops instead of the fused kernel, as does
/// `recurrent_dropout`; `return_state` and `stateful` are not supported.
///
/// ```
/// use neurite_nn::{layers::GRU, ForwardContext, Layer};
/// let mut gru = GRU::new(4);
/// gru.build(&[6, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(gru.parameters()[2].var.shape(), vec![2, 12]);
/// let x = neurite_autograd::Var::constant(ndarray::Array3::<f32>::zeros((3, 6, 2)).into_dyn());
/// assert_eq!(gru.forward(&x, &mut ForwardContext::inference())?.shape(), vec![3, 4]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone)]
pub struct GRU {
    base: RnnBase,
}

recurrent_layer_common!(GRU, RnnKind::Gru, gru_masked);

impl GRU {
    /// Keras' `reset_after` (default true): false applies the reset gate to
    /// the previous state before the candidate's recurrent product (the
    /// Keras 2 variant), with one `(3 units,)` bias on the input side.
    ///
    /// ```
    /// use neurite_nn::{layers::GRU, ForwardContext, Layer};
    /// let mut gru = GRU::new(4).reset_after(false);
    /// gru.build(&[6, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(gru.parameters()[2].var.shape(), vec![12]);
    /// let x = neurite_autograd::Var::constant(ndarray::Array3::<f32>::ones((3, 6, 2)).into_dyn());
    /// assert_eq!(gru.forward(&x, &mut ForwardContext::inference())?.shape(), vec![3, 4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn reset_after(mut self, reset_after: bool) -> Self {
        self.base.cfg.reset_after = Some(reset_after);
        self
    }
}

/// The GRU recurrence over a whole sequence as one differentiable op
/// (what the [`GRU`] layer runs): `x (batch, timesteps, features)`,
/// `kernel (features, 3 units)`, `recurrent_kernel (units, 3 units)` in gate order `[z, r, h]`,
/// optional `bias (2, 3 units)`. The graph gets a single node whose backward
/// runs through time by hand. Shape mismatches are [`crate::NnError::Shape`] errors.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{fused_gru, RecurrentOptions};
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 3)));
/// let kernel = Var::parameter(ndarray::Array2::<f32>::from_elem((3, 3 * 2), 0.1).into_dyn());
/// let recurrent = Var::parameter(ndarray::Array2::<f32>::from_elem((2, 3 * 2), 0.1).into_dyn());
/// let bias = Some(&Var::parameter(ndarray::Array2::<f32>::zeros((2, 6)).into_dyn()));
/// let opts = RecurrentOptions { return_sequences: true, ..Default::default() };
/// let y = fused_gru(&x, &kernel, &recurrent, bias, &opts)?;
/// assert_eq!(y.shape(), vec![2, 5, 2]);
/// neurite_autograd::ops::sum_all(&y)?.backward()?;
/// assert_eq!(kernel.grad().unwrap().shape(), &[3, 3 * 2]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn fused_gru(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
) -> Result<Var> {
    gru_masked(x, kernel, recurrent_kernel, bias, options, None)
}

/// [`fused_gru`] with a step mask (what the layer runs; `mask` is checked by the layer).
pub(crate) fn gru_masked(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    check_operands("fused_gru", RnnKind::Gru, x, kernel, recurrent_kernel, bias)?;
    let opts = SeqOptions::from_options("fused_gru", options)?;
    gru_op(x, kernel, recurrent_kernel, bias, opts, mask)
}

/// The fused GRU over a whole sequence: one graph node with parents
/// `[x, kernel, recurrent_kernel, (bias)]`, run in batch chunks ([`chunked_op`]).
fn gru_op(
    x: &Var,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
    opts: SeqOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    let cell = GruCell(GruWeights::read(kernel, recurrent, bias));
    chunked_op("gru", cell, [x, kernel, recurrent], bias, opts, mask)
}

chunked_cell!(
    /// The GRU's weights as a [`ChunkedCell`](super::driver::ChunkedCell).
    GruCell(GruWeights),
    GruChunk,
    gru_chunk_forward,
    gru_chunk_backward
);

/// The GRU's weights, owned by the op: `W`, `U` (also packed for the per-step
/// products) and the input-side and recurrent-side bias rows (zeros without bias).
struct GruWeights {
    w: Array2<f32>,
    u: Array2<f32>,
    u_packed: PackedPanels,
    b_in: Array1<f32>,
    b_rec: Array1<f32>,
}

impl GruWeights {
    fn read(kernel: &Var, recurrent: &Var, bias: Option<&Var>) -> Self {
        let as2 = |v: &Var| {
            v.value()
                .view()
                .into_dimensionality::<Ix2>()
                .expect("checked 2-d")
                .to_owned()
        };
        let (w, u) = (as2(kernel), as2(recurrent));
        let g = 3 * u.nrows();
        let (b_in, b_rec) = match bias {
            Some(bias) => {
                let bv = as2(bias);
                (bv.row(0).to_owned(), bv.row(1).to_owned())
            }
            None => (Array1::zeros(g), Array1::zeros(g)),
        };
        GruWeights {
            w,
            u_packed: PackedPanels::pack(u.view()),
            u,
            b_in,
            b_rec,
        }
    }
}

/// One chunk's forward pass, kept for its backward: the batch rows it
/// covers, its time-major input, the gate values `xz` (`[T*rows, 3 units]`),
/// the states `hs` (`[(T+1)*rows, units]`, block 0 the zero initial state)
/// and `rh`, the recurrent candidate term `R_h` of every step.
struct GruChunk {
    rows: Range<usize>,
    steps: usize,
    x_tm: Array2<f32>,
    xz: Array2<f32>,
    hs: Array2<f32>,
    rh: Array2<f32>,
}

/// The forward recurrence of the batch rows `rows` of `x` (`(B, T, F)`).
fn gru_chunk_forward(
    x: ArrayView3<f32>,
    rows: Range<usize>,
    weights: &GruWeights,
    opts: SeqOptions,
    single_thread: bool,
    mask: Option<&StepMask>,
) -> neurite_autograd::Result<GruChunk> {
    let (b, t) = (rows.len(), x.dim().1);
    let units = weights.u.nrows();
    let g = 3 * units;
    let act = opts.activation;
    let ract = opts.recurrent_activation;
    let (x_tm, mut xz) = input_projection(
        x,
        rows.clone(),
        &weights.w,
        Some(&weights.b_in),
        opts.go_backwards,
        single_thread,
    )?;

    let mut hs = Array2::<f32>::zeros(((t + 1) * b, units));
    let mut rh = Array2::<f32>::zeros((t * b, units)); // R_h per step, for backward
    let mut inner = Array2::<f32>::zeros((b, g));
    for step in 0..t {
        let r0 = step * b;
        inner.assign(&weights.b_rec.broadcast((b, g)).expect("bias row has 3 units"));
        if step > 0 {
            let h_prev = &hs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            small_gemm(
                b,
                h_prev,
                units,
                &weights.u_packed,
                inner.as_slice_mut().expect("standard layout"),
                g,
                true,
            )?;
        }
        let xs = &mut xz.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
        let (h_before, h_after) = hs
            .as_slice_mut()
            .expect("standard layout")
            .split_at_mut((r0 + b) * units);
        let h_prev = &h_before[r0 * units..];
        let h_new = &mut h_after[..b * units];
        let rhs = &mut rh.as_slice_mut().expect("standard layout")[r0 * units..(r0 + b) * units];
        let ins = inner.as_slice().expect("standard layout");
        for bi in 0..b {
            let row = &mut xs[bi * g..(bi + 1) * g];
            let (xzr, xh) = row.split_at_mut(2 * units);
            let (xzg, xrg) = xzr.split_at_mut(units);
            let irow = &ins[bi * g..(bi + 1) * g];
            let o_range = bi * units..(bi + 1) * units;
            let hp = &h_prev[o_range.clone()];
            let hn = &mut h_new[o_range.clone()];
            let rr = &mut rhs[o_range];
            for j in 0..units {
                xzg[j] += irow[j];
                xrg[j] += irow[units + j];
            }
            ract.apply_slice(xzg);
            ract.apply_slice(xrg);
            for j in 0..units {
                let ih = irow[2 * units + j];
                rr[j] = ih;
                xh[j] += xrg[j] * ih;
            }
            act.apply_slice(xh);
            for j in 0..units {
                hn[j] = xzg[j] * hp[j] + (1.0 - xzg[j]) * xh[j];
            }
        }
        if let Some(m) = mask {
            // Masked rows carry the previous state over this step.
            m.keep_previous(step, h_prev, h_new, units);
        }
    }
    Ok(GruChunk {
        rows,
        steps: t,
        x_tm,
        xz,
        hs,
        rh,
    })
}

/// One chunk's backward through time, from `grad` (its rows of the output
/// gradient): its rows of `dX` and its partial weight gradients.
#[allow(clippy::too_many_arguments)]
fn gru_chunk_backward(
    chunk: GruChunk,
    grad: &Tensor,
    weights: &GruWeights,
    ut_packed: &PackedPanels,
    needs: Needs,
    opts: SeqOptions,
    single_thread: bool,
    mask: Option<&StepMask>,
) -> neurite_autograd::Result<ChunkGrads> {
    let GruChunk {
        rows,
        steps: t,
        x_tm,
        xz,
        hs,
        rh,
    } = chunk;
    let b = rows.len();
    let units = weights.u.nrows();
    let g = 3 * units;
    let act = opts.activation;
    let ract = opts.recurrent_activation;
    let mut dzx = xz; // gate values, overwritten with the input-side gate gradients
    let mut dzr = Array2::<f32>::zeros((t * b, g)); // recurrent-side gate gradients
    let mut dh = Array2::<f32>::zeros((b, units));
    for step in (0..t).rev() {
        let r0 = step * b;
        add_output_grad_masked(&mut dh, grad, step, t, opts.return_sequences, mask);
        {
            let xs = &mut dzx.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
            let rs = &mut dzr.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
            let h_prev = &hs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            let rhs = &rh.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            let dhs = dh.as_slice_mut().expect("standard layout");
            for bi in 0..b {
                let row = &mut xs[bi * g..(bi + 1) * g];
                let rrow = &mut rs[bi * g..(bi + 1) * g];
                if mask.is_some_and(|m| !m.valid(step, bi)) {
                    // A masked step: no gate gradient, dh passes to h_{t-1} unchanged.
                    row.fill(0.0);
                    rrow.fill(0.0);
                    continue;
                }
                let (xzr, xh) = row.split_at_mut(2 * units);
                let (xzg, xrg) = xzr.split_at_mut(units);
                let o_range = bi * units..(bi + 1) * units;
                let hp = &h_prev[o_range.clone()];
                let ihs = &rhs[o_range.clone()];
                let dhr = &mut dhs[o_range];
                for j in 0..units {
                    let (zg, r, hh) = (xzg[j], xrg[j], xh[j]);
                    let d = dhr[j];
                    let dz_pre = d * (hp[j] - hh) * ract.derivative_from_output(zg);
                    let dhh_pre = d * (1.0 - zg) * act.derivative_from_output(hh);
                    let dr_pre = dhh_pre * ihs[j] * ract.derivative_from_output(r);
                    xzg[j] = dz_pre;
                    xrg[j] = dr_pre;
                    xh[j] = dhh_pre;
                    rrow[j] = dz_pre;
                    rrow[units + j] = dr_pre;
                    rrow[2 * units + j] = dhh_pre * r;
                    dhr[j] = d * zg; // direct path h_{t-1} -> h_t
                }
            }
        }
        if step > 0 {
            let dzr_t = &dzr.as_slice().expect("standard layout")[r0 * g..(r0 + b) * g];
            small_gemm(
                b,
                dzr_t,
                g,
                ut_packed,
                dh.as_slice_mut().expect("standard layout"),
                units,
                true,
            )?;
        }
    }
    let db = needs.db.then(|| {
        ndarray::stack(Axis(0), &[column_sums(&dzx).view(), column_sums(&dzr).view()])
            .expect("two rows of 3 units")
            .into_dyn()
    });
    ChunkGrads::from_gate_grads(
        ChunkBackward {
            x_tm: &x_tm,
            hs: &hs,
            dz_in: &dzx,
            dz_rec: &dzr,
            rows: b,
            steps: t,
        },
        (&weights.w, &weights.u),
        db,
        needs,
        opts,
        single_thread,
    )
}
