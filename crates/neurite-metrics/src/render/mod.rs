//! Pictures: the confusion matrix as a text table and an SVG heatmap, the
//! ROC curve as SVG.
//!
//! SVG is drawn with plotters' SVG backend built without its `ttf` and
//! `ab_glyph` features, so text is laid out with plotters' built-in width
//! estimate and written as SVG `<text>` elements (the viewer picks the
//! font): no system font is read, nothing can fail for lack of fonts.
//! Files are written to a temporary file beside the target and renamed, so
//! no half-written picture is ever left behind.

mod atomic;
mod svg;
mod table;

pub use svg::{confusion_matrix_svg, roc_curve_svg, write_confusion_matrix_svg, write_roc_curve_svg};
