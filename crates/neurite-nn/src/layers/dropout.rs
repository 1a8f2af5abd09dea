//! `Dropout`: zeroes a random fraction of the inputs while training.

use super::builders::{builder_methods, weightless_layer_methods};
use super::relu_layers::batched;
use super::{common_layer_methods, default_true};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, ParameterShapes};
use neurite_autograd::ops;
use neurite_autograd::Var;
use serde::{Deserialize, Serialize};

/// Configuration of a [`Dropout`] layer.
///
/// ```
/// let c: neurite_nn::layers::DropoutConfig =
///     serde_json::from_value(serde_json::json!({"name": "d", "rate": 0.5})).unwrap();
/// assert_eq!(c.rate, 0.5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// Layer name.
    pub name: String,
    /// Fraction of the inputs to drop, in `[0, 1)`.
    pub rate: f32,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl DropoutConfig {
    /// Checks every field for values that can never work (a rate outside
    /// `[0, 1)` or NaN, a declared input shape with a 0 dimension); errors
    /// name the layer and the field. Run by [`crate::layer_from_config`] and
    /// by `build` (`Dropout::new(2.5)` fails there, as Keras fails at construction).
    ///
    /// ```
    /// let c = neurite_nn::layers::Dropout::new(2.5).config_struct().clone();
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("dropout") && e.contains("rate"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let r = self.rate;
        if !(0.0..1.0).contains(&r) {
            return Err(checks::field_error(&self.name, "rate", "a number in [0, 1)", r));
        }
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `Dropout`: in training passes each input is zeroed with
/// probability `rate` and the others are scaled by `1 / (1 - rate)`
/// (inverted dropout, so the expected value is unchanged); in inference
/// passes it is the identity. The mask comes from the pass's random stream
/// ([`ForwardContext::rng`]), so one seed gives the same masks.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Dropout;
/// use neurite_nn::{ForwardContext, Layer};
/// let d = Dropout::new(0.5);
/// let x = Var::from_array(ndarray::Array2::<f32>::ones((4, 8)));
/// let y = d.forward(&x, &mut ForwardContext::inference())?;
/// assert_eq!(y.to_tensor(), x.to_tensor());
/// let t = d.forward(&x, &mut ForwardContext::training(1))?;
/// assert!(t.to_tensor().iter().all(|&v| v == 0.0 || v == 2.0));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    cfg: DropoutConfig,
}

impl Dropout {
    /// A dropout layer dropping a fraction `rate` of its inputs (checked to be in `[0, 1)` when built/used).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dropout::new(0.25).rate(), 0.25);
    /// ```
    pub fn new(rate: f32) -> Self {
        Dropout {
            cfg: DropoutConfig {
                name: "dropout".into(),
                rate,
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::Dropout;
    /// let d = Dropout::new(0.1);
    /// assert_eq!(Dropout::from_config(d.config_struct().clone()).rate(), 0.1);
    /// ```
    pub fn from_config(cfg: DropoutConfig) -> Self {
        Dropout { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dropout::new(0.1).config_struct().name, "dropout");
    /// ```
    pub fn config_struct(&self) -> &DropoutConfig {
        &self.cfg
    }

    /// The drop rate.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dropout::new(0.3).rate(), 0.3);
    /// ```
    pub fn rate(&self) -> f32 {
        self.cfg.rate
    }

    builder_methods! {
        example: "Dropout::new(0.1)";
        with_name;
        /// Declares the input shape (without the batch axis).
        input_shape = "[3]";
    }

    /// No variables; the errors of `build`.
    fn param_specs(&self, _input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate().map(|_| Vec::new())
    }
}

impl Layer for Dropout {
    /// Keras' Dropout passes the input's mask on (element-wise).
    fn supports_masking(&self) -> bool {
        true
    }

    common_layer_methods!("Dropout");
    weightless_layer_methods!();

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        batched(&self.cfg.name, x)?;
        if !ctx.is_training() || self.cfg.rate == 0.0 {
            return Ok(x.clone());
        }
        Ok(ops::dropout(x, self.cfg.rate, ctx.rng())?)
    }
}
