//! Pictures: the confusion matrix as a text table and an SVG heatmap, the
//! ROC curve as SVG.
//!
//! SVG is drawn with plotters' SVG backend built without its `ttf` and
//! `ab_glyph` features, so text is laid out with plotters' built-in width
//! estimate and written as SVG `<text>` elements (the viewer picks the
//! font): no system font is read, nothing can fail for lack of fonts.
//! Files are written to a temporary file beside the target and renamed, so
//! no half-written picture is ever left behind.

#[cfg(feature = "plot")]
mod atomic;
#[cfg(feature = "plot")]
mod svg;
mod table;

#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub use svg::{
    confusion_matrix_svg, roc_curve_svg, write_confusion_matrix_svg, write_roc_curve_svg, MAX_PICTURE_SIDE,
};

use crate::error::{MetricError, Result};

/// The most classes a confusion-matrix picture or text table is drawn for:
/// both grow as `k²` cells (65 536 at this bound), and beyond it they are
/// unreadable and only cost time and memory. A larger matrix is a
/// [`MetricError::InvalidArgument`]; its scores and its
/// [`classification_report`](crate::classification_report) (one line per
/// class) are still available.
///
/// ```
/// use neurite_metrics::{ConfusionMatrix, MAX_RENDER_CLASSES};
/// let big = ConfusionMatrix::new(MAX_RENDER_CLASSES + 1)?;
/// # #[cfg(feature = "plot")]
/// assert!(neurite_metrics::confusion_matrix_svg(&big, None, false).is_err());
/// assert!(big.to_table(None).is_err());
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub const MAX_RENDER_CLASSES: usize = 256;

/// Fails when a matrix has more classes than [`MAX_RENDER_CLASSES`].
pub(crate) fn check_render_classes(what: &'static str, n_classes: usize) -> Result<()> {
    if n_classes > MAX_RENDER_CLASSES {
        return Err(MetricError::InvalidArgument {
            metric: what,
            name: "n_classes",
            expected: format!(
                "at most {MAX_RENDER_CLASSES} classes to draw (the picture has n_classes² cells)"
            ),
            found: n_classes.to_string(),
        });
    }
    Ok(())
}
