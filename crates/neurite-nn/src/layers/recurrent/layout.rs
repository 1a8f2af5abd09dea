//! The time-major layout of the fused recurrent kernels (`row = t * batch +
//! b`) and back.

use ndarray::{s, Array2, Axis, Ix3};
use neurite_tensor::Tensor;
/// Inverse of the time-major layout ([`super::driver::chunk_time_major`]): `[T*B, F]` back to `(B, T, F)`.
pub(crate) fn from_time_major(m: &Array2<f32>, b: usize, t: usize, go_backwards: bool) -> Tensor {
    let f = m.ncols();
    let mut out = ndarray::Array3::<f32>::zeros((b, t, f));
    for step in 0..t {
        let dst = if go_backwards { t - 1 - step } else { step };
        out.index_axis_mut(Axis(1), dst)
            .assign(&m.slice(s![step * b..(step + 1) * b, ..]));
    }
    out.into_dyn()
}

/// The layer's output from the time-major hidden states `hs` (`[(T+1)*B, U]`,
/// block 0 the zero initial state): all steps `(B, T, U)` or the last `(B, U)`.
pub(crate) fn output_from_states(hs: &Array2<f32>, b: usize, t: usize, return_sequences: bool) -> Tensor {
    if return_sequences {
        let u = hs.ncols();
        let mut out = ndarray::Array3::<f32>::zeros((b, t, u));
        for step in 0..t {
            out.index_axis_mut(Axis(1), step)
                .assign(&hs.slice(s![(step + 1) * b..(step + 2) * b, ..]));
        }
        out.into_dyn()
    } else {
        hs.slice(s![t * b..(t + 1) * b, ..]).to_owned().into_dyn()
    }
}

/// Adds the output gradient of step `step` (if the output has one there) to `dh` (`[B, U]`).
pub(crate) fn add_output_grad(
    dh: &mut Array2<f32>,
    grad: &Tensor,
    step: usize,
    t: usize,
    return_sequences: bool,
) {
    if return_sequences {
        let g3 = grad
            .view()
            .into_dimensionality::<Ix3>()
            .expect("gradient has the output's shape");
        *dh += &g3.index_axis(Axis(1), step);
    } else if step + 1 == t {
        let g2 = grad
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("gradient has the output's shape");
        *dh += &g2;
    }
}

/// Column sums of a matrix (the bias gradient from `dZ`).
pub(crate) fn column_sums(m: &Array2<f32>) -> ndarray::Array1<f32> {
    m.sum_axis(Axis(0))
}
