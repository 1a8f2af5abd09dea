//! `Masking`: Keras' layer that marks timesteps equal to `mask_value` as padding.

use super::{common_layer_methods, default_true, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::mask::{self, Mask, Masked};
use ndarray::Axis;
use neurite_autograd::Var;
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

/// Configuration of a [`Masking`] layer (Keras' `get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::MaskingConfig =
///     serde_json::from_value(serde_json::json!({"name": "m"})).unwrap();
/// assert_eq!(c.mask_value, 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskingConfig {
    /// Layer name.
    pub name: String,
    /// A timestep whose features all equal this value is padding (default 0).
    #[serde(default)]
    pub mask_value: f32,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl MaskingConfig {
    /// Checks the fields: `mask_value` must not be NaN (no feature would ever
    /// equal it), and a declared input shape must be `(timesteps, features,
    /// ...)` without a 0 dimension. Errors name the layer and the field.
    ///
    /// ```
    /// let c = neurite_nn::layers::Masking::new(f32::NAN).config_struct().clone();
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("masking") && e.contains("mask_value"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.mask_value.is_nan() {
            return Err(checks::field_error(
                &self.name,
                "mask_value",
                "a number (NaN never equals a feature)",
                self.mask_value,
            ));
        }
        checks::input_shape(&self.name, &self.input_shape)?;
        if let Some(shape) = &self.input_shape {
            if shape.len() < 2 {
                return Err(shape_error(
                    &self.name,
                    "input_shape (timesteps, features, ...)",
                    shape,
                ));
            }
        }
        Ok(())
    }
}

/// Keras' `Masking(mask_value=0.0)`: on `(batch, timesteps, features...)`
/// input, a timestep is padding when every feature equals `mask_value`; the
/// output is the input with padded steps set to 0 (and no gradient there),
/// and carries the mask `any(x != mask_value, axis=-1)` (see
/// [`crate::mask`]), which recurrent layers, attention, average pooling and
/// the loss honour. An input of fewer than 3 axes is an error (it has no
/// time axis).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Masking;
/// use neurite_nn::{ForwardContext, Layer};
/// let m = Masking::new(0.0);
/// let x = Var::from_array(ndarray::arr3(&[[[1.0f32, 0.0], [0.0, 0.0], [2.0, 3.0]]]));
/// let (y, mask) = m.forward_masked(&x, None, &mut ForwardContext::inference())?;
/// assert_eq!(mask, Some(ndarray::arr2(&[[1.0f32, 0.0, 1.0]]).into_dyn()));
/// assert_eq!(y.to_tensor(), x.to_tensor());
/// assert!(m.forward(&Var::from_array(ndarray::arr2(&[[1.0f32]])), &mut ForwardContext::inference()).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Masking {
    cfg: MaskingConfig,
}

impl Masking {
    /// A masking layer for `mask_value`, named `"masking"`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Masking::new(-1.0).config_struct().mask_value, -1.0);
    /// ```
    pub fn new(mask_value: f32) -> Self {
        Masking {
            cfg: MaskingConfig {
                name: "masking".into(),
                mask_value,
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::Masking;
    /// let m = Masking::new(2.0);
    /// assert_eq!(Masking::from_config(m.config_struct().clone()).config_struct(), m.config_struct());
    /// ```
    pub fn from_config(cfg: MaskingConfig) -> Self {
        Masking { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Masking::new(0.0).config_struct().name, "masking");
    /// ```
    pub fn config_struct(&self) -> &MaskingConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Masking::new(0.0).with_name("pad").name(), "pad");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Declares the input shape (without the batch axis), `(timesteps, features)`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Masking::new(0.0).input_shape([5, 2]).declared_input_shape(), Some(vec![5, 2]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// No variables; the errors of `build` (a config error, or an input
    /// without a time axis).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        if input_shape.len() < 2 || input_shape.contains(&0) {
            return Err(shape_error(
                &self.cfg.name,
                "(timesteps, features, ...)",
                input_shape,
            ));
        }
        Ok(Vec::new())
    }

    /// The mask of a `(batch, timesteps, features...)` batch: 1 where any feature differs from `mask_value`.
    fn mask_of(&self, x: &Var) -> Result<Mask> {
        let shape = x.shape();
        if shape.len() < 3 {
            return Err(shape_error(
                &self.cfg.name,
                "(batch, timesteps, features, ...)",
                &shape,
            ));
        }
        let v = x.value();
        let (b, t) = (shape[0], shape[1]);
        let rows = v
            .to_shape((b * t, v.len() / (b * t).max(1)))
            .expect("a standard reshape of (batch, timesteps, ...)");
        let value = self.cfg.mask_value;
        let flags: Vec<f32> = rows
            .axis_iter(Axis(0))
            .map(|row| if row.iter().any(|&f| f != value) { 1.0 } else { 0.0 })
            .collect();
        Ok(Mask::from_shape_vec(vec![b, t], flags).expect("b * t flags"))
    }
}

impl Layer for Masking {
    common_layer_methods!("Masking");

    fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
        self.param_specs(input_shape).map(|_| ())
    }

    fn is_built(&self) -> bool {
        true
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.param_specs(input_shape)?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        Ok(self.forward_masked(x, None, ctx)?.0)
    }

    fn supports_masking(&self) -> bool {
        true
    }

    /// `any(x != mask_value, axis=-1)`; the incoming mask is replaced, as in Keras.
    fn compute_mask(&self, x: &Var, _mask: Option<&Mask>) -> Result<Option<Mask>> {
        self.mask_of(x).map(Some)
    }

    fn forward_masked(&self, x: &Var, _mask: Option<&Mask>, _ctx: &mut ForwardContext) -> Result<Masked> {
        self.cfg.validate()?;
        let m = self.mask_of(x)?;
        let y = mask::zero_masked_steps(x, &m)?;
        Ok((y, Some(m)))
    }

    fn parameters(&self) -> Vec<Parameter> {
        Vec::new()
    }
}
