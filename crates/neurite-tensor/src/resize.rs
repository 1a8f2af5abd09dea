//! Upsampling of NHWC batches by integer factors (Keras' `UpSampling2D`),
//! forward and backward.
//!
//! - `Nearest` repeats each row `sh` times and each column `sw` times
//!   (Keras: `ops.repeat` on both axes); its backward sums each
//!   `sh x sw` block of the gradient.
//! - `Bilinear` is `tf.image.resize(.., "bilinear")` / `jax.image.resize`
//!   without antialiasing, i.e. half-pixel centers: output pixel `i` samples
//!   the input at `(i + 0.5) / s - 0.5`, clamped to `[0, len - 1]`, and
//!   mixes the two nearest input pixels linearly. Its backward scatters
//!   each output gradient onto those pixels with the same weights.
//!
//! Rayon tasks of whole images, or of blocks of rows when the batch has
//! fewer than [`crate::conv::MIN_TASKS`] images (`resize/kernels.rs`).
//! Bilinear is computed separably: forward interpolates each input row
//! horizontally once (kept while consecutive output rows read it) and mixes
//! two such rows per output row; backward reduces each gradient row
//! horizontally, then adds it to its two input rows. Each value is summed
//! in the same order whatever the task split, so results do not depend on
//! the number of threads.
//!
//! ```
//! use neurite_tensor::resize::{upsample2d, Interpolation};
//! let x = ndarray::Array::from_shape_vec((1, 1, 2, 1), vec![0.0f32, 4.0]).unwrap().into_dyn();
//! let near = upsample2d(&x, (1, 2), Interpolation::Nearest)?;
//! assert_eq!(near.into_raw_vec_and_offset().0, vec![0.0, 0.0, 4.0, 4.0]);
//! let lin = upsample2d(&x, (1, 2), Interpolation::Bilinear)?;
//! assert_eq!(lin.into_raw_vec_and_offset().0, vec![0.0, 1.0, 3.0, 4.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

mod kernels;

use crate::error::{Result, TensorError};
use crate::fill::par_build;
use crate::size::checked_len;
use crate::spatial::nhwc;
use crate::Tensor;
use kernels::{row_blocks, Kernel};
use ndarray::IxDyn;
use rayon::prelude::*;

/// How [`upsample2d`] fills the new pixels.
///
/// ```
/// assert_ne!(neurite_tensor::resize::Interpolation::Nearest, neurite_tensor::resize::Interpolation::Bilinear);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Repeat rows and columns.
    Nearest,
    /// Linear in both axes, half-pixel centers (TensorFlow/JAX `resize`).
    Bilinear,
}

/// One output coordinate of a linear resize: the two input indices it
/// reads and the weight of the second (`1 - frac` goes to the first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearTap {
    /// Lower input index.
    pub lo: usize,
    /// Upper input index (`lo + 1`, or `lo` at the border).
    pub hi: usize,
    /// Weight of `hi`, in `[0, 1)`.
    pub frac: f32,
}

/// The taps of a linear resize of an axis of `len` pixels by `factor`
/// (half-pixel centers, clamped at both borders).
///
/// ```
/// let t = neurite_tensor::resize::linear_taps(2, 2);
/// assert_eq!((t[0].lo, t[0].frac), (0, 0.0)); // -0.25 clamps to 0
/// assert_eq!((t[1].lo, t[1].hi, t[1].frac), (0, 1, 0.25));
/// assert_eq!((t[3].lo, t[3].hi), (1, 1));
/// ```
pub fn linear_taps(len: usize, factor: usize) -> Vec<LinearTap> {
    let out = len * factor;
    let scale = factor as f64;
    (0..out)
        .map(|i| {
            let src = ((i as f64 + 0.5) / scale - 0.5).max(0.0);
            let lo = (src.floor() as usize).min(len.saturating_sub(1));
            let hi = (lo + 1).min(len.saturating_sub(1));
            let frac = if hi == lo { 0.0 } else { (src - lo as f64) as f32 };
            LinearTap { lo, hi, frac }
        })
        .collect()
}

/// The output shape of an upsampling, checked.
fn output_dims(op: &'static str, x: &Tensor, (sh, sw): (usize, usize)) -> Result<[usize; 6]> {
    let [n, h, w, c] = nhwc(op, x)?;
    if sh == 0 || sw == 0 {
        return Err(TensorError::invalid(
            op,
            format!("factors must be >= 1, found ({sh}, {sw})"),
        ));
    }
    let overflow = || {
        TensorError::invalid(
            op,
            format!("input {:?} times factors ({sh}, {sw}) overflows usize", x.shape()),
        )
    };
    let oh = h.checked_mul(sh).ok_or_else(overflow)?;
    let ow = w.checked_mul(sw).ok_or_else(overflow)?;
    checked_len(op, "the output", &[n, oh, ow, c])?;
    Ok([n, h, w, c, oh, ow])
}

