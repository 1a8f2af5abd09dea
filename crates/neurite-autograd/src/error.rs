//! The error type of graph building and differentiation.

use neurite_tensor::TensorError;

/// What went wrong while building or differentiating a graph.
///
/// ```
/// use neurite_autograd::{ops, AutogradError, Var};
/// let e = ops::matmul(&Var::scalar(1.0), &Var::scalar(2.0)).unwrap_err();
/// assert!(matches!(e, AutogradError::Tensor(_)));
/// let e = ops::mul_scalar(&Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn()), 2.0)?.backward().unwrap_err();
/// assert_eq!(e, AutogradError::NotOneElement { what: "backward()", shape: vec![2] });
/// let e = ops::relu(&Var::scalar(1.0))?.backward().unwrap_err();
/// assert_eq!(e, AutogradError::NoParameters);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutogradError {
    /// A tensor kernel refused its inputs (shapes, axes, parameters).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward()` was called in a way that cannot work (an upstream
    /// gradient of the wrong shape, a value resized since the forward pass,
    /// an op's backward returning the wrong number or shapes of gradients,
    /// ...). The cases a program may want to tell apart have their own
    /// variants: [`AutogradError::NotOneElement`],
    /// [`AutogradError::NoParameters`], [`AutogradError::GraphConsumed`].
    #[error("backward: {0}")]
    Backward(String),
    /// `backward()` (without an explicit gradient) or `item()` was called on
    /// a value that does not hold exactly one element.
    #[error("{what} needs a one-element value, found shape {shape:?}{}", one_element_hint(.what))]
    NotOneElement {
        /// The call that needs one element: `"backward()"` or `"item()"`.
        what: &'static str,
        /// The shape of the value.
        shape: Vec<usize>,
    },
    /// `backward()` was called on a value that depends on no parameter (all
    /// inputs are constants, or it was computed under `no_grad`).
    #[error("backward: the output does not depend on any parameter (or was computed under no_grad)")]
    NoParameters,
    /// `backward()` reached an op result whose graph an earlier backward
    /// pass already consumed (there is no `retain_graph`).
    #[error(
        "backward: this graph was already consumed by an earlier backward(); run the forward pass again"
    )]
    GraphConsumed,
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

/// What to do instead, for the call named in [`AutogradError::NotOneElement`].
fn one_element_hint(what: &str) -> &'static str {
    if what.starts_with("backward") {
        "; use backward_with(gradient) for an output of another shape"
    } else {
        ""
    }
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
