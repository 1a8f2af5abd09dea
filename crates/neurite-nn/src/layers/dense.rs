//! `Dense`: `activation(x · kernel + bias)` on the last axis.

use super::builders::{builder_methods, weight_methods};
use super::weighted::{check_bias, check_kernel, check_weight_fields, regularize_each, zeros};
use super::{common_layer_methods, default_true, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use serde::{Deserialize, Serialize};

/// Configuration of a [`Dense`] layer (Keras' `Dense.get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::DenseConfig = serde_json::from_value(serde_json::json!({"name": "d", "units": 3})).unwrap();
/// assert!(c.use_bias);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Number of output units.
    pub units: usize,
    /// Activation applied to the output.
    #[serde(default)]
    pub activation: Activation,
    /// Whether a bias vector is added.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Initializer of the `(in, units)` kernel (default glorot_uniform).
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Initializer of the bias (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Penalty on the kernel.
    #[serde(default)]
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    #[serde(default)]
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the layer's output.
    #[serde(default)]
    pub activity_regularizer: Option<Regularizer>,
    /// Whether the weights are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl DenseConfig {
    /// Checks every field for values that can never work (units 0, bad
    /// initializer or regularizer parameters, a declared input shape with a
    /// 0 dimension, ...); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Dense::new(3).with_name("dense_1").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.units = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("dense_1") && e.contains("units"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "units", self.units)?;
        check_weight_fields(
            n,
            &self.activation,
            &[
                ("kernel_initializer", &self.kernel_initializer),
                ("bias_initializer", &self.bias_initializer),
            ],
            &[
                ("kernel_regularizer", &self.kernel_regularizer),
                ("bias_regularizer", &self.bias_regularizer),
                ("activity_regularizer", &self.activity_regularizer),
            ],
            &self.input_shape,
        )
    }
}

/// A densely connected layer, Keras' `Dense`: `activation(x · kernel + bias)`
/// with `kernel` of shape `(in, units)`. On inputs of rank above 2 it applies
/// to the last axis (`(batch, d1, in) -> (batch, d1, units)`).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Dense;
/// use neurite_nn::{Activation, ForwardContext, Layer};
/// let mut d = Dense::new(2).activation(Activation::Relu);
/// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(d.parameters()[0].name, "dense.kernel");
/// let y = d.forward(&Var::from_array(ndarray::Array3::<f32>::ones((4, 5, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![4, 5, 2]);
/// // A wrong feature count is an error naming the layer and both shapes.
/// let err = d.forward(&Var::from_array(ndarray::Array2::<f32>::ones((4, 7))), &mut ForwardContext::inference());
/// assert!(err.unwrap_err().to_string().contains("dense"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense {
    cfg: DenseConfig,
    kernel: Option<Var>,
    bias: Option<Var>,
}

