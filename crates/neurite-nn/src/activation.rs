//! Activation functions with Keras' string names and defaults.
//!
//! ```
//! use neurite_autograd::Var;
//! use neurite_nn::Activation;
//! let x = Var::from_array(ndarray::arr1(&[-1.0f32, 2.0]));
//! let y = Activation::Relu.apply(&x)?;
//! assert_eq!(y.to_tensor(), ndarray::arr1(&[0.0f32, 2.0]).into_dyn());
//! assert_eq!(Activation::from_name("leaky_relu")?, Activation::LeakyRelu);
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use neurite_autograd::{ops, Var};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Keras 3's default negative slope of `leaky_relu`.
pub const LEAKY_RELU_ALPHA: f32 = 0.2;
/// Keras' default `alpha` of `elu`.
pub const ELU_ALPHA: f32 = 1.0;

/// An element-wise (or, for softmax, per-row) activation function.
///
/// The unit variants use Keras' defaults (`Softmax` over the last axis,
/// `LeakyRelu` with slope 0.2 as Keras 3, `Elu` with alpha 1.0, `Gelu` in
/// its exact erf form as Keras' `gelu(approximate=False)`); the `*With`
/// variants carry explicit parameters.
///
/// Serialized as Keras' string names (`"relu"`); the parameterized variants
/// as an object `{"name": "leaky_relu", "alpha": 0.1}` /
/// `{"name": "softmax", "axis": 1}`. Both forms deserialize.
///
/// ```
/// use neurite_nn::Activation;
/// assert_eq!(serde_json::to_value(Activation::Softmax).unwrap(), serde_json::json!("softmax"));
/// let a: Activation = serde_json::from_value(serde_json::json!({"name": "elu", "alpha": 0.5})).unwrap();
/// assert_eq!(a, Activation::EluWith { alpha: 0.5 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// Identity (Keras' `"linear"`, also what `activation=None` means).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax over the last axis.
    Softmax,
    /// `x` for `x > 0`, `0.2 x` otherwise (Keras 3 default slope).
    LeakyRelu,
    /// `x` for `x > 0`, `e^x - 1` otherwise.
    Elu,
    /// Scaled ELU with the self-normalizing constants.
    Selu,
    /// Gaussian error linear unit.
    Gelu,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x * sigmoid(x)` (also called SiLU).
    Swish,
    /// Softmax over a chosen axis (negative counts from the end).
    SoftmaxWith {
        /// The axis, `-1` for the last.
        axis: isize,
    },
    /// Leaky ReLU with slope `alpha` for negative inputs.
    LeakyReluWith {
        /// Negative slope.
        alpha: f32,
    },
    /// ELU with factor `alpha`.
    EluWith {
        /// Scale of the negative part.
        alpha: f32,
    },
}

const NAMES: &str =
    "linear, relu, sigmoid, tanh, softmax, leaky_relu, elu, selu, gelu, softplus, swish (silu)";

impl Activation {
    /// The activation Keras names `name` (`"relu"`, `"softmax"`, `"silu"`,
    /// ...), with Keras' defaults. An error lists the known names.
    ///
    /// ```
    /// use neurite_nn::Activation;
    /// assert_eq!(Activation::from_name("silu")?, Activation::Swish);
    /// assert!(Activation::from_name("relu6x").unwrap_err().to_string().contains("relu6x"));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "linear" | "None" | "none" | "" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            "leaky_relu" => Activation::LeakyRelu,
            "elu" => Activation::Elu,
            "selu" => Activation::Selu,
            "gelu" => Activation::Gelu,
            "softplus" => Activation::Softplus,
            "swish" | "silu" => Activation::Swish,
            _ => {
                return Err(NnError::Config {
                    layer: "activation".into(),
                    message: format!("unknown activation {name:?}; known: {NAMES}"),
                })
            }
        })
    }

    /// Keras' name of the function (`"leaky_relu"` also for [`Activation::LeakyReluWith`]).
    ///
    /// ```
    /// assert_eq!(neurite_nn::Activation::Swish.name(), "swish");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax | Activation::SoftmaxWith { .. } => "softmax",
            Activation::LeakyRelu | Activation::LeakyReluWith { .. } => "leaky_relu",
            Activation::Elu | Activation::EluWith { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Swish => "swish",
        }
    }

    /// Softmax over `axis` (negative counts from the end).
    ///
    /// ```
    /// assert_eq!(neurite_nn::Activation::softmax_axis(1), neurite_nn::Activation::SoftmaxWith { axis: 1 });
    /// ```
    pub fn softmax_axis(axis: isize) -> Self {
        Activation::SoftmaxWith { axis }
    }

    /// Leaky ReLU with negative slope `alpha`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::Activation::leaky_relu(0.1), neurite_nn::Activation::LeakyReluWith { alpha: 0.1 });
    /// ```
    pub fn leaky_relu(alpha: f32) -> Self {
        Activation::LeakyReluWith { alpha }
    }

    /// ELU with factor `alpha`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::Activation::elu(0.5), neurite_nn::Activation::EluWith { alpha: 0.5 });
    /// ```
    pub fn elu(alpha: f32) -> Self {
        Activation::EluWith { alpha }
    }

    /// Whether this is the identity.
    ///
    /// ```
    /// assert!(neurite_nn::Activation::Linear.is_linear());
    /// ```
    pub fn is_linear(&self) -> bool {
        matches!(self, Activation::Linear)
    }

    /// Applies the function to `x`, recording the graph. Softmax errors when
    /// its axis is out of range for `x`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::Activation;
    /// let x = Var::from_array(ndarray::arr2(&[[0.0f32, 0.0]]));
    /// let y = Activation::Softmax.apply(&x)?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[0.5f32, 0.5]]).into_dyn());
    /// assert!(Activation::softmax_axis(3).apply(&x).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn apply(&self, x: &Var) -> Result<Var> {
        Ok(match *self {
            Activation::Linear => x.clone(),
            Activation::Relu => ops::relu(x)?,
            Activation::Sigmoid => ops::sigmoid(x)?,
            Activation::Tanh => ops::tanh(x)?,
            Activation::Softmax => ops::softmax(x, last_axis(x)?)?,
            Activation::SoftmaxWith { axis } => ops::softmax(x, resolve_axis(x, axis)?)?,
            Activation::LeakyRelu => ops::leaky_relu(x, LEAKY_RELU_ALPHA)?,
            Activation::LeakyReluWith { alpha } => ops::leaky_relu(x, alpha)?,
            Activation::Elu => ops::elu(x, ELU_ALPHA)?,
            Activation::EluWith { alpha } => ops::elu(x, alpha)?,
            Activation::Selu => ops::selu(x)?,
            Activation::Gelu => ops::gelu(x)?,
            Activation::Softplus => ops::softplus(x)?,
            Activation::Swish => ops::swish(x)?,
        })
    }
}

