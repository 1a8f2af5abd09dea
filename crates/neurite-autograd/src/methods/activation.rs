//! Activation and element-wise math methods on `Var` (see [`crate::ops`]).

use crate::error::Result;
use crate::ops;
use crate::var::Var;

impl Var {
    /// [`ops::relu`]: `max(x, 0)`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr1(&[-1.0f32, 2.0]));
    /// assert_eq!(x.relu()?.to_tensor(), ndarray::arr1(&[0.0f32, 2.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn relu(&self) -> Result<Var> {
        ops::relu(self)
    }

    /// [`ops::sigmoid`]: `1 / (1 + e^-x)`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(0.0).sigmoid()?.item()?, 0.5);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sigmoid(&self) -> Result<Var> {
        ops::sigmoid(self)
    }

    /// [`ops::tanh`]: the hyperbolic tangent.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(0.0).tanh()?.item()?, 0.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn tanh(&self) -> Result<Var> {
        ops::tanh(self)
    }

    /// [`ops::leaky_relu`]: `x` for `x > 0`, else `alpha * x`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(-2.0).leaky_relu(0.1)?.item()?, -0.2);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn leaky_relu(&self, alpha: f32) -> Result<Var> {
        ops::leaky_relu(self, alpha)
    }

    /// [`ops::elu`]: `x` for `x > 0`, else `alpha * (e^x - 1)`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(3.0).elu(1.0)?.item()?, 3.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn elu(&self, alpha: f32) -> Result<Var> {
        ops::elu(self, alpha)
    }

    /// [`ops::selu`]: scaled ELU with Keras' constants.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(0.0).selu()?.item()?, 0.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn selu(&self) -> Result<Var> {
        ops::selu(self)
    }

    /// [`ops::gelu`]: the Gaussian error linear unit.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(0.0).gelu()?.item()?, 0.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn gelu(&self) -> Result<Var> {
        ops::gelu(self)
    }

    /// [`ops::softplus`]: `ln(1 + e^x)`.
    ///
    /// ```
    /// assert!((neurite_autograd::Var::scalar(0.0).softplus()?.item()? - 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn softplus(&self) -> Result<Var> {
        ops::softplus(self)
    }

    /// [`ops::swish`]: `x * sigmoid(x)`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(0.0).swish()?.item()?, 0.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn swish(&self) -> Result<Var> {
        ops::swish(self)
    }

    /// [`ops::exp`]: `e^x`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(0.0).exp()?.item()?, 1.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn exp(&self) -> Result<Var> {
        ops::exp(self)
    }

    /// [`ops::ln`]: the natural logarithm (PyTorch's `log`).
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(1.0).ln()?.item()?, 0.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn ln(&self) -> Result<Var> {
        ops::ln(self)
    }

    /// [`ops::sqrt`]: the square root.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(9.0).sqrt()?.item()?, 3.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sqrt(&self) -> Result<Var> {
        ops::sqrt(self)
    }

    /// [`ops::abs`]: the absolute value.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(-2.0).abs()?.item()?, 2.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn abs(&self) -> Result<Var> {
        ops::abs(self)
    }

    /// [`ops::square`]: `x^2`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(-3.0).square()?.item()?, 9.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn square(&self) -> Result<Var> {
        ops::square(self)
    }

    /// [`ops::clip`]: `x` clamped to `[lo, hi]`.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(5.0).clip(0.0, 1.0)?.item()?, 1.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn clip(&self, lo: f32, hi: f32) -> Result<Var> {
        ops::clip(self, lo, hi)
    }
}