/// `x` (NHWC) upsampled by `(sh, sw)` on (height, width): output
/// `(n, h * sh, w * sw, c)`. Errors if `x` is not 4-d, a factor is 0, or
/// the output would not fit in memory.
///
/// ```
/// use neurite_tensor::resize::{upsample2d, Interpolation};
/// let x = ndarray::Array4::<f32>::ones((2, 3, 4, 5)).into_dyn();
/// assert_eq!(upsample2d(&x, (2, 3), Interpolation::Bilinear)?.shape(), &[2, 6, 12, 5]);
/// assert!(upsample2d(&x, (usize::MAX, 1), Interpolation::Nearest).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn upsample2d(x: &Tensor, factors: (usize, usize), mode: Interpolation) -> Result<Tensor> {
    const OP: &str = "upsample2d";
    let [n, h, w, c, oh, ow] = output_dims(OP, x, factors)?;
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let (in_img, out_img) = (h * w * c, oh * ow * c);
    let out = if out_img == 0 {
        vec![0.0f32; n * out_img]
    } else {
        let k = Kernel::new(mode, factors, [h, w, c]);
        let block = oh.div_ceil(row_blocks(n, oh));
        par_build(n * out_img, out_img, 0.0f32, |img, o| {
            let image = &src[img * in_img..][..in_img];
            o.par_chunks_mut(block * ow * c)
                .enumerate()
                .for_each(|(b, rows)| k.forward_rows(image, b * block, rows));
        })
    };
    Tensor::from_shape_vec(IxDyn(&[n, oh, ow, c]), out).map_err(|e| TensorError::invalid(OP, e.to_string()))
}

/// The gradient of [`upsample2d`] with respect to its input of shape
/// `input_shape`, given the output gradient `g`. Errors if `g` is not the
/// output shape for that input.
///
/// ```
/// use neurite_tensor::resize::{upsample2d_backward, Interpolation};
/// let g = ndarray::Array4::<f32>::ones((1, 2, 4, 1)).into_dyn();
/// let dx = upsample2d_backward(&g, &[1, 1, 2, 1], (2, 2), Interpolation::Nearest)?;
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![4.0, 4.0]);
/// let dx = upsample2d_backward(&g, &[1, 1, 2, 1], (2, 2), Interpolation::Bilinear)?;
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![4.0, 4.0]); // weights sum to 1 per output
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn upsample2d_backward(
    g: &Tensor,
    input_shape: &[usize],
    factors: (usize, usize),
    mode: Interpolation,
) -> Result<Tensor> {
    const OP: &str = "upsample2d_backward";
    let [n, h, w, c] = match input_shape {
        &[n, h, w, c] => [n, h, w, c],
        s => {
            return Err(TensorError::shape(
                OP,
                s,
                g.shape(),
                "the input shape must be 4-d",
            ))
        }
    };
    let (sh, sw) = factors;
    let expected = [n, h.saturating_mul(sh), w.saturating_mul(sw), c];
    if sh == 0 || sw == 0 || g.shape() != expected {
        return Err(TensorError::shape(
            OP,
            g.shape(),
            &expected,
            format!(
                "the gradient must have the output shape of input {input_shape:?} upsampled by ({sh}, {sw})"
            ),
        ));
    }
    let (oh, ow) = (expected[1], expected[2]);
    let gs = g.as_standard_layout();
    let src = gs.as_slice().expect("standard layout is contiguous");
    let len = checked_len(OP, "the input gradient", input_shape)?;
    let (in_img, out_img) = (h * w * c, oh * ow * c);
    let dx = if in_img == 0 {
        vec![0.0f32; len]
    } else {
        let k = Kernel::new(mode, factors, [h, w, c]);
        let block = h.div_ceil(row_blocks(n, h));
        par_build(len, in_img, 0.0f32, |img, d| {
            let grad = &src[img * out_img..][..out_img];
            d.par_chunks_mut(block * w * c)
                .enumerate()
                .for_each(|(b, rows)| k.backward_rows(grad, b * block, rows));
        })
    };
    Tensor::from_shape_vec(IxDyn(input_shape), dx).map_err(|e| TensorError::invalid(OP, e.to_string()))
}
