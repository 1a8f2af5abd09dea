//! The error type of this crate.

/// Everything that can go wrong in an optimizer, a schedule or a clipper:
/// a bad hyper-parameter, a gradient or a restored state that does not fit
/// its parameter, or bytes that are not a valid optimizer state.
///
/// ```
/// use neurite_optim::{Adam, OptimError};
/// let err = Adam::new(0.001).beta_1(1.5).build().unwrap_err();
/// assert!(matches!(err, OptimError::InvalidConfig { .. }));
/// assert!(err.to_string().contains("beta_1"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A hyper-parameter is outside its valid range.
    #[error("{owner}: invalid `{key}`: {message}")]
    InvalidConfig {
        /// The optimizer, schedule or function that has the parameter.
        owner: String,
        /// The name of the hyper-parameter (Keras spelling).
        key: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A gradient or a state slot does not have the shape of its parameter.
    #[error("parameter `{parameter}`: {what} has shape {actual:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The parameter's name.
        parameter: String,
        /// What had the wrong shape (`"gradient"`, `"slot m"`, ...).
        what: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The shape found.
        actual: Vec<usize>,
    },
    /// A restored state names a parameter that is not among the parameters given.
    #[error("optimizer state has slots for unknown parameter `{0}`")]
    UnknownParameter(String),
    /// The same parameter name was given twice to one step.
    #[error("parameter name `{0}` appears more than once")]
    DuplicateParameter(String),
    /// A restored state does not fit this optimizer (unknown or missing slot,
    /// missing optimizer-level variable, ...).
    #[error("{optimizer}: invalid optimizer state: {message}")]
    InvalidState {
        /// The optimizer that rejected the state.
        optimizer: String,
        /// What is wrong.
        message: String,
    },
    /// Bytes that could not be read or written as an optimizer state.
    #[error("optimizer state serialization: {0}")]
    Serialization(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = OptimError> = std::result::Result<T, E>;

pub(crate) fn invalid(owner: &str, key: &str, message: impl Into<String>) -> OptimError {
    OptimError::InvalidConfig {
        owner: owner.to_string(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// Checks `lo <= x < hi` (or `<= hi` when `hi_inclusive`), and finiteness.
pub(crate) fn check_range(
    owner: &str,
    key: &str,
    x: f32,
    lo: f32,
    hi: f32,
    hi_inclusive: bool,
) -> Result<()> {
    let ok = x.is_finite() && x >= lo && if hi_inclusive { x <= hi } else { x < hi };
    if ok {
        Ok(())
    } else {
        let close = if hi_inclusive { ']' } else { ')' };
        Err(invalid(
            owner,
            key,
            format!("must be in [{lo}, {hi}{close}, got {x}"),
        ))
    }
}

/// Checks `x >= 0` and finite.
pub(crate) fn check_non_negative(owner: &str, key: &str, x: f32) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            owner,
            key,
            format!("must be a finite number >= 0, got {x}"),
        ))
    }
}

/// Checks `x > 0` and finite.
pub(crate) fn check_positive(owner: &str, key: &str, x: f32) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(invalid(
            owner,
            key,
            format!("must be a finite number > 0, got {x}"),
        ))
    }
}