fn last_axis(x: &Var) -> Result<usize> {
    resolve_axis(x, -1)
}

fn resolve_axis(x: &Var, axis: isize) -> Result<usize> {
    let nd = x.ndim() as isize;
    let a = if axis < 0 { nd + axis } else { axis };
    if a < 0 || a >= nd {
        return Err(NnError::Config {
            layer: "softmax".into(),
            message: format!(
                "axis {axis} is out of range for an input of shape {:?}",
                x.shape()
            ),
        });
    }
    Ok(a as usize)
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Name(String),
    Object {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alpha: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        axis: Option<isize>,
    },
    Null(()),
}

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let repr = match *self {
            Activation::SoftmaxWith { axis } => Repr::Object {
                name: "softmax".into(),
                alpha: None,
                axis: Some(axis),
            },
            Activation::LeakyReluWith { alpha } | Activation::EluWith { alpha } => Repr::Object {
                name: self.name().into(),
                alpha: Some(alpha),
                axis: None,
            },
            _ => Repr::Name(self.name().into()),
        };
        repr.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Activation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        match Repr::deserialize(d)? {
            Repr::Null(()) => Ok(Activation::Linear),
            Repr::Name(name) => Activation::from_name(&name).map_err(D::Error::custom),
            Repr::Object { name, alpha, axis } => {
                let base = Activation::from_name(&name).map_err(D::Error::custom)?;
                Ok(match (base, alpha, axis) {
                    (Activation::Softmax, _, Some(axis)) => Activation::SoftmaxWith { axis },
                    (Activation::LeakyRelu, Some(alpha), _) => Activation::LeakyReluWith { alpha },
                    (Activation::Elu, Some(alpha), _) => Activation::EluWith { alpha },
                    (base, _, _) => base,
                })
            }
        }
    }
}
