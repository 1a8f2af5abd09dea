//! `ActivationLayer`: Keras' `Activation` layer, an activation as a layer of its own.

use super::{common_layer_methods, default_true, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::Var;
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

/// Configuration of an [`ActivationLayer`].
///
/// ```
/// let c: neurite_nn::layers::ActivationLayerConfig =
///     serde_json::from_value(serde_json::json!({"name": "a", "activation": "tanh"})).unwrap();
/// assert_eq!(c.activation, neurite_nn::Activation::Tanh);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationLayerConfig {
    /// Layer name.
    pub name: String,
    /// The function applied.
    pub activation: Activation,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl ActivationLayerConfig {
    /// Checks every field for values that can never work (a non-finite or,
    /// for leaky_relu, negative alpha; a declared input shape with a 0
    /// dimension); errors name the layer and the field. Unknown activation
    /// names are refused when the config is parsed. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// use neurite_nn::{layers::ActivationLayer, Activation};
    /// let c = ActivationLayer::new(Activation::leaky_relu(f32::NAN)).config_struct().clone();
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("activation") && e.contains("alpha"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::activation(&self.name, "activation", &self.activation)?;
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `Activation` layer (class name `"Activation"`): applies an
/// [`Activation`] to its input; the output has the input's shape.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::ActivationLayer;
/// use neurite_nn::{Activation, ForwardContext, Layer};
/// let a = ActivationLayer::new(Activation::Relu);
/// let y = a.forward(&Var::from_array(ndarray::arr2(&[[-1.0f32, 1.0]])), &mut ForwardContext::inference())?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[0.0f32, 1.0]]).into_dyn());
/// assert_eq!(a.class_name(), "Activation");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ActivationLayer {
    cfg: ActivationLayerConfig,
}

impl ActivationLayer {
    /// A layer applying `activation`, named `"activation"`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Tanh).name(), "activation");
    /// ```
    pub fn new(activation: Activation) -> Self {
        ActivationLayer {
            cfg: ActivationLayerConfig {
                name: "activation".into(),
                activation,
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::ActivationLayer;
    /// let a = ActivationLayer::new(neurite_nn::Activation::Gelu);
    /// assert_eq!(ActivationLayer::from_config(a.config_struct().clone()).config_struct(), a.config_struct());
    /// ```
    pub fn from_config(cfg: ActivationLayerConfig) -> Self {
        ActivationLayer { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// let a = neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Selu);
    /// assert_eq!(a.config_struct().activation, neurite_nn::Activation::Selu);
    /// ```
    pub fn config_struct(&self) -> &ActivationLayerConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let a = neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Relu).with_name("act");
    /// assert_eq!(a.name(), "act");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Declares the input shape (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let a = neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Relu).input_shape([3]);
    /// assert_eq!(a.declared_input_shape(), Some(vec![3]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }
}

impl ActivationLayer {
    /// No variables; the errors of `build`.
    fn param_specs(&self, _input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate().map(|_| Vec::new())
    }
}

impl Layer for ActivationLayer {
    common_layer_methods!("Activation");

    fn build(&mut self, _input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
        self.cfg.validate()
    }

    fn is_built(&self) -> bool {
        true
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        if x.ndim() == 0 {
            return Err(shape_error(&self.cfg.name, "(batch, ...)", &x.shape()));
        }
        // Errors of the activation (a softmax axis out of range) name this layer.
        self.cfg.activation.apply(x).map_err(|e| match e {
            crate::NnError::Config { layer, message } => crate::NnError::Config {
                layer: self.cfg.name.clone(),
                message: format!("{layer}: {message}"),
            },
            other => other,
        })
    }

    /// Element-wise: the input's mask passes on (Keras' `supports_masking`).
    fn supports_masking(&self) -> bool {
        true
    }

    fn parameters(&self) -> Vec<Parameter> {
        Vec::new()
    }
}
