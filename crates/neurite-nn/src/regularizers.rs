//! Weight and activity regularizers (Keras' `L1`, `L2`, `L1L2`).
//!
//! A regularizer turns a tensor into a scalar penalty added to the training
//! loss: `l1 * sum(|x|) + l2 * sum(x^2)` (Keras 3 formulas, no factor 1/2).
//! Layers call [`Regularizer::penalty`] during *training* forward passes and
//! hand the result to [`crate::ForwardContext::add_loss`].
//!
//! ```
//! use neurite_autograd::Var;
//! use neurite_nn::regularizers::Regularizer;
//! let w = Var::from_array(ndarray::arr1(&[1.0f32, -2.0]));
//! let p = Regularizer::l2(0.1).penalty(&w)?;
//! assert!((p.item()? - 0.5).abs() < 1e-6);
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use neurite_autograd::{ops, Var};
use serde::{Deserialize, Serialize};

/// Keras' default regularization factor (`L1()`, `L2()`, `L1L2(l1=0.01, l2=0.01)` in `regularizers.get`).
pub const DEFAULT_FACTOR: f32 = 0.01;

/// A penalty on a tensor's magnitude.
///
/// Serialized with Keras' names: `{"l2": {"l2": 0.01}}`, `{"l1_l2": {"l1": 0.01, "l2": 0.01}}`.
///
/// ```
/// use neurite_nn::regularizers::Regularizer;
/// assert_eq!(Regularizer::default_l2(), Regularizer::L2 { l2: 0.01 });
/// let json = serde_json::to_value(Regularizer::l1(0.5)).unwrap();
/// assert_eq!(json, serde_json::json!({"l1": {"l1": 0.5}}));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Regularizer {
    /// `l1 * sum(|x|)`.
    #[serde(rename = "l1")]
    L1 {
        /// Factor.
        l1: f32,
    },
    /// `l2 * sum(x^2)`.
    #[serde(rename = "l2")]
    L2 {
        /// Factor.
        l2: f32,
    },
    /// `l1 * sum(|x|) + l2 * sum(x^2)`.
    #[serde(rename = "l1_l2")]
    L1L2 {
        /// L1 factor.
        l1: f32,
        /// L2 factor.
        l2: f32,
    },
}

impl Regularizer {
    /// `L1(l1)`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::regularizers::Regularizer::l1(0.1),
    ///            neurite_nn::regularizers::Regularizer::L1 { l1: 0.1 });
    /// ```
    pub fn l1(l1: f32) -> Self {
        Regularizer::L1 { l1 }
    }

    /// `L2(l2)`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::regularizers::Regularizer::l2(0.1),
    ///            neurite_nn::regularizers::Regularizer::L2 { l2: 0.1 });
    /// ```
    pub fn l2(l2: f32) -> Self {
        Regularizer::L2 { l2 }
    }

    /// `L1L2(l1, l2)`.
    ///
    /// ```
    /// let r = neurite_nn::regularizers::Regularizer::l1_l2(0.1, 0.2);
    /// assert_eq!(r, neurite_nn::regularizers::Regularizer::L1L2 { l1: 0.1, l2: 0.2 });
    /// ```
    pub fn l1_l2(l1: f32, l2: f32) -> Self {
        Regularizer::L1L2 { l1, l2 }
    }

    /// Keras' `"l1"` string shortcut: `L1(0.01)`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::regularizers::Regularizer::default_l1().factors(), (0.01, 0.0));
    /// ```
    pub fn default_l1() -> Self {
        Regularizer::l1(DEFAULT_FACTOR)
    }

    /// Keras' `"l2"` string shortcut: `L2(0.01)`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::regularizers::Regularizer::default_l2().factors(), (0.0, 0.01));
    /// ```
    pub fn default_l2() -> Self {
        Regularizer::l2(DEFAULT_FACTOR)
    }

    /// Keras' `"l1_l2"` string shortcut: `L1L2(0.01, 0.01)`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::regularizers::Regularizer::default_l1_l2().factors(), (0.01, 0.01));
    /// ```
    pub fn default_l1_l2() -> Self {
        Regularizer::l1_l2(DEFAULT_FACTOR, DEFAULT_FACTOR)
    }

    /// The regularizer Keras' string names: `"l1"`, `"l2"`, `"l1_l2"` (factors 0.01).
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// assert_eq!(Regularizer::from_name("l2")?, Regularizer::l2(0.01));
    /// assert!(Regularizer::from_name("l3").is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_lowercase().as_str() {
            "l1" => Ok(Self::default_l1()),
            "l2" => Ok(Self::default_l2()),
            "l1_l2" | "l1l2" => Ok(Self::default_l1_l2()),
            _ => Err(NnError::Config {
                layer: "regularizer".into(),
                message: format!("unknown regularizer {name:?}; known: l1, l2, l1_l2"),
            }),
        }
    }

    /// `(l1, l2)` factors.
    ///
    /// ```
    /// assert_eq!(neurite_nn::regularizers::Regularizer::l1_l2(0.1, 0.2).factors(), (0.1, 0.2));
    /// ```
    pub fn factors(&self) -> (f32, f32) {
        match *self {
            Regularizer::L1 { l1 } => (l1, 0.0),
            Regularizer::L2 { l2 } => (0.0, l2),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        }
    }

    /// The scalar penalty of `x`, differentiable with respect to `x`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::regularizers::Regularizer;
    /// let x = Var::from_array(ndarray::arr1(&[1.0f32, -3.0]));
    /// let p = Regularizer::l1_l2(0.1, 0.01).penalty(&x)?;
    /// assert!((p.item()? - (0.1 * 4.0 + 0.01 * 10.0)).abs() < 1e-6);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn penalty(&self, x: &Var) -> Result<Var> {
        let (l1, l2) = self.factors();
        let mut total: Option<Var> = None;
        if l1 != 0.0 {
            let term = ops::mul_scalar(&ops::sum_all(&ops::abs(x)?)?, l1)?;
            total = Some(term);
        }
        if l2 != 0.0 {
            let term = ops::mul_scalar(&ops::sum_all(&ops::mul(x, x)?)?, l2)?;
            total = Some(match total {
                Some(t) => ops::add(&t, &term)?,
                None => term,
            });
        }
        Ok(match total {
            Some(t) => t,
            None => Var::scalar(0.0),
        })
    }
}
