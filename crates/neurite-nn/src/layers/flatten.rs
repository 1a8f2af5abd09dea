//! `Flatten`: `(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)`.

use super::{common_layer_methods, default_true, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

/// Configuration of a [`Flatten`] layer.
///
/// ```
/// let c: neurite_nn::layers::FlattenConfig = serde_json::from_value(serde_json::json!({"name": "f"})).unwrap();
/// assert!(c.trainable);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlattenConfig {
    /// Layer name.
    pub name: String,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl FlattenConfig {
    /// Checks every field for values that can never work (a declared input
    /// shape with a 0 dimension); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Flatten::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.input_shape = Some(vec![0]);
    /// assert!(c.validate().unwrap_err().to_string().contains("input_shape"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `Flatten`: keeps the batch axis and merges all others (a
/// `(batch,)` input becomes `(batch, 1)`, as Keras).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Flatten;
/// use neurite_nn::{ForwardContext, Layer};
/// let f = Flatten::new();
/// let y = f.forward(&Var::from_array(ndarray::Array4::<f32>::zeros((2, 3, 4, 5))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 60]);
/// assert_eq!(f.output_shape(&[3, 4, 5])?, vec![60]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Flatten {
    cfg: FlattenConfig,
}

impl Default for Flatten {
    fn default() -> Self {
        Self::new()
    }
}

impl Flatten {
    /// A `Flatten` layer named `"flatten"`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Flatten::new().name(), "flatten");
    /// ```
    pub fn new() -> Self {
        Flatten {
            cfg: FlattenConfig {
                name: "flatten".into(),
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::Flatten;
    /// let f = Flatten::new().with_name("f");
    /// assert_eq!(Flatten::from_config(f.config_struct().clone()).config_struct(), f.config_struct());
    /// ```
    pub fn from_config(cfg: FlattenConfig) -> Self {
        Flatten { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Flatten::new().config_struct().name, "flatten");
    /// ```
    pub fn config_struct(&self) -> &FlattenConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Flatten::new().with_name("f").name(), "f");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Declares the input shape (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Flatten::new().input_shape([28, 28]).declared_input_shape(), Some(vec![28, 28]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }
}

impl Flatten {
    /// No variables; the errors of `build`.
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.output_shape(input_shape).map(|_| Vec::new())
    }
}

impl Layer for Flatten {
    common_layer_methods!("Flatten");

    fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
        self.output_shape(input_shape).map(|_| ())
    }

    fn is_built(&self) -> bool {
        true
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        Ok(vec![checks::product(&self.cfg.name, "an input", input_shape)?])
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        let shape = x.shape();
        match shape.len() {
            0 => Err(shape_error(&self.cfg.name, "(batch, ...)", &shape)),
            1 => Ok(ops::reshape(x, &[shape[0], 1])?),
            2 => Ok(x.clone()),
            _ => Ok(ops::flatten(x)?),
        }
    }

    fn parameters(&self) -> Vec<Parameter> {
        Vec::new()
    }
}
