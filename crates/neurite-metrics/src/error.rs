//! The error type shared by every metric in this crate.
//!
//! `Display` and `Error` are written by hand (no derive macro), so the crate needs no
//! proc-macro dependency.

use std::fmt;

/// Everything a caller can get wrong when computing a metric.
///
/// Every variant names the metric (`metric`) so that a message read in a
/// training log says where it came from, and carries the expected and the
/// found value where there is one.
///
/// ```
/// use neurite_metrics::{accuracy_score, MetricError};
///
/// let err = accuracy_score(&[0, 1, 1], &[0, 1]).unwrap_err();
/// assert_eq!(err, MetricError::LengthMismatch { metric: "accuracy", expected: 3, found: 2 });
/// assert_eq!(err.to_string(), "accuracy: length mismatch: y_true has 3 samples, y_pred has 2");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum MetricError {
    /// `y_true` and `y_pred` do not hold the same number of samples.
    LengthMismatch {
        /// Name of the metric that was computed.
        metric: &'static str,
        /// Number of samples in `y_true`.
        expected: usize,
        /// Number of samples in `y_pred` (or the other argument).
        found: usize,
    },
    /// An array has a shape the metric cannot interpret.
    ShapeMismatch {
        /// Name of the metric that was computed.
        metric: &'static str,
        /// Description of the accepted shapes.
        expected: String,
        /// The shape that was given, e.g. `[4, 3]`.
        found: String,
    },
    /// The input holds no sample, and the metric has no defined value then.
    Empty {
        /// Name of the metric that was computed.
        metric: &'static str,
    },
    /// A class label is not smaller than the number of classes.
    LabelOutOfRange {
        /// Name of the metric that was computed.
        metric: &'static str,
        /// The offending label.
        label: usize,
        /// The number of classes, so valid labels are `0..n_classes`.
        n_classes: usize,
    },
    /// A value is not what the metric accepts (NaN, negative label, a
    /// non-integer class index, a probability outside `[0, 1]`, ...).
    InvalidValue {
        /// Name of the metric that was computed.
        metric: &'static str,
        /// Flat (row-major) index of the value in its array.
        index: usize,
        /// The offending value.
        value: f64,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A parameter of the metric is invalid (e.g. `k = 0` for top-k accuracy).
    InvalidArgument {
        /// Name of the metric that was computed.
        metric: &'static str,
        /// Name of the argument.
        name: &'static str,
        /// What was expected.
        expected: String,
        /// What was given.
        found: String,
    },
    /// The metric is mathematically undefined on this input, e.g. ROC AUC
    /// when `y_true` holds a single class.
    Undefined {
        /// Name of the metric that was computed.
        metric: &'static str,
        /// Why it is undefined.
        reason: &'static str,
    },
    /// Drawing or writing a picture failed.
    Render {
        /// What was being drawn, e.g. `confusion matrix heatmap`.
        what: &'static str,
        /// Where it went: a file path, or `an SVG string`.
        target: String,
        /// The underlying error message.
        message: String,
    },
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricError::LengthMismatch {
                metric,
                expected,
                found,
            } => write!(
                f,
                "{metric}: length mismatch: y_true has {expected} samples, y_pred has {found}"
            ),
            MetricError::ShapeMismatch {
                metric,
                expected,
                found,
            } => write!(f, "{metric}: shape mismatch: expected {expected}, found {found}"),
            MetricError::Empty { metric } => {
                write!(f, "{metric}: empty input: at least one sample is needed")
            }
            MetricError::LabelOutOfRange {
                metric,
                label,
                n_classes,
            } => write!(
                f,
                "{metric}: label {label} out of range: expected a class index in 0..{n_classes}"
            ),
            MetricError::InvalidValue {
                metric,
                index,
                value,
                expected,
            } => write!(
                f,
                "{metric}: invalid value {value} at index {index}: expected {expected}"
            ),
            MetricError::InvalidArgument {
                metric,
                name,
                expected,
                found,
            } => write!(
                f,
                "{metric}: invalid argument `{name}`: expected {expected}, found {found}"
            ),
            MetricError::Undefined { metric, reason } => write!(f, "{metric} is undefined: {reason}"),
            MetricError::Render {
                what,
                target,
                message,
            } => write!(f, "{what}: cannot render to {target}: {message}"),
        }
    }
}

impl std::error::Error for MetricError {}

/// Shorthand for `Result<T, MetricError>`.
pub type Result<T, E = MetricError> = std::result::Result<T, E>;

impl MetricError {
    /// The same error, naming `metric` instead (a score that failed in a
    /// helper, e.g. F1 in the confusion matrix it is computed from).
    pub(crate) fn for_metric(self, metric: &'static str) -> Self {
        use MetricError::*;
        match self {
            LengthMismatch { expected, found, .. } => LengthMismatch {
                metric,
                expected,
                found,
            },
            ShapeMismatch { expected, found, .. } => ShapeMismatch {
                metric,
                expected,
                found,
            },
            Empty { .. } => Empty { metric },
            LabelOutOfRange { label, n_classes, .. } => LabelOutOfRange {
                metric,
                label,
                n_classes,
            },
            InvalidValue {
                index,
                value,
                expected,
                ..
            } => InvalidValue {
                metric,
                index,
                value,
                expected,
            },
            InvalidArgument {
                name,
                expected,
                found,
                ..
            } => InvalidArgument {
                metric,
                name,
                expected,
                found,
            },
            Undefined { reason, .. } => Undefined { metric, reason },
            render @ Render { .. } => render,
        }
    }
}
