//! The error type of every fallible tensor kernel.

/// What went wrong in a tensor operation: always names the operation and,
/// for shape problems, both shapes involved. It converts with `?` into
/// `neurite_autograd::AutogradError` (and from there into `NnError`,
/// `OptimError` and `neurite::Error`).
///
/// ```
/// use neurite_tensor::TensorError;
/// let e = neurite_tensor::broadcast::broadcast_shape("add", &[2, 3], &[4]).unwrap_err();
/// assert!(matches!(e, TensorError::ShapeMismatch { op: "add", .. }));
/// assert!(e.to_string().starts_with("add: incompatible shapes [2, 3] and [4]"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Two operands (or an operand and a parameter) have shapes that do not fit together.
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}: {reason}")]
    ShapeMismatch {
        /// Name of the operation, e.g. `"matmul"`.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Vec<usize>,
        /// Shape of the second operand (or the expected shape).
        rhs: Vec<usize>,
        /// What was expected.
        reason: String,
    },
    /// An argument is out of its valid range (an axis, a stride, a pool size, ...).
    #[error("{op}: {message}")]
    InvalidArgument {
        /// Name of the operation.
        op: &'static str,
        /// What was expected and what was found.
        message: String,
    },
}

impl TensorError {
    /// Shorthand for [`TensorError::ShapeMismatch`].
    ///
    /// ```
    /// use neurite_tensor::TensorError;
    /// let e = TensorError::shape("add", &[2, 3], &[4], "trailing axes must match or be 1");
    /// assert!(e.to_string().contains("add"));
    /// ```
    pub fn shape(op: &'static str, lhs: &[usize], rhs: &[usize], reason: impl Into<String>) -> Self {
        TensorError::ShapeMismatch {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`TensorError::InvalidArgument`].
    ///
    /// ```
    /// use neurite_tensor::TensorError;
    /// let e = TensorError::invalid("sum", "axis 3 out of range for rank 2");
    /// assert_eq!(e.to_string(), "sum: axis 3 out of range for rank 2");
    /// ```
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::InvalidArgument {
            op,
            message: message.into(),
        }
    }
}

/// Result of a tensor operation.
///
/// ```
/// fn rank_two(shape: &[usize]) -> neurite_tensor::Result<()> {
///     if shape.len() == 2 {
///         Ok(())
///     } else {
///         Err(neurite_tensor::TensorError::invalid("rank_two", format!("expected rank 2, found {}", shape.len())))
///     }
/// }
/// assert!(rank_two(&[2, 3]).is_ok() && rank_two(&[2]).is_err());
/// ```
pub type Result<T> = std::result::Result<T, TensorError>;
