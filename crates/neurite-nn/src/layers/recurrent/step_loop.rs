//! The recurrence written step by step with autograd ops, for the two cases
//! the fused kernels (one `h·U` per step) cannot express:
//!
//! - **recurrent dropout** (Keras 3's `implementation=1` cells): each gate
//!   multiplies its own masked copy of the previous state, `(h * m_g) U_g`,
//!   and, with `dropout`, its own masked copy of the input, `(x * d_g) W_g`.
//!   A mask is drawn once per call, `(batch, features)`, and reused at every
//!   step, as Keras' `DropoutRNNCell` caches it;
//! - **`GRU(reset_after=false)`** (the Keras 2 variant): the reset gate
//!   scales the state *before* the candidate's product, `(r * h) U_h`, so the
//!   candidate's product cannot share one GEMM with the gates'.
//!
//! ```text
//! SimpleRNN  h_t = act(x W + b + h U)
//! LSTM       i, f, o = σ(..), c̃ = act(..); c_t = f c + i c̃; h_t = o act(c_t)
//! GRU        z, r = σ(..); ĥ = act(x W_h + b_h + r * (h U_h + b'_h))   (reset_after)
//!                          ĥ = act(x W_h + b_h + (r * h) U_h)          (reset_before)
//!            h_t = z h + (1 - z) ĥ          (the unmasked h, as Keras)
//! ```
//!
//! Gate order is Keras' (`i f c o`, `z r h`). Without input masks the input
//! side of every step is one GEMM; steps run in processing order
//! (`go_backwards` reads the last step first) and a masked step keeps every
//! state (`h_t = h_{t-1} + m_t (h_t' - h_{t-1})`), as the fused kernels.

use super::config::{RecurrentOptions, RnnKind};
use super::step_mask::SeqMask;
use crate::error::{NnError, Result};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use neurite_tensor::Tensor;

/// Which cell the loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopCell {
    Simple,
    Lstm,
    /// GRU, reset gate after the recurrent product (bias `(2, 3 units)`).
    GruResetAfter,
    /// GRU, reset gate before the candidate's product (bias `(3 units,)`).
    GruResetBefore,
}

impl LoopCell {
    pub(crate) fn of(kind: RnnKind, reset_after: bool) -> LoopCell {
        match kind {
            RnnKind::Simple => LoopCell::Simple,
            RnnKind::Lstm => LoopCell::Lstm,
            RnnKind::Gru if reset_after => LoopCell::GruResetAfter,
            RnnKind::Gru => LoopCell::GruResetBefore,
        }
    }

    fn gates(self) -> usize {
        match self {
            LoopCell::Simple => 1,
            LoopCell::Lstm => 4,
            LoopCell::GruResetAfter | LoopCell::GruResetBefore => 3,
        }
    }
}

/// Dropout masks of one call: `input` masks `(batch, features)` and
/// `recurrent` masks `(batch, units)`, each either one shared by every gate
/// or one per gate, holding `0` or `1 / (1 - rate)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DropoutMasks {
    pub input: Option<Vec<Tensor>>,
    pub recurrent: Option<Vec<Tensor>>,
}

/// `count` inverted-dropout masks of shape `(rows, cols)`: each entry is
/// `0` with probability `rate`, else `1 / (1 - rate)`.
pub(crate) fn draw_masks(
    rows: usize,
    cols: usize,
    rate: f32,
    count: usize,
    rng: &mut Generator,
) -> Vec<Tensor> {
    (0..count)
        .map(|_| neurite_tensor::random::dropout_mask(&[rows, cols], rate, rng))
        .collect()
}

/// The mask of gate `g`: the gate's own, or the shared one.
fn gate_mask(masks: &[Tensor], g: usize) -> &Tensor {
    masks.get(g).unwrap_or(&masks[0])
}

/// The weights and inputs of one call.
pub(crate) struct StepLoop<'a> {
    pub op: &'a str,
    pub cell: LoopCell,
    pub x: &'a Var,
    pub kernel: &'a Var,
    pub recurrent: &'a Var,
    pub bias: Option<&'a Var>,
    pub options: &'a RecurrentOptions,
    pub mask: Option<SeqMask<'a>>,
    pub dropout: &'a DropoutMasks,
}

