//! The error type of graph building and differentiation.

use neurite_tensor::TensorError;

/// What went wrong while building or differentiating a graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutogradError {
    /// A tensor kernel refused its inputs (shapes, axes, parameters).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward()` was called in a way that cannot work (non-scalar root
    /// without an explicit gradient, a graph already freed, ...).
    #[error("backward: {0}")]
    Backward(String),
    /// `gradcheck` found an analytic gradient that disagrees with finite differences.
    #[error(
        "gradcheck: input {input}, element {index}: analytic gradient {analytic} but finite differences give {numeric}"
    )]
    GradcheckFailed {
        /// Which input (position in the list given to `gradcheck`).
        input: usize,
        /// Flat (row-major) index of the element inside that input.
        index: usize,
        /// Gradient computed by `backward()`.
        analytic: f64,
        /// Gradient computed by central finite differences.
        numeric: f64,
    },
}

/// Result of an autograd operation.
pub type Result<T> = std::result::Result<T, AutogradError>;