impl Dense {
    /// A `Dense` layer with `units` outputs and Keras' defaults (linear
    /// activation, bias, glorot_uniform kernel, zero bias, no regularizers).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dense::new(8).units(), 8);
    /// ```
    pub fn new(units: usize) -> Self {
        Dense {
            cfg: DenseConfig {
                name: "dense".into(),
                units,
                activation: Activation::Linear,
                use_bias: true,
                kernel_initializer: Initializer::GlorotUniform,
                bias_initializer: Initializer::Zeros,
                kernel_regularizer: None,
                bias_regularizer: None,
                activity_regularizer: None,
                trainable: true,
                input_shape: None,
            },
            kernel: None,
            bias: None,
        }
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::Dense;
    /// use neurite_nn::Layer;
    /// let d = Dense::new(3).activation(neurite_nn::Activation::Tanh);
    /// let again = Dense::from_config(d.config_struct().clone());
    /// assert_eq!(again.config(), d.config());
    /// ```
    pub fn from_config(cfg: DenseConfig) -> Self {
        Dense {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dense::new(3).config_struct().units, 3);
    /// ```
    pub fn config_struct(&self) -> &DenseConfig {
        &self.cfg
    }

    /// Number of output units.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dense::new(5).units(), 5);
    /// ```
    pub fn units(&self) -> usize {
        self.cfg.units
    }

    builder_methods! {
        example: "Dense::new(1)";
        with_name;
        activation;
        use_bias;
        /// Sets the kernel initializer.
        initializer kernel_initializer;
        /// Sets the bias initializer.
        initializer bias_initializer;
        /// Sets the kernel regularizer.
        regularizer kernel_regularizer;
        /// Sets the bias regularizer.
        regularizer bias_regularizer;
        /// Sets the activity (output) regularizer.
        regularizer activity_regularizer;
        /// Declares the input shape (without the batch axis), as Keras' `input_shape=`.
        input_shape = "[10, 5]";
    }

    /// Declares `(n,)` inputs, as Keras' `input_dim=n`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Dense::new(1).input_dim(100).declared_input_shape(), Some(vec![100]));
    /// ```
    pub fn input_dim(self, n: usize) -> Self {
        self.input_shape([n])
    }

    /// Installs `kernel` `(in, units)` and `bias` `(units,)` as the layer's
    /// variables (shared, not copied: gradients flow into the given `Var`s),
    /// marking the layer built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::Dense, ForwardContext, Layer};
    /// let mut d = Dense::new(1);
    /// d.set_weight_vars(Var::parameter(ndarray::arr2(&[[2.0f32], [3.0]]).into_dyn()),
    ///               Some(Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn())))?;
    /// let y = d.forward(&Var::from_array(ndarray::arr2(&[[1.0f32, 1.0]])), &mut ForwardContext::inference())?;
    /// assert_eq!(y.item()?, 6.0);
    /// assert!(d.set_weight_vars(Var::scalar(1.0), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let units = self.cfg.units;
        let what = format!("a kernel of shape (in, {units})");
        check_kernel(&self.cfg.name, &kernel, &[None, Some(units)], what)?;
        check_bias(&self.cfg.name, bias.as_ref(), self.cfg.use_bias, units)?;
        self.kernel = Some(kernel);
        self.bias = bias;
        Ok(())
    }

    /// The kernel, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2);
    /// assert!(d.kernel().is_none());
    /// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(d.kernel().unwrap().shape(), vec![3, 2]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn kernel(&self) -> Option<&Var> {
        self.kernel.as_ref()
    }

    /// The bias, once built (none with `use_bias(false)`).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2);
    /// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(d.bias().unwrap().shape(), vec![2]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let Some(&input_dim) = input_shape.last() else {
            return Err(shape_error(
                name,
                "(..., features) with at least one axis",
                input_shape,
            ));
        };
        if input_dim == 0 {
            return Err(shape_error(
                name,
                "(..., features) with features >= 1",
                input_shape,
            ));
        }
        let units = self.cfg.units;
        let mut vars = vec![("kernel", vec![input_dim, units])];
        if self.cfg.use_bias {
            vars.push(("bias", vec![units]));
        }
        checks::variables(name, vars)
    }

    fn in_features(&self) -> Option<usize> {
        self.kernel.as_ref().map(|k| k.shape()[0])
    }
}

impl Layer for Dense {
    /// Keras' Dense passes the input's mask on (each step is projected on its own).
    fn supports_masking(&self) -> bool {
        true
    }

    common_layer_methods!("Dense");
    weight_methods!(
        (kernel, "kernel", kernel_initializer),
        (bias, "bias", bias_initializer)
    );

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if !self.is_built() {
            // The errors build would give (0 features, no axis, bad config).
            self.param_specs(input_shape)?;
        }
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let Some(&last) = input_shape.last() else {
            return Err(shape_error(
                name,
                "(..., features) with at least one axis",
                input_shape,
            ));
        };
        if let Some(k) = self.in_features() {
            if k != last {
                return Err(shape_error(name, format!("(..., {k})"), input_shape));
            }
        }
        let mut out = input_shape.to_vec();
        *out.last_mut().expect("non-empty") = self.cfg.units;
        Ok(out)
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(name.clone()))?;
        let in_dim = kernel.shape()[0];
        let shape = x.shape();
        if shape.len() < 2 || shape[shape.len() - 1] != in_dim {
            return Err(shape_error(name, format!("(batch, ..., {in_dim})"), &shape));
        }
        let y = ops::linear(x, kernel, self.bias.as_ref(), 1)?;
        let y = self.cfg.activation.apply(&y)?;
        regularize_each(
            ctx,
            &[
                (self.cfg.kernel_regularizer, Some(kernel)),
                (self.cfg.bias_regularizer, self.bias.as_ref()),
                (self.cfg.activity_regularizer, Some(&y)),
            ],
        )?;
        Ok(y)
    }
}
