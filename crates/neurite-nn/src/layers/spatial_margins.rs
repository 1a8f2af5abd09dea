//! The `padding` of `ZeroPadding2D` and the `cropping` of `Cropping2D`:
//! Keras accepts an int (all four sides), a pair `(rows, columns)` (both
//! sides of each axis) or `((top, bottom), (left, right))`; configs are
//! written in the last form, as Keras' `get_config`.

use crate::checks;
use crate::error::{NnError, Result};
use neurite_tensor::spatial::Margins2d;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Rows and columns on each side, `((top, bottom), (left, right))`.
///
/// ```
/// use neurite_nn::layers::SpatialMargins;
/// let m: SpatialMargins = serde_json::from_value(serde_json::json!([1, 2])).unwrap();
/// assert_eq!(m, SpatialMargins { top: 1, bottom: 1, left: 2, right: 2 });
/// let m: SpatialMargins = serde_json::from_value(serde_json::json!(3)).unwrap();
/// assert_eq!(m, SpatialMargins::from(3));
/// let m: SpatialMargins = serde_json::from_value(serde_json::json!([[1, 0], [0, 2]])).unwrap();
/// assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!([[1, 0], [0, 2]]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpatialMargins {
    /// Rows above.
    pub top: usize,
    /// Rows below.
    pub bottom: usize,
    /// Columns on the left.
    pub left: usize,
    /// Columns on the right.
    pub right: usize,
}

impl From<usize> for SpatialMargins {
    /// The same margin on all four sides.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::SpatialMargins::from(2).right, 2);
    /// ```
    fn from(m: usize) -> Self {
        SpatialMargins {
            top: m,
            bottom: m,
            left: m,
            right: m,
        }
    }
}

impl From<(usize, usize)> for SpatialMargins {
    /// `(rows, columns)`: `rows` above and below, `columns` left and right.
    ///
    /// ```
    /// let m = neurite_nn::layers::SpatialMargins::from((1, 2));
    /// assert_eq!((m.top, m.bottom, m.left, m.right), (1, 1, 2, 2));
    /// ```
    fn from((h, w): (usize, usize)) -> Self {
        SpatialMargins {
            top: h,
            bottom: h,
            left: w,
            right: w,
        }
    }
}

impl From<((usize, usize), (usize, usize))> for SpatialMargins {
    /// `((top, bottom), (left, right))`.
    ///
    /// ```
    /// let m = neurite_nn::layers::SpatialMargins::from(((1, 2), (3, 4)));
    /// assert_eq!((m.top, m.bottom, m.left, m.right), (1, 2, 3, 4));
    /// ```
    fn from(((top, bottom), (left, right)): ((usize, usize), (usize, usize))) -> Self {
        SpatialMargins {
            top,
            bottom,
            left,
            right,
        }
    }
}

impl SpatialMargins {
    /// The kernel's form.
    pub(crate) fn kernel(self) -> Margins2d {
        Margins2d {
            top: self.top,
            bottom: self.bottom,
            left: self.left,
            right: self.right,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MarginsForm {
    All(usize),
    Symmetric([usize; 2]),
    Full([[usize; 2]; 2]),
}

impl<'de> Deserialize<'de> for SpatialMargins {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let form = MarginsForm::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected an integer >= 0, a pair [rows, columns] or [[top, bottom], [left, right]]",
            )
        })?;
        Ok(match form {
            MarginsForm::All(m) => m.into(),
            MarginsForm::Symmetric([h, w]) => (h, w).into(),
            MarginsForm::Full([[t, b], [l, r]]) => ((t, b), (l, r)).into(),
        })
    }
}

impl Serialize for SpatialMargins {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        [[self.top, self.bottom], [self.left, self.right]].serialize(s)
    }
}

/// The `[h, w, c]` of an NHWC sample shape, or a shape error of `layer`.
pub(crate) fn hwc(layer: &str, shape: &[usize]) -> Result<[usize; 3]> {
    match shape {
        &[h, w, c] => Ok([h, w, c]),
        _ => Err(NnError::Shape {
            layer: layer.to_string(),
            expected: "(height, width, channels)".into(),
            found: shape.to_vec(),
        }),
    }
}

/// `[oh, ow, c]` after checking that one sample of it fits in memory
/// (element count times 4 bytes at most `isize::MAX`).
pub(crate) fn checked_sample(
    layer: &str,
    what: &str,
    shape: [Option<usize>; 3],
    input: &[usize],
) -> Result<Vec<usize>> {
    let dims: Option<Vec<usize>> = shape.into_iter().collect();
    let fits = dims
        .as_ref()
        .is_some_and(|d| crate::initializers::byte_size(d, std::mem::size_of::<f32>()).is_some());
    match dims {
        Some(d) if fits => Ok(d),
        _ => Err(NnError::Shape {
            layer: layer.to_string(),
            expected: format!(
                "an input whose {what} output fits in memory (element count times 4 bytes <= isize::MAX)"
            ),
            found: input.to_vec(),
        }),
    }
}

/// Both sums `top + bottom` and `left + right` fit in usize.
pub(crate) fn check_sums(layer: &str, field: &str, m: &SpatialMargins) -> Result<()> {
    if m.top.checked_add(m.bottom).is_none() || m.left.checked_add(m.right).is_none() {
        return Err(checks::field_error(
            layer,
            field,
            "margins whose sums per axis fit in usize",
            format!("[[{}, {}], [{}, {}]]", m.top, m.bottom, m.left, m.right),
        ));
    }
    Ok(())
}

/// Keras' default `data_format`, the only one neurite's NHWC kernels run.
pub(crate) fn channels_last() -> String {
    "channels_last".into()
}

/// `data_format` is `"channels_last"` (a Keras config written with
/// `"channels_first"` is refused rather than run on the wrong axes).
pub(crate) fn check_data_format(layer: &str, value: &str) -> Result<()> {
    if value != "channels_last" {
        return Err(checks::field_error(
            layer,
            "data_format",
            "\"channels_last\" (neurite's images are NHWC)",
            format!("{value:?}"),
        ));
    }
    Ok(())
}

/// Errors unless `shape` is a batch of images `(batch, height, width, channels)`.
pub(crate) fn image_batch(layer: &str, shape: &[usize]) -> Result<()> {
    if shape.len() != 4 {
        return Err(super::shape_error(
            layer,
            "(batch, height, width, channels)",
            shape,
        ));
    }
    Ok(())
}
