//! The names most programs use, for one glob import: the confusion matrix, the scores, the
//! averaging choices, the streaming trait and the error type.
//!
//! ```
//! use neurite_metrics::prelude::*;
//!
//! let (y_true, y_pred) = ([0, 1, 1, 0], [0, 1, 0, 0]);
//! let cm = ConfusionMatrix::from_labels(&y_true, &y_pred, 2)?;
//! assert_eq!(cm.counts()[[1, 0]], 1);
//! assert_eq!(accuracy_score(&y_true, &y_pred)?, 0.75);
//! assert!((f1_score(&y_true, &y_pred, 2, Average::Macro)? - 0.7333333333333334).abs() < 1e-12);
//! # Ok::<(), MetricError>(())
//! ```

pub use crate::streaming::StreamingMetric;
pub use crate::{
    accuracy_score, classification_report, f1_score, mean_absolute_error, mean_squared_error,
    precision_score, r2_score, recall_score, roc_auc_score, Average, ConfusionMatrix, MetricError, Result,
};
