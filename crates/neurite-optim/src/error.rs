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
    #[error("optimizer state has slots for parameter `{0}`, which is not among the model's parameters")]
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
    /// A restored state holds a NaN or an infinity (in a slot tensor or an
    /// optimizer-level variable): training could only continue with broken
    /// weights.
    #[error("optimizer state: `{key}` holds {value} at index {index:?}, expected finite values")]
    NonFiniteState {
        /// The slot key (`"<parameter>/<slot>"`) or `"global.<name>"`.
        key: String,
        /// Index of the first non-finite element (empty for a scalar).
        index: Vec<usize>,
        /// The value found there.
        value: f32,
    },
    /// The iteration count would pass (in a step) or has passed (in a
    /// restored state) [`crate::MAX_ITERATIONS`], beyond which the step
    /// number no longer converts exactly to the `f64` the bias corrections
    /// and schedules use.
    #[error("{context}: iteration count {iterations} is beyond the limit of {limit} steps")]
    IterationLimit {
        /// The optimizer stepping, or `"optimizer state"` for a restored state.
        context: String,
        /// The count found (or that a step would reach).
        iterations: u64,
        /// [`crate::MAX_ITERATIONS`].
        limit: u64,
    },
    /// An update made a parameter (or one of its slots) NaN or infinite. The
    /// step has been applied to every parameter and counted, so the weights
    /// hold the non-finite values: restore them from a checkpoint and lower
    /// the learning rate or clip the gradients.
    #[error(
        "step {step}: parameter `{parameter}`: {what} became non-finite (NaN or infinity) \
         after the update; lower the learning rate, clip gradients or check the loss"
    )]
    NonFiniteUpdate {
        /// The parameter's name.
        parameter: String,
        /// `"weight"` or `"slot <name>"` (the slot's name).
        what: String,
        /// The 1-based step number (the iteration count after the step).
        step: u64,
    },
    /// A graph or differentiation error, met in a training loop written
    /// against this crate's [`Result`] (the optimizers themselves never
    /// return it): lets `loss.backward()?` and `opt.step(..)?` share one
    /// error type without the umbrella crate.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_optim::{OptimError, Optimizer, Sgd};
    /// fn step(w: &Var, opt: &mut Sgd) -> neurite_optim::Result<()> {
    ///     (w * 2.0)?.backward()?; // a two-element output: not a loss
    ///     opt.step(&[("w", w)])
    /// }
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    /// let err = step(&w, &mut Sgd::new(0.1)).unwrap_err();
    /// assert!(matches!(err, OptimError::Autograd(_)));
    /// ```
    #[error(transparent)]
    Autograd(#[from] neurite_autograd::AutogradError),
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

/// Checks `lo <= x < hi` (or `<= hi` when `hi_inclusive`), and finiteness,
/// in the parameter's own type (`f32` or `f64`: an `f64` is not rounded to
/// `f32` first, which would accept e.g. `-1e-50` as `-0.0`).
pub(crate) fn check_range<T>(owner: &str, key: &str, x: T, lo: T, hi: T, hi_inclusive: bool) -> Result<()>
where
    T: Copy + PartialOrd + std::fmt::Display + Into<f64>,
{
    let ok = x.into().is_finite() && x >= lo && if hi_inclusive { x <= hi } else { x < hi };
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

/// [`check_range`] on an `f64` hyper-parameter.
pub(crate) fn check_range_f64(
    owner: &str,
    key: &str,
    x: f64,
    lo: f64,
    hi: f64,
    hi_inclusive: bool,
) -> Result<()> {
    check_range(owner, key, x, lo, hi, hi_inclusive)
}

/// Checks an `f64` hyper-parameter (an epsilon) is `> 0` and finite, also
/// once rounded to the `f32` the update uses, and that this `f32` is normal:
/// `1e-50` rounds to 0, and a denormal such as `1e-40` is read as 0 while
/// denormals are flushed (as training does, see `neurite_tensor::denormals`),
/// so either divides 0 by 0 where a gradient is exactly 0.
pub(crate) fn check_positive_f64(owner: &str, key: &str, x: f64) -> Result<()> {
    let as_f32 = x as f32;
    if x.is_finite() && x > 0.0 && as_f32.is_finite() && as_f32 >= f32::MIN_POSITIVE {
        Ok(())
    } else {
        Err(invalid(
            owner,
            key,
            format!(
                "must be a finite number > 0 whose f32 is normal (at least {:e}: smaller values are \
                 flushed to 0 in training), got {x}",
                f32::MIN_POSITIVE
            ),
        ))
    }
}

/// Checks an `f64` hyper-parameter is `>= 0` and finite as an `f32`.
pub(crate) fn check_non_negative_f64(owner: &str, key: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 && (x as f32).is_finite() {
        Ok(())
    } else {
        Err(invalid(
            owner,
            key,
            format!("must be a finite number >= 0, got {x}"),
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
