//! # neurite-metrics
//!
//! Classification and regression metrics on plain [`ndarray`] arrays, usable
//! alone or from neurite's training loop:
//!
//! - **classification** on label vectors (`&[usize]`): [`accuracy_score`],
//!   [`ConfusionMatrix`] (counts and row-normalised), precision / recall /
//!   F1 / F-beta per class with [`Average::Macro`], [`Average::Micro`] and
//!   [`Average::Weighted`], [`matthews_corrcoef`], [`cohen_kappa_score`],
//!   [`classification_report`] (scikit-learn's text table);
//! - **Keras-style accuracies** on `f32` arrays: [`binary_accuracy`],
//!   [`categorical_accuracy`], [`sparse_categorical_accuracy`],
//!   [`top_k_accuracy`], and [`log_loss`] on probabilities;
//! - **binary scores**: [`roc_curve`], [`roc_auc_score`],
//!   [`precision_recall_curve`], [`average_precision_score`];
//! - **regression**: [`mean_squared_error`], [`root_mean_squared_error`],
//!   [`mean_absolute_error`], [`mean_absolute_percentage_error`], [`r2_score`];
//! - **streaming**: every metric as an accumulator implementing
//!   [`streaming::StreamingMetric`] (`update` per batch, `result`, `reset`),
//!   whose value over any batch split equals the whole-set value;
//! - **pictures**: the confusion matrix as a text table
//!   ([`ConfusionMatrix::to_table`]) and an SVG heatmap
//!   (`confusion_matrix_svg`), the ROC curve as SVG (`roc_curve_svg`).
//!
//! Conventions: classes are `0..n_classes`, given explicitly; results are
//! `f64`; wrong input (length mismatch, label out of range, non-finite
//! value, empty input) is a [`MetricError`], never a panic and never a
//! silent NaN. Values follow scikit-learn where it defines them (see each
//! function), and its documentation examples are this crate's doctests.
//! Sizes a caller picks are bounded before anything is allocated or drawn:
//! a confusion matrix has at most [`MAX_CLASSES`] classes, a picture or
//! text table of one at most [`MAX_RENDER_CLASSES`], printed scores at
//! most [`MAX_DIGITS`] decimals; top-k needs `k` below the class count.
//!
//! ```
//! use neurite_metrics::{f1_score, Average, ConfusionMatrix};
//!
//! let (y_true, y_pred) = ([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]);
//! let cm = ConfusionMatrix::from_labels(&y_true, &y_pred, 3)?;
//! println!("{}", cm.to_table(Some(&["cat", "dog", "bird"]))?);
//! println!("{}", cm.classification_report(Some(&["cat", "dog", "bird"]))?);
//! assert!((f1_score(&y_true, &y_pred, 3, Average::Macro)? - 0.26666666666666666).abs() < 1e-12);
//! # Ok::<(), neurite_metrics::MetricError>(())
//! ```
//!
//! ## Cargo features
//!
//! | feature | gives | pulls in |
//! |---------|-------|----------|
//! | `plot` (default) | the SVG pictures: `confusion_matrix_svg`, `roc_curve_svg`, `write_*_svg`, `MAX_PICTURE_SIDE` | `plotters` |
//!
//! With `default-features = false` the crate depends on `ndarray` alone; every metric, the
//! text table and the report are still there.
//!
//! The crate re-exports [`ndarray`], and [`prelude`] holds the names most programs use.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ndarray;

mod accuracy;
mod agreement;
mod confusion;
mod error;
mod input;
mod log_loss;
mod names;
pub mod prelude;
mod prf;
mod ranking;
mod regression;
mod render;
mod report;
pub mod streaming;

pub use accuracy::{
    accuracy_score, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_accuracy,
};
pub use agreement::{cohen_kappa_score, matthews_corrcoef, KappaWeights};
pub use confusion::{confusion_matrix, ConfusionMatrix, MAX_CLASSES};
pub use error::{MetricError, Result};
pub use log_loss::{log_loss, LOG_LOSS_EPS};
pub use prf::{f1_score, fbeta_score, precision_score, recall_score, Average, ClassScores, ZeroDivision};
pub use ranking::{
    average_precision_score, precision_recall_curve, roc_auc_score, roc_curve, PrecisionRecallCurve, RocCurve,
};
pub use regression::{
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, r2_score,
    root_mean_squared_error,
};
pub use render::MAX_RENDER_CLASSES;
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub use render::{
    confusion_matrix_svg, roc_curve_svg, write_confusion_matrix_svg, write_roc_curve_svg, MAX_PICTURE_SIDE,
};
pub use report::{classification_report, ClassificationReport, MAX_DIGITS};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
