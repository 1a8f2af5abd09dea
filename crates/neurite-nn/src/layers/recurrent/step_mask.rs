//! Masked timesteps in the fused recurrent kernels (Keras' `backend.rnn`
//! with a mask): at a masked step every state keeps its previous value (the
//! step's input has no effect and gets no gradient), and the step's output
//! is the previous output (`zero_output_for_mask=False`, Keras' default) or
//! zero (`True`, what `Bidirectional` sets when returning sequences).

use ndarray::{s, Array2, Axis, Ix3};
use neurite_tensor::Tensor;
use std::ops::Range;

/// A recurrent op's mask: `(batch, timesteps)` (non-zero = valid) and
/// whether masked steps output zeros.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqMask<'a> {
    pub mask: &'a Tensor,
    pub zero_output: bool,
}

/// One chunk's mask in the kernels' time-major order (`step * rows + r`,
/// steps in processing order, i.e. reversed when `go_backwards`).
#[derive(Debug, Clone)]
pub(crate) struct StepMask {
    valid: Vec<bool>,
    rows: usize,
    zero_output: bool,
}

impl StepMask {
    /// The chunk `rows` of `m`, in processing order.
    pub(crate) fn for_chunk(m: &SeqMask, rows: Range<usize>, go_backwards: bool) -> StepMask {
        let t = m.mask.shape()[1];
        let n = rows.len();
        let mut valid = vec![true; t * n];
        for step in 0..t {
            let src = if go_backwards { t - 1 - step } else { step };
            for (r, b) in rows.clone().enumerate() {
                valid[step * n + r] = m.mask[[b, src]] != 0.0;
            }
        }
        StepMask {
            valid,
            rows: n,
            zero_output: m.zero_output,
        }
    }

    /// Whether row `r` is valid at (processing) step `step`.
    pub(crate) fn valid(&self, step: usize, r: usize) -> bool {
        self.valid[step * self.rows + r]
    }

    /// The masked rows at `step`.
    pub(crate) fn masked_rows(&self, step: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.rows).filter(move |&r| !self.valid(step, r))
    }

    /// Whether any row is masked at `step`.
    pub(crate) fn any_masked(&self, step: usize) -> bool {
        self.valid[step * self.rows..(step + 1) * self.rows]
            .iter()
            .any(|v| !v)
    }

    /// Masked rows of `new` (`rows` rows of `width`) take `prev`'s values:
    /// the state carried over a masked step.
    pub(crate) fn keep_previous(&self, step: usize, prev: &[f32], new: &mut [f32], width: usize) {
        for r in self.masked_rows(step) {
            new[r * width..(r + 1) * width].copy_from_slice(&prev[r * width..(r + 1) * width]);
        }
    }

    /// Masked rows of `m` (`rows` rows of `width`) set to zero: no gate
    /// gradient at a masked step.
    pub(crate) fn zero_rows(&self, step: usize, m: &mut [f32], width: usize) {
        for r in self.masked_rows(step) {
            m[r * width..(r + 1) * width].fill(0.0);
        }
    }

    /// Whether masked steps output zeros.
    pub(crate) fn zero_output(&self) -> bool {
        self.zero_output
    }
}

/// Zeroes the masked steps of a chunk's `(rows, T, U)` sequence output (in
/// processing order) when the mask asks for zero outputs.
pub(crate) fn zero_masked_outputs(out: &mut Tensor, mask: Option<&StepMask>, return_sequences: bool) {
    let Some(m) = mask.filter(|m| m.zero_output() && return_sequences) else {
        return;
    };
    let mut o3 = out
        .view_mut()
        .into_dimensionality::<Ix3>()
        .expect("sequence output is 3-d");
    let t = o3.len_of(Axis(1));
    for step in 0..t {
        for r in m.masked_rows(step) {
            o3.slice_mut(s![r, step, ..]).fill(0.0);
        }
    }
}

/// Adds the output gradient of `step` to `dh` as
/// [`super::layout::add_output_grad`], leaving out the masked rows whose
/// output is a constant zero.
pub(crate) fn add_output_grad_masked(
    dh: &mut Array2<f32>,
    grad: &Tensor,
    step: usize,
    t: usize,
    return_sequences: bool,
    mask: Option<&StepMask>,
) {
    match mask {
        Some(m) if m.zero_output() && return_sequences && m.any_masked(step) => {
            let g3 = grad
                .view()
                .into_dimensionality::<Ix3>()
                .expect("gradient has the output's shape");
            let gs = g3.index_axis(Axis(1), step);
            for (r, mut row) in dh.axis_iter_mut(Axis(0)).enumerate() {
                if m.valid(step, r) {
                    row += &gs.row(r);
                }
            }
        }
        _ => super::layout::add_output_grad(dh, grad, step, t, return_sequences),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_masks_follow_processing_order() {
        let mask = ndarray::arr2(&[[1.0f32, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]).into_dyn();
        let sm = SeqMask {
            mask: &mask,
            zero_output: false,
        };
        let fwd = StepMask::for_chunk(&sm, 1..3, false);
        assert!(!fwd.valid(0, 0) && fwd.valid(0, 1) && fwd.valid(2, 0) && !fwd.valid(2, 1));
        let back = StepMask::for_chunk(&sm, 0..3, true);
        assert!(!back.valid(0, 0) && back.valid(2, 0) && !back.valid(0, 2) && back.valid(2, 2));
        assert_eq!(back.masked_rows(0).collect::<Vec<_>>(), vec![0, 2]);
        let mut new = vec![9.0; 6];
        back.keep_previous(0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut new, 2);
        assert_eq!(new, vec![1.0, 2.0, 9.0, 9.0, 5.0, 6.0]);
    }
}