impl StepLoop<'_> {
    fn shape_error(&self, expected: String, found: Vec<usize>) -> NnError {
        NnError::Shape {
            layer: self.op.to_string(),
            expected,
            found,
        }
    }

    /// Checks the shapes; returns `(batch, timesteps, features, units)`.
    fn dims(&self) -> Result<(usize, usize, usize, usize)> {
        let (xs, ks, rs) = (self.x.shape(), self.kernel.shape(), self.recurrent.shape());
        let gates = self.cell.gates();
        let u = rs.first().copied().unwrap_or(0);
        let g = gates * u;
        if rs.len() != 2 || u == 0 || rs[1] != g {
            return Err(self.shape_error(format!("recurrent_kernel (units, {gates} * units)"), rs));
        }
        if ks.len() != 2 || ks[1] != g || ks[0] == 0 {
            return Err(self.shape_error(format!("kernel (features, {g})"), ks));
        }
        if let Some(b) = self.bias {
            let expected: Vec<usize> = if self.cell == LoopCell::GruResetAfter {
                vec![2, g]
            } else {
                vec![g]
            };
            if b.shape() != expected {
                return Err(self.shape_error(format!("bias {expected:?}"), b.shape()));
            }
        }
        if xs.len() != 3 || xs[2] != ks[0] || xs[1] == 0 {
            return Err(self.shape_error(format!("(batch, timesteps, {}) with timesteps >= 1", ks[0]), xs));
        }
        let (n, t, f) = (xs[0], xs[1], xs[2]);
        for (what, masks, cols) in [
            ("input dropout mask", &self.dropout.input, f),
            ("recurrent dropout mask", &self.dropout.recurrent, u),
        ] {
            if let Some(masks) = masks {
                let bad = masks.is_empty()
                    || (masks.len() != 1 && masks.len() != gates)
                    || masks.iter().any(|m| m.shape() != [n, cols]);
                if bad {
                    let found = masks.first().map(|m| m.shape().to_vec()).unwrap_or_default();
                    return Err(
                        self.shape_error(format!("1 or {gates} {what}s of shape [{n}, {cols}]"), found)
                    );
                }
            }
        }
        Ok((n, t, f, u))
    }

    /// The input side of every step, `(batch, timesteps, gates * units)`:
    /// `x W + b` (the input row of a GRU's two-row bias), with each gate's
    /// input mask when there are input masks.
    fn input_projection(&self, n: usize, t: usize, f: usize, u: usize) -> Result<Var> {
        let gates = self.cell.gates();
        let xw = match &self.dropout.input {
            None => ops::matmul(&ops::reshape(self.x, &[n * t, f])?, self.kernel)?,
            Some(masks) => {
                let masked = |m: &Tensor| -> Result<Var> {
                    let m = Var::constant(
                        m.clone()
                            .into_shape_with_order(vec![n, 1, f])
                            .expect("n * f values"),
                    );
                    Ok(ops::reshape(&ops::mul(self.x, &m)?, &[n * t, f])?)
                };
                if masks.len() == 1 {
                    ops::matmul(&masked(&masks[0])?, self.kernel)?
                } else {
                    let parts = (0..gates)
                        .map(|g| {
                            let w = ops::slice_axis(self.kernel, 1, g * u, (g + 1) * u)?;
                            Ok(ops::matmul(&masked(&masks[g])?, &w)?)
                        })
                        .collect::<Result<Vec<Var>>>()?;
                    ops::concat(&parts.iter().collect::<Vec<_>>(), 1)?
                }
            }
        };
        let xw = match self.bias {
            None => xw,
            Some(b) if self.cell == LoopCell::GruResetAfter => {
                ops::add(&xw, &ops::squeeze(&ops::slice_axis(b, 0, 0, 1)?, 0)?)?
            }
            Some(b) => ops::add(&xw, b)?,
        };
        Ok(ops::reshape(&xw, &[n, t, gates * u])?)
    }

    /// `Σ_g (h * m_g) U_g` for the gates `from..to` (one product when no
    /// recurrent mask, or one shared mask).
    fn recurrent_product(&self, h: &Var, from: usize, to: usize, u: usize) -> Result<Var> {
        let weights = |a: usize, b: usize| ops::slice_axis(self.recurrent, 1, a * u, b * u);
        let full = from == 0 && to == self.cell.gates();
        let all = |h: &Var| -> Result<Var> {
            Ok(if full {
                ops::matmul(h, self.recurrent)?
            } else {
                ops::matmul(h, &weights(from, to)?)?
            })
        };
        match &self.dropout.recurrent {
            None => all(h),
            Some(masks) if masks.len() == 1 => all(&ops::mul(h, &Var::constant(masks[0].clone()))?),
            Some(masks) => {
                let parts = (from..to)
                    .map(|g| {
                        let hm = ops::mul(h, &Var::constant(gate_mask(masks, g).clone()))?;
                        Ok(ops::matmul(&hm, &weights(g, g + 1)?)?)
                    })
                    .collect::<Result<Vec<Var>>>()?;
                if parts.len() == 1 {
                    Ok(parts.into_iter().next().expect("one part"))
                } else {
                    Ok(ops::concat(&parts.iter().collect::<Vec<_>>(), 1)?)
                }
            }
        }
    }

    /// One step from the states `(h, c)` and the step's input side `xt`
    /// `(batch, gates * units)`; returns the new `(h, c)` (`c` only for LSTM).
    fn step(&self, h: &Var, c: Option<&Var>, xt: &Var, u: usize) -> Result<(Var, Option<Var>)> {
        let o = self.options;
        let cols = |v: &Var, a: usize, b: usize| ops::slice_axis(v, 1, a * u, b * u);
        match self.cell {
            LoopCell::Simple => {
                let z = ops::add(xt, &self.recurrent_product(h, 0, 1, u)?)?;
                Ok((o.activation.apply(&z)?, None))
            }
            LoopCell::Lstm => {
                let z = ops::add(xt, &self.recurrent_product(h, 0, 4, u)?)?;
                let i = o.recurrent_activation.apply(&cols(&z, 0, 1)?)?;
                let f = o.recurrent_activation.apply(&cols(&z, 1, 2)?)?;
                let candidate = o.activation.apply(&cols(&z, 2, 3)?)?;
                let out = o.recurrent_activation.apply(&cols(&z, 3, 4)?)?;
                let c_prev = c.expect("an LSTM carries c");
                let c_new = ops::add(&ops::mul(&f, c_prev)?, &ops::mul(&i, &candidate)?)?;
                let h_new = ops::mul(&out, &o.activation.apply(&c_new)?)?;
                Ok((h_new, Some(c_new)))
            }
            LoopCell::GruResetAfter => {
                let mut rec = self.recurrent_product(h, 0, 3, u)?;
                if let Some(b) = self.bias {
                    rec = ops::add(&rec, &ops::squeeze(&ops::slice_axis(b, 0, 1, 2)?, 0)?)?;
                }
                let zr = o
                    .recurrent_activation
                    .apply(&ops::add(&cols(xt, 0, 2)?, &cols(&rec, 0, 2)?)?)?;
                let (z, r) = (cols(&zr, 0, 1)?, cols(&zr, 1, 2)?);
                let candidate = o
                    .activation
                    .apply(&ops::add(&cols(xt, 2, 3)?, &ops::mul(&r, &cols(&rec, 2, 3)?)?)?)?;
                Ok((blend(h, &z, &candidate)?, None))
            }
            LoopCell::GruResetBefore => {
                let zr = o
                    .recurrent_activation
                    .apply(&ops::add(&cols(xt, 0, 2)?, &self.recurrent_product(h, 0, 2, u)?)?)?;
                let (z, r) = (cols(&zr, 0, 1)?, cols(&zr, 1, 2)?);
                let h_for_candidate = match &self.dropout.recurrent {
                    Some(masks) => ops::mul(h, &Var::constant(gate_mask(masks, 2).clone()))?,
                    None => h.clone(),
                };
                let product = ops::matmul(&ops::mul(&r, &h_for_candidate)?, &cols(self.recurrent, 2, 3)?)?;
                let candidate = o.activation.apply(&ops::add(&cols(xt, 2, 3)?, &product)?)?;
                Ok((blend(h, &z, &candidate)?, None))
            }
        }
    }

    /// The output `(batch, units)`, or `(batch, timesteps, units)` in
    /// processing order with `return_sequences`.
    pub(crate) fn run(&self) -> Result<Var> {
        let (n, t, f, u) = self.dims()?;
        let o = self.options;
        let xw = self.input_projection(n, t, f, u)?;
        let zeros = || Var::constant(ndarray::Array2::<f32>::zeros((n, u)).into_dyn());
        let mut h = zeros();
        let mut c = (self.cell == LoopCell::Lstm).then(zeros);
        let mut outputs = Vec::with_capacity(if o.return_sequences { t } else { 1 });
        for i in 0..t {
            let step = if o.go_backwards { t - 1 - i } else { i };
            let xt = ops::squeeze(&ops::slice_axis(&xw, 1, step, step + 1)?, 1)?;
            let (h_new, c_new) = self.step(&h, c.as_ref(), &xt, u)?;
            let masked = self
                .mask
                .filter(|m| m.mask.slice(ndarray::s![.., step]).iter().any(|&v| v == 0.0));
            let Some(m) = masked else {
                h = h_new;
                c = c_new;
                if o.return_sequences {
                    outputs.push(h.clone());
                }
                continue;
            };
            let valid = m
                .mask
                .slice(ndarray::s![.., step])
                .mapv(|v| if v != 0.0 { 1.0 } else { 0.0 });
            let mt = Var::constant(valid.into_shape_with_order((n, 1)).expect("n values").into_dyn());
            // A masked step keeps every state (and outputs the previous output, or zero).
            let keep = |old: &Var, new: &Var| -> Result<Var> {
                Ok(ops::add(old, &ops::mul(&mt, &ops::sub(new, old)?)?)?)
            };
            h = keep(&h, &h_new)?;
            if let (Some(c_old), Some(c_new)) = (c.as_ref(), c_new.as_ref()) {
                c = Some(keep(c_old, c_new)?);
            }
            if o.return_sequences {
                outputs.push(if m.zero_output {
                    ops::mul(&h, &mt)?
                } else {
                    h.clone()
                });
            }
        }
        if o.return_sequences {
            Ok(ops::stack(&outputs.iter().collect::<Vec<_>>(), 1)?)
        } else {
            Ok(h)
        }
    }
}

/// `z h + (1 - z) ĥ`, written `ĥ + z (h - ĥ)`.
fn blend(h: &Var, z: &Var, candidate: &Var) -> Result<Var> {
    Ok(ops::add(candidate, &ops::mul(z, &ops::sub(h, candidate)?)?)?)
}

#[cfg(test)]
#[path = "step_loop_tests.rs"]
mod tests;
