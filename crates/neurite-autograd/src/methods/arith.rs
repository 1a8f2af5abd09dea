//! Arithmetic methods on `Var` that are not operators (see [`crate::ops`]).

use crate::error::Result;
use crate::ops;
use crate::var::Var;

impl Var {
    /// [`ops::pow_scalar`]: `x ^ p` element-wise for a constant `p`
    /// (PyTorch's `pow` with a number).
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(3.0).pow_scalar(2.0)?.item()?, 9.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn pow_scalar(&self, p: f32) -> Result<Var> {
        ops::pow_scalar(self, p)
    }

    /// [`ops::pow`]: `self ^ exponent` element-wise, broadcasting.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// assert_eq!(Var::scalar(2.0).pow(&Var::scalar(3.0))?.item()?, 8.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn pow(&self, exponent: &Var) -> Result<Var> {
        ops::pow(self, exponent)
    }

    /// [`ops::maximum`]: the element-wise maximum, broadcasting.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// assert_eq!(Var::scalar(2.0).maximum(&Var::scalar(3.0))?.item()?, 3.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn maximum(&self, other: &Var) -> Result<Var> {
        ops::maximum(self, other)
    }

    /// [`ops::minimum`]: the element-wise minimum, broadcasting.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// assert_eq!(Var::scalar(2.0).minimum(&Var::scalar(3.0))?.item()?, 2.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn minimum(&self, other: &Var) -> Result<Var> {
        ops::minimum(self, other)
    }
}
