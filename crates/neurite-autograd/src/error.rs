//! The error type of graph building and differentiation.

use neurite_tensor::TensorError;

/// What went wrong while building or differentiating a graph.
///
/// ```
/// use neurite_autograd::{ops, AutogradError, Var};
/// let e = ops::matmul(&Var::scalar(1.0), &Var::scalar(2.0)).unwrap_err();
/// assert!(matches!(e, AutogradError::Tensor(_)));
/// let e = ops::mul_scalar(&Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn()), 2.0)?.backward().unwrap_err();
/// assert!(matches!(e, AutogradError::Backward(_)));
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
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
///
/// ```
/// fn double(x: &neurite_autograd::Var) -> neurite_autograd::Result<neurite_autograd::Var> {
///     neurite_autograd::ops::mul_scalar(x, 2.0)
/// }
/// assert_eq!(double(&neurite_autograd::Var::scalar(1.0))?.item()?, 2.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub type Result<T> = std::result::Result<T, AutogradError>;
