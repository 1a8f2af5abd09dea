//! Zero padding and cropping of the spatial axes of NHWC batches (Keras'
//! `ZeroPadding2D` and `Cropping2D`). Each is the other's backward: the
//! gradient of a padding is the crop of the incoming gradient, and the
//! gradient of a crop is the incoming gradient padded with zeros.
//!
//! Both copy whole rows (`width * channels` contiguous floats) and run one
//! rayon task per image.
//!
//! ```
//! use neurite_tensor::spatial::{crop2d, zero_pad2d, Margins2d};
//! let x = ndarray::Array4::<f32>::ones((1, 2, 2, 1)).into_dyn();
//! let m = Margins2d { top: 1, bottom: 0, left: 0, right: 2 };
//! let y = zero_pad2d(&x, m)?;
//! assert_eq!(y.shape(), &[1, 3, 4, 1]);
//! assert_eq!(crop2d(&y, m)?, x);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::error::{Result, TensorError};
use crate::size::checked_len;
use crate::Tensor;
use ndarray::IxDyn;
use rayon::prelude::*;

/// Rows and columns added (padding) or removed (cropping) on each side of
/// the height and width axes of an NHWC batch.
///
/// ```
/// let m = neurite_tensor::spatial::Margins2d::uniform(2);
/// assert_eq!((m.top, m.bottom, m.left, m.right), (2, 2, 2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Margins2d {
    /// Rows above.
    pub top: usize,
    /// Rows below.
    pub bottom: usize,
    /// Columns on the left.
    pub left: usize,
    /// Columns on the right.
    pub right: usize,
}

impl Margins2d {
    /// The same margin on all four sides.
    ///
    /// ```
    /// assert_eq!(neurite_tensor::spatial::Margins2d::uniform(1).left, 1);
    /// ```
    pub fn uniform(m: usize) -> Self {
        Margins2d {
            top: m,
            bottom: m,
            left: m,
            right: m,
        }
    }
}

/// The `(n, h, w, c)` of a 4-d tensor, or an error naming `op`.
pub(crate) fn nhwc(op: &'static str, x: &Tensor) -> Result<[usize; 4]> {
    match x.shape() {
        &[n, h, w, c] => Ok([n, h, w, c]),
        s => Err(TensorError::invalid(
            op,
            format!("expected a 4-d (batch, height, width, channels) tensor, found shape {s:?}"),
        )),
    }
}

/// `a + b + c`, or an error naming `op` and the axis.
fn sum3(op: &'static str, axis: &str, a: usize, b: usize, c: usize) -> Result<usize> {
    a.checked_add(b).and_then(|s| s.checked_add(c)).ok_or_else(|| {
        TensorError::invalid(op, format!("{axis} {a} plus margins {b} and {c} overflows usize"))
    })
}

/// Copies the `(ih, iw)` window of each image of `src` (images of
/// `(sh, sw)`, channels `c`) starting at `(sy, sx)` into each image of
/// `dst` (images of `(dh, dw)`) at `(dy, dx)`; `dst` starts zeroed.
#[allow(clippy::too_many_arguments)]
fn copy_windows(
    src: &[f32],
    (sh, sw): (usize, usize),
    (sy, sx): (usize, usize),
    dst: &mut [f32],
    (dh, dw): (usize, usize),
    (dy, dx): (usize, usize),
    (ih, iw): (usize, usize),
    c: usize,
) {
    let (s_img, d_img) = (sh * sw * c, dh * dw * c);
    if d_img == 0 || s_img == 0 {
        return;
    }
    dst.par_chunks_mut(d_img)
        .zip(src.par_chunks(s_img))
        .for_each(|(d, s)| {
            for r in 0..ih {
                let so = ((sy + r) * sw + sx) * c;
                let d_o = ((dy + r) * dw + dx) * c;
                d[d_o..d_o + iw * c].copy_from_slice(&s[so..so + iw * c]);
            }
        });
}

/// `x` (NHWC) with `m.top`/`m.bottom` rows and `m.left`/`m.right` columns
/// of zeros added. Errors if `x` is not 4-d or the output would not fit in
/// memory (see [`checked_len`]).
///
/// ```
/// use neurite_tensor::spatial::{zero_pad2d, Margins2d};
/// let x = ndarray::Array4::from_elem((1, 1, 1, 2), 3.0f32).into_dyn();
/// let y = zero_pad2d(&x, Margins2d { top: 0, bottom: 1, left: 1, right: 0 })?;
/// assert_eq!(y.shape(), &[1, 2, 2, 2]);
/// assert_eq!(y.sum(), 6.0);
/// assert_eq!(y[[0, 0, 1, 0]], 3.0);
/// assert!(zero_pad2d(&x, Margins2d::uniform(usize::MAX / 2)).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn zero_pad2d(x: &Tensor, m: Margins2d) -> Result<Tensor> {
    const OP: &str = "zero_pad2d";
    let [n, h, w, c] = nhwc(OP, x)?;
    let oh = sum3(OP, "height", h, m.top, m.bottom)?;
    let ow = sum3(OP, "width", w, m.left, m.right)?;
    let len = checked_len(OP, "the output", &[n, oh, ow, c])?;
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0.0f32; len];
    copy_windows(
        src,
        (h, w),
        (0, 0),
        &mut out,
        (oh, ow),
        (m.top, m.left),
        (h, w),
        c,
    );
    Tensor::from_shape_vec(IxDyn(&[n, oh, ow, c]), out).map_err(|e| TensorError::invalid(OP, e.to_string()))
}

/// `x` (NHWC) without its first `m.top` and last `m.bottom` rows and its
/// first `m.left` and last `m.right` columns. Errors if `x` is not 4-d or
/// the margins leave no row or no column (Keras refuses an empty crop).
///
/// ```
/// use neurite_tensor::spatial::{crop2d, Margins2d};
/// let x = ndarray::Array::from_shape_fn((1, 3, 3, 1), |(_, i, j, _)| (3 * i + j) as f32).into_dyn();
/// let y = crop2d(&x, Margins2d { top: 1, bottom: 0, left: 0, right: 1 })?;
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![3.0, 4.0, 6.0, 7.0]);
/// assert!(crop2d(&x, Margins2d { top: 2, bottom: 1, left: 0, right: 0 }).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn crop2d(x: &Tensor, m: Margins2d) -> Result<Tensor> {
    const OP: &str = "crop2d";
    let [n, h, w, c] = nhwc(OP, x)?;
    let keep = |len: usize, a: usize, b: usize, axis: &str| -> Result<usize> {
        a.checked_add(b)
            .and_then(|s| len.checked_sub(s))
            .filter(|&k| k > 0)
            .ok_or_else(|| {
                TensorError::invalid(
                    OP,
                    format!(
                        "cropping {a} and {b} from a {axis} of {len} leaves nothing \
                         (input shape {:?})",
                        x.shape()
                    ),
                )
            })
    };
    let oh = keep(h, m.top, m.bottom, "height")?;
    let ow = keep(w, m.left, m.right, "width")?;
    let len = checked_len(OP, "the output", &[n, oh, ow, c])?;
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0.0f32; len];
    copy_windows(
        src,
        (h, w),
        (m.top, m.left),
        &mut out,
        (oh, ow),
        (0, 0),
        (oh, ow),
        c,
    );
    Tensor::from_shape_vec(IxDyn(&[n, oh, ow, c]), out).map_err(|e| TensorError::invalid(OP, e.to_string()))
}
